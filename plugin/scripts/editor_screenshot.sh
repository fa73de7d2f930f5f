#!/usr/bin/env bash
# Editor screenshot of the standalone under Xvfb (apt-get install xvfb xdotool imagemagick).
# Usage: plugin/scripts/editor_screenshot.sh path/to/tailor-reverb out.png [preset.json [reference.wav]]
# Types the preset path and the reference IR path into the editor (coordinates of the default
# 980×900 layout; short paths type most reliably, e.g. copies in /tmp) so that the
# FDN-vs-reference panels are filled, then captures the root window. docs/plugin-editor.png is
# the fitted meeting room (data/presets/fitted/meetingroom_fit.json) against the measured IR.
set -euo pipefail
bin="$1"; out="$2"; preset="${3:-}"; ref="${4:-}"
disp=":$((90 + RANDOM % 9))"
Xvfb "$disp" -screen 0 980x900x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 2
DISPLAY="$disp" LIBGL_ALWAYS_SOFTWARE=1 "$bin" --backend dummy >/tmp/tailor-standalone.log 2>&1 &
app=$!
sleep 15
type_into() { # x y text button_x
  DISPLAY="$disp" xdotool mousemove "$1" "$2" click 1
  sleep 1
  DISPLAY="$disp" xdotool type --delay 60 "$3"
  sleep 1
  # The loader may be busy with the previous request: click twice, a while apart.
  DISPLAY="$disp" xdotool mousemove "$4" "$2" click 1
  sleep 10
  DISPLAY="$disp" xdotool mousemove "$4" "$2" click 1
  sleep 15
}
[ -n "$preset" ] && type_into "${PRESET_X:-350}" "${PRESET_Y:-107}" "$preset" "${LOAD_X:-676}"
[ -n "$ref" ] && type_into "${REF_X:-360}" "${REF_Y:-130}" "$ref" "${SET_X:-666}"
DISPLAY="$disp" xdotool mousemove 900 40
sleep 2
DISPLAY="$disp" import -window root "$out"
echo "wrote $out"
