#!/usr/bin/env bash
# VST3 host check: Ardour 7 (Debian: apt-get install ardour jackd2) hosts the bundled
# "Tailor Reverb.vst3" on a headless JACK dummy server. Usage: tests/vst3/run_ardour_check.sh
# [path/to/Tailor Reverb.vst3] (default: $CARGO_TARGET_DIR or target, bundled/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bundle="${1:-${CARGO_TARGET_DIR:-$here/../../target}/bundled/Tailor Reverb.vst3}"
[ -d "$bundle" ] || { echo "missing VST3 bundle: $bundle (run cargo xtask bundle tailor-plugin --release)"; exit 2; }
command -v ardour7-lua >/dev/null || { echo "ardour7-lua missing (apt-get install ardour jackd2)"; exit 2; }
work="$(mktemp -d)"
trap 'kill $jack 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/home/.vst3"
cp -r "$bundle" "$work/home/.vst3/"
export HOME="$work/home" JACK_DEFAULT_SERVER="tailor-check-$$"
jackd -n "$JACK_DEFAULT_SERVER" -d dummy -r 48000 -p 128 >"$work/jack.log" 2>&1 &
jack=$!
sleep 2
TAILOR_SESSION_DIR="$work/session" timeout 300 ardour7-lua "$here/ardour_check.lua" 2>&1 | tee "$work/out.log"
grep -q "VST3 CHECK PASSED" "$work/out.log"
