#!/bin/bash
# Match and Identify latency over gRPC on loopback (bench/match_latency.py, an
# independent Python grpcio client) at concurrency 1, 8 and 32, for the
# default float32 model and, when given, a packed low-bit model served on the
# integer engine. Starts its own server on free ports with a fresh data dir.
# Usage: bench/serving_latency.sh [STUDENT.qfp]   (repository root, after a build)
set -eu
cd "$(dirname "$0")/.."
B=${BENCH_DIR:-/tmp/qf-serving-bench}
rm -rf "$B" && mkdir -p "$B"
build/server/quantface-server --grpc-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 \
  --data-dir "$B/var" --asset-dir .cache/assets --port-file "$B/ports.json" > "$B/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER; wait $SERVER' EXIT
for _ in $(seq 150); do [ -s "$B/ports.json" ] && break; sleep 0.2; done
PORT=$(/usr/bin/python3 -c "import json;print(json.load(open('$B/ports.json'))['grpc_port'])")
MODELS="models/dlib-resnet"
if [ $# -ge 1 ]; then
  build/client/quantface --server 127.0.0.1:$PORT model upload "$1" --id latency-student > /dev/null
  MODELS="$MODELS models/latency-student"
fi
echo "uptime: $(uptime)"
for model in $MODELS; do
  for rpc in match identify; do
    # Warm-up: first calls pay model loading and kernel set-up.
    /usr/bin/python3 bench/match_latency.py --server 127.0.0.1:$PORT --lfw ../shared/data/lfw \
      --model $model --rpc $rpc --concurrency 4 --requests 40 > /dev/null
    for c in 1 8 32; do
      echo "== $model $rpc concurrency $c"
      /usr/bin/python3 bench/match_latency.py --server 127.0.0.1:$PORT --lfw ../shared/data/lfw \
        --model $model --rpc $rpc --concurrency $c --requests 200 --seconds 30
    done
  done
done
