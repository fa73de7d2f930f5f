#!/usr/bin/env bash
# Editor screenshot of the standalone under Xvfb (apt-get install xvfb xdotool imagemagick).
# Usage: plugin/scripts/editor_screenshot.sh path/to/tailor-reverb out.png [reference.wav]
# Types the reference IR path into the editor (coordinates of the default 980×700 layout) so
# that the FDN-vs-reference panels are filled, then captures the root window.
set -euo pipefail
bin="$1"; out="$2"; ref="${3:-}"
disp=":$((90 + RANDOM % 9))"
Xvfb "$disp" -screen 0 980x700x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 2
DISPLAY="$disp" LIBGL_ALWAYS_SOFTWARE=1 "$bin" --backend dummy >/tmp/tailor-standalone.log 2>&1 &
app=$!
sleep 8
if [ -n "$ref" ]; then
  DISPLAY="$disp" xdotool mousemove "${REF_X:-360}" "${REF_Y:-112}" click 1
  sleep 0.5
  DISPLAY="$disp" xdotool type --delay 5 "$ref"
  DISPLAY="$disp" xdotool mousemove "${SET_X:-666}" "${SET_Y:-112}" click 1
  sleep 10
fi
DISPLAY="$disp" import -window root "$out"
echo "wrote $out"
