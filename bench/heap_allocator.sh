#!/bin/bash
# glibc's malloc against the tcmalloc that every binary links
# (core/util/heap_allocator.h), same binaries, same run: float32 embeddings/s of
# the built-in models at batch 1 and 32 (bench/embedding_throughput), and the
# wall time and peak resident memory of a short faceres w4a4 QAT on noise
# (quant_bench quantize; noise so that nothing needs generating first).
# The glibc rows preload libc.so.6, which puts glibc's malloc ahead of tcmalloc
# in the dynamic linker's symbol lookup. MODELS (packed students) adds
# `quant_bench speed` for each: float32 against integer at batch 1 and 32.
# Usage: [REPEATS=5] [STEPS=20] [MODELS="a.qfp b.qfp"] bench/heap_allocator.sh   (repository root, after a build)
set -eu
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-5}
STEPS=${STEPS:-20}
GLIBC=$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ {print $NF; exit}')
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for alloc in glibc tcmalloc; do
  preload=""
  [ "$alloc" = glibc ] && preload=$GLIBC
  echo "## $alloc"
  LD_PRELOAD=$preload /usr/bin/time -f "peak RSS %M KiB, %e s wall" \
    build/bench/embedding_throughput --repeats "$REPEATS"
  LD_PRELOAD=$preload /usr/bin/time -o "$OUT/time" -f "faceres w4a4 QAT, $STEPS steps: peak RSS %M KiB, %e s wall" \
    build/bench/quant/quant_bench quantize --teacher faceres --bits w4a4 --method qat --source noise \
    --steps "$STEPS" --batch-size 16 --warmup-steps 10 --keep-first-last-8bit --threads 2 \
    --out "$OUT/m.qfp" --report "$OUT/r.json" > "$OUT/log" 2>&1
  cat "$OUT/time"
  for model in ${MODELS:-}; do
    echo "### $model"
    LD_PRELOAD=$preload build/bench/quant/quant_bench speed --model "$model" --threads 2 --rounds 5
  done
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('training seconds: %.1f' % r['training']['seconds'])" "$OUT/r.json"
done
