#!/usr/bin/env bash
# README command 1: installs everything, builds, and runs quantface-server on
# its embedded defaults (gRPC :50051, /metrics :9464, data under ./var).
# Extra arguments go to the server, e.g. scripts/run.sh --log-level=debug
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/fetch_assets.sh"
"$root/scripts/build.sh"
cd "$root"
exec "${QF_BUILD_DIR:-$root/build}/server/quantface-server" "$@"
