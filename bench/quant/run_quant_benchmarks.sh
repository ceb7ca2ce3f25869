#!/usr/bin/env bash
# The quantization benchmarks of issue 4 on the CPU: LFW accuracy / TAR of
# teacher, PTQ and QAT (noise and built-in synthetic data), cross-model, file
# sizes and integer-inference speed. Usage:
#   bench/quant/run_quant_benchmarks.sh BUILD_DIR OUT_DIR [TEACHER] [BITS...]
# Each job's report is OUT_DIR/<teacher>-<bits>-<method>-<source>.json, its
# model .qfp and its terminal output .log. Generated synthetic sets and the
# teacher's LFW embeddings are cached in .cache/synthetic and reused.
set -euo pipefail
build=${1:?build dir}
out=${2:?output dir}
teacher=${3:-dlib-resnet}
shift $(( $# > 3 ? 3 : $# ))
bits_list=("$@")
[ ${#bits_list[@]} -gt 0 ] || bits_list=(w8a8 w4a4)
lfw=${QF_LFW_DIR:-../shared/data/lfw}
threads=${QF_THREADS:-2}
steps=${QF_QAT_STEPS:-300}
mkdir -p "$out"
run() {  # name, flags...
  local name=$1
  shift
  /usr/bin/time -f "%e s wall, %M KiB max RSS" "$build/bench/quant/quant_bench" quantize \
    --teacher "$teacher" --threads "$threads" --eval-lfw "$lfw" \
    --out "$out/$name.qfp" --report "$out/$name.json" "$@" 2>&1 | tee "$out/$name.log"
}
for bits in "${bits_list[@]}"; do
  run "$teacher-$bits-ptq-noise" --bits "$bits" --method ptq --source noise
  run "$teacher-$bits-ptq-builtin" --bits "$bits" --method ptq --source builtin
  run "$teacher-$bits-qat-noise" --bits "$bits" --method qat --source noise --steps "$steps"
  run "$teacher-$bits-qat-builtin" --bits "$bits" --method qat --source builtin --steps "$steps"
  "$build/bench/quant/quant_bench" speed --model "$out/$teacher-$bits-qat-builtin.qfp" \
    --threads "$threads" | tee "$out/$teacher-$bits-speed.log"
done
