#!/bin/bash
# Micro-batching off vs on: Match and Identify latency and throughput over gRPC
# on loopback (bench/match_latency.py, an independent Python grpcio client) at
# concurrency 1, 8 and 32. Starts two servers on free ports with fresh data
# dirs, one with micro_batch_max_wait_us=0 (off) and one with $WAIT_US
# (default 2000), and alternates between them for each measurement so both see
# the same background load. Both run with OMP_WAIT_POLICY=passive (override
# by setting it): with libgomp's default spinning, the model's OpenMP workers
# spin after every forward and a micro-batched server, whose callers hand
# off to one runner thread, lost 3x throughput on this 2-core machine.
# FLIP=1 makes every face mirror-averaged (match_latency.py --flip): two images
# per face in each forward.
# Usage: [WAIT_US=2000] [REQUESTS=200] [FLIP=1] bench/micro_batch_latency.sh   (repository root, after a build)
set -eu
cd "$(dirname "$0")/.."
B=${BENCH_DIR:-/tmp/qf-micro-batch-bench}
WAIT_US=${WAIT_US:-2000}
REQUESTS=${REQUESTS:-200}
FLIP_ARG=()
[ "${FLIP:-0}" = 1 ] && FLIP_ARG=(--flip)
rm -rf "$B" && mkdir -p "$B"
PIDS=()
trap 'kill ${PIDS[*]} 2>/dev/null; wait' EXIT
declare -A PORT
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
for wait_us in 0 "$WAIT_US"; do
  build/server/quantface-server --grpc-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 \
    --data-dir "$B/var$wait_us" --asset-dir .cache/assets --port-file "$B/ports$wait_us.json" \
    --micro-batch-max-wait-us "$wait_us" > "$B/server$wait_us.log" 2>&1 &
  PIDS+=($!)
done
for wait_us in 0 "$WAIT_US"; do
  for _ in $(seq 150); do [ -s "$B/ports$wait_us.json" ] && break; sleep 0.2; done
  PORT[$wait_us]=$(/usr/bin/python3 -c "import json;print(json.load(open('$B/ports$wait_us.json'))['grpc_port'])")
done
echo "uptime: $(uptime); OMP_WAIT_POLICY=$OMP_WAIT_POLICY; FLIP=${FLIP:-0}"
for rpc in match identify; do
  for wait_us in 0 "$WAIT_US"; do
    # Warm-up: first calls pay model loading and kernel set-up.
    /usr/bin/python3 bench/match_latency.py --server 127.0.0.1:${PORT[$wait_us]} \
      --lfw ../shared/data/lfw --rpc $rpc --concurrency 4 --requests 40 "${FLIP_ARG[@]}" > /dev/null
  done
  for c in 1 8 32; do
    for wait_us in 0 "$WAIT_US"; do
      echo -n "micro_batch_max_wait_us=$wait_us "
      /usr/bin/python3 bench/match_latency.py --server 127.0.0.1:${PORT[$wait_us]} \
        --lfw ../shared/data/lfw --rpc $rpc --concurrency $c --requests "$REQUESTS" --seconds 60 "${FLIP_ARG[@]}"
    done
  done
done
# Faces per forward pass on the batching server, all calls above included.
echo "batching server: $(curl -s "http://127.0.0.1:$(/usr/bin/python3 -c "import json;print(json.load(open('$B/ports$WAIT_US.json'))['metrics_port'])")/metrics" \
  | grep -E '^quantface_embed_batch_size_(sum|count)' | tr '\n' ' ')"
