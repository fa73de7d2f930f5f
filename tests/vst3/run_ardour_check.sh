#!/usr/bin/env bash
# VST3 load check with Ardour 7's VST3 scanner (Debian: apt-get install ardour): the scanner
# dlopens the bundle, instantiates the factory and indexes the class and its buses.
# Usage: tests/vst3/run_ardour_check.sh [path/to/Tailor Reverb.vst3]
# (default: ${CARGO_TARGET_DIR:-target}/bundled/Tailor Reverb.vst3). Exit 0 when Ardour finds
# "Tailor Reverb" with a stereo main input and output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bundle="${1:-${CARGO_TARGET_DIR:-$here/../../target}/bundled/Tailor Reverb.vst3}"
[ -d "$bundle" ] || { echo "missing VST3 bundle: $bundle (cargo xtask bundle tailor-plugin --release)"; exit 2; }
scanner=/usr/lib/ardour7/ardour-vst3-scanner
[ -x "$scanner" ] || { echo "$scanner missing (apt-get install ardour)"; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home/.vst3"
cp -r "$bundle" "$work/home/.vst3/"
HOME="$work/home" LD_LIBRARY_PATH=/usr/lib/ardour7 timeout 120 "$scanner" -f -v \
  "$work/home/.vst3/$(basename "$bundle")" 2>&1 | tee "$work/scan.log"
grep -q "Found Plugin: Tailor Reverb" "$work/scan.log"
grep -q 'name="Tailor Reverb"' "$work/scan.log"
grep -q 'n_inputs="2" n_outputs="2"' "$work/scan.log"
echo "VST3 SCAN PASSED"
