#!/bin/bash
# Match latency (bench/match_latency.py) without and with a running quantization
# job, the wall time of a tiny job (3 QAT steps, batch 2, CLI submit --watch)
# and of a CancelJob on a running job. Starts its own server on free ports.
# Usage: bench/job_serving_latency.sh   (from the repository root, after a build)
set -u
cd "$(dirname "$0")/.."
B=${BENCH_DIR:-/tmp/qfjobs-bench}
mkdir -p $B
rm -rf $B/var $B/ports.json
build/server/quantface-server --grpc-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 \
  --data-dir $B/var --asset-dir .cache/assets --port-file $B/ports.json > $B/server.log 2>&1 &
SERVER=$!
for i in $(seq 100); do [ -s $B/ports.json ] && break; sleep 0.2; done
PORT=$(/usr/bin/python3 -c "import json;print(json.load(open('$B/ports.json'))['grpc_port'])")
CLI="build/client/quantface --server 127.0.0.1:$PORT"
echo "== uptime"; uptime
echo "== baseline (no job)"
/usr/bin/python3 bench/match_latency.py --server 127.0.0.1:$PORT --lfw ../shared/data/lfw --requests 150 --concurrency 1
echo "== tiny job wall time"
/usr/bin/time -f "tiny job wall %e s" $CLI job submit --teacher dlib-resnet --bits w8a8 --source noise --steps 3 --batch-size 2 --warmup-steps 1 --device cpu --watch > $B/tiny.out 2>&1
tail -1 $B/tiny.out
echo "== with a running job (QAT w4a4 on noise, batch 16)"
JOB=$($CLI --json job submit --teacher dlib-resnet --bits w4a4 --source noise --steps 100000 --batch-size 16 --device cpu | python3 -c "import json,sys;print(json.load(sys.stdin)['name'])")
for i in $(seq 300); do $CLI --json job get $JOB | grep -q '"step"' && break; sleep 0.5; done
/usr/bin/python3 bench/match_latency.py --server 127.0.0.1:$PORT --lfw ../shared/data/lfw --requests 150 --concurrency 1
$CLI --json job get $JOB | python3 -c "import json,sys;p=json.load(sys.stdin)['progress'];print('job progress', p)"
echo "== cancel"
/usr/bin/time -f "cancel wall %e s" $CLI --json job cancel $JOB | python3 -c "import json,sys;print('state', json.load(sys.stdin)['state'])"
echo "== baseline again (no job)"
/usr/bin/python3 bench/match_latency.py --server 127.0.0.1:$PORT --lfw ../shared/data/lfw --requests 150 --concurrency 1
echo "== uptime"; uptime
kill $SERVER; wait $SERVER
