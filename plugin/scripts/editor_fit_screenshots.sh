#!/usr/bin/env bash
# Screenshots of a room fit in the standalone's editor under Xvfb (apt-get install xvfb xdotool
# imagemagick). Usage:
#   plugin/scripts/editor_fit_screenshots.sh path/to/tailor-reverb ROOM.wav OUT_PREFIX
# Types ROOM.wav into "Room IR to fit" (coordinates of the default 980×900 layout; a short path
# types most reliably, e.g. a copy in /tmp), presses "Fit room", captures OUT_PREFIX-progress.png
# while the fit runs and OUT_PREFIX-done.png once it has finished (docs/plugin-fit-*.png).
set -euo pipefail
bin="$1"; room="$2"; prefix="$3"
disp=":$((90 + RANDOM % 9))"
Xvfb "$disp" -screen 0 980x900x24 >/dev/null 2>&1 &
xvfb=$!
app=""
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 2
DISPLAY="$disp" LIBGL_ALWAYS_SOFTWARE=1 "$bin" --backend dummy >/tmp/tailor-standalone.log 2>&1 &
app=$!
sleep 15
DISPLAY="$disp" xdotool mousemove "${FIELD_X:-360}" "${FIT_Y:-84}" click 1
sleep 1
DISPLAY="$disp" xdotool type --delay 60 "$room"
sleep 1
DISPLAY="$disp" xdotool mousemove "${BUTTON_X:-688}" "${FIT_Y:-84}" click 1
sleep "${PROGRESS_AFTER_S:-2}"
DISPLAY="$disp" xdotool mousemove 900 40
DISPLAY="$disp" import -window root "$prefix-progress.png"
echo "wrote $prefix-progress.png"
sleep "${DONE_AFTER_S:-40}"
DISPLAY="$disp" import -window root "$prefix-done.png"
echo "wrote $prefix-done.png"
