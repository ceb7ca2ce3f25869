#!/usr/bin/env bash
# Gathers what bench/gpu/run_on_device.sh needs on a machine without Debian's
# packages: Debian's Abseil and nlohmann-json headers and Abseil's shared
# libraries, and the dlib-resnet weights. Into .device-carry/ (git-ignored).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
carry=$root/.device-carry
rm -rf "$carry"
mkdir -p "$carry/include" "$carry/lib" "$carry/assets"
cp -r /usr/include/absl /usr/include/nlohmann "$carry/include/"
for lib in /usr/lib/x86_64-linux-gnu/libabsl_*.so.20220623.0.0; do
  name=$(basename "$lib" .20220623.0.0)      # libabsl_x.so
  cp "$lib" "$carry/lib/$name.20220623"       # the SONAME the libraries ask for
  ln -s "$name.20220623" "$carry/lib/$name"   # what -l finds
done
cp -r "${QF_ASSET_DIR:-$root/.cache/assets}/dlib-resnet" "$carry/assets/"
du -sh "$carry"
