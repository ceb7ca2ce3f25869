#!/usr/bin/env bash
# Builds bench/gpu/qat_cuda_check against the GPU machine's CUDA LibTorch
# (from its Python torch) and runs it on CUDA, then briefly on the CPU of the
# same machine for comparison. Abseil and nlohmann-json headers/libraries and
# the dlib-resnet weights travel in $CARRY (made by bench/gpu/prepare_carry.sh),
# since that machine has no Debian packages and no network.
# Output: JSON lines on stdout, and $OUT/qat_cuda_check.log when $OUT is set.
set -euo pipefail
carry=${CARRY:-.device-carry}
torch_dir=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
abi=$(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
sources=(
  bench/gpu/qat_cuda_check.cc
  core/nn/dlib_resnet.cc core/nn/tfjs_weights.cc core/nn/input_spec.cc
  core/quant/distiller.cc core/quant/fake_quant_hooks.cc core/quant/affine.cc
  core/quant/activation_quantizer.cc core/quant/quant_bits.cc
  core/synth/noise_source.cc
)
[ -f core/nn/layer_hooks.cc ] && sources+=(core/nn/layer_hooks.cc)
mkdir -p /tmp/qfgpu
flags=(-std=c++17 -O2 -D_GLIBCXX_USE_CXX11_ABI="$abi" -I. -isystem "$carry/include"
  -isystem "$torch_dir/include" -isystem "$torch_dir/include/torch/csrc/api/include")
# One compiler per source file, all at once: the machine has 16 cores.
for src in "${sources[@]}"; do
  g++ "${flags[@]}" -c "$src" -o "/tmp/qfgpu/$(echo "$src" | tr / _).o" 2>&1 | head -30 &
done
wait
g++ /tmp/qfgpu/*.o -o /tmp/qfgpu/qat_cuda_check \
  -L"$torch_dir/lib" -Wl,-rpath,"$torch_dir/lib" -L"$carry/lib" -Wl,-rpath,"$PWD/$carry/lib" \
  -Wl,--no-as-needed -ltorch -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 -Wl,--as-needed \
  $(cd "$carry/lib" && ls libabsl_*.so | sed 's/^lib/-l/; s/\.so$//' | tr '\n' ' ')
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
log=${OUT:-/tmp}/qat_cuda_check.log
{
  /tmp/qfgpu/qat_cuda_check --asset-dir "$carry/assets" --device cuda --steps 20 --batch-size 32
  /tmp/qfgpu/qat_cuda_check --asset-dir "$carry/assets" --device cuda --steps 300 --batch-size 32
  /tmp/qfgpu/qat_cuda_check --asset-dir "$carry/assets" --device cuda --steps 300 --batch-size 128
  /tmp/qfgpu/qat_cuda_check --asset-dir "$carry/assets" --device cpu --steps 10 --batch-size 32 --threads 16
} 2>&1 | tee "$log"
