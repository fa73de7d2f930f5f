#!/usr/bin/env bash
# VST3 host check: Spotify's pedalboard (PyPI; JUCE's VST3 hosting) loads the Tailor Reverb bundle,
# lists its parameters and renders noise + silence through it (tests/vst3/pedalboard_check.py).
# Usage: tests/vst3/run_host_check.sh [path/to/Tailor Reverb.vst3]
# (default: ${CARGO_TARGET_DIR:-target}/bundled/Tailor Reverb.vst3; build it with
# `cargo xtask bundle tailor-plugin`). Needs python3 with venv and network access to PyPI the first
# time; the venv lives in ${TAILOR_VST3_VENV:-$HOME/.cache/tailor-vst3-venv} and is reused.
# Exit 0 and "VST3 HOST CHECK PASSED" when every check holds; non-zero otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bundle="${1:-${CARGO_TARGET_DIR:-$here/../../target}/bundled/Tailor Reverb.vst3}"
[ -d "$bundle" ] || { echo "missing VST3 bundle: $bundle (cargo xtask bundle tailor-plugin)" >&2; exit 2; }
so="$bundle/Contents/x86_64-linux/$(basename "$bundle" .vst3).so"
[ "$(uname -m)" != x86_64 ] || [ -f "$so" ] || { echo "VST3 bundle without its library: $so" >&2; exit 2; }

venv="${TAILOR_VST3_VENV:-$HOME/.cache/tailor-vst3-venv}"
# Versions known to work; pedalboard ships manylinux wheels with JUCE's VST3 host built in.
reqs="pedalboard==0.9.26 numpy==2.4.6"
if ! "$venv/bin/python" -c 'import pedalboard, numpy' >/dev/null 2>&1 \
  || [ "$(cat "$venv/.tailor-reqs" 2>/dev/null)" != "$reqs" ]; then
  command -v python3 >/dev/null || { echo "python3 missing (apt-get install python3-venv)" >&2; exit 2; }
  python3 -m venv "$venv" || { echo "python3 -m venv failed (apt-get install python3-venv)" >&2; exit 2; }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check $reqs
  echo "$reqs" >"$venv/.tailor-reqs"
fi

set +e
timeout 300 "$venv/bin/python" "$here/pedalboard_check.py" "$bundle"
rc=$?
set -e
if [ "$rc" -ge 124 ]; then
  # 124: timeout; 134: SIGABRT, which nice-plug's assert_process_allocs raises (debug builds) when
  # the plugin allocates inside process(); its message names the allocation site above.
  echo "VST3 HOST CHECK FAILED: the host process ended with status $rc (124 timeout, 134 abort:" \
    "see assert_process_allocs output above, 139 segfault)" >&2
fi
exit "$rc"
