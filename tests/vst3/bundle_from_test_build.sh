#!/usr/bin/env bash
# Assembles "Tailor Reverb.vst3" from the plugin library that `cargo test --workspace` (make test)
# already built, so CI's VST3 host check compiles nothing more. On Linux this is all
# `cargo xtask bundle tailor-plugin` does: Contents/x86_64-linux/<name>.so inside the bundle folder.
# Usage: tests/vst3/bundle_from_test_build.sh [OUT_DIR]   (default: $CARGO_TARGET_DIR/bundled)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../target}"
out="${1:-$target/bundled}"
lib=""
for p in "$target/debug/libtailor_plugin.so" "$target/debug/deps/libtailor_plugin.so"; do
  [ -f "$p" ] && { lib="$p"; break; }
done
[ -n "$lib" ] || { echo "libtailor_plugin.so not found under $target/debug (run make test first)"; exit 2; }
bundle="$out/Tailor Reverb.vst3"
rm -rf "$bundle"
mkdir -p "$bundle/Contents/x86_64-linux"
cp "$lib" "$bundle/Contents/x86_64-linux/Tailor Reverb.so"
echo "$bundle"
