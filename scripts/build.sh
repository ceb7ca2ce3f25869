#!/usr/bin/env bash
# Configures and builds QuantFace Service in Release mode into build/.
# Usage: scripts/build.sh [extra cmake args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${QF_BUILD_DIR:-$root/build}
jobs=${QF_BUILD_JOBS:-$(nproc)}
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" -j "$jobs"
