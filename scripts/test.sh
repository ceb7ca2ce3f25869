#!/usr/bin/env bash
# README command 2 (and what .ci/run calls): installs everything, builds, and
# runs the whole test suite with CTest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/fetch_assets.sh"
# The TF.js reference runtime (pure JavaScript, pinned by package-lock.json)
# that the model parity tests compare our ports against.
(cd "$root/tools/tfjs-reference" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
"$root/scripts/build.sh"
cd "${QF_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)" --timeout 900
