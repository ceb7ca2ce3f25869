#!/usr/bin/env bash
# Installs every Debian package that QuantFace Service needs to build, run and
# test. Idempotent; run as root (or it re-executes itself through sudo).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E "$0" "$@"
fi

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang-format ca-certificates
  # numerics
  libtorch-dev libopenblas0-pthread libopenblas-dev libfaiss-dev
  # malloc for every binary (tcmalloc; see core/util/heap_allocator.h)
  libgoogle-perftools-dev
  # images
  libopencv-dev
  # RPC
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # service plumbing
  prometheus-cpp-dev libsqlite3-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libyaml-cpp-dev
  # face detection and landmarks (dlib HOG + 68-point shape predictor)
  libdlib-dev libdlib-data
  # tests
  libgtest-dev libgmock-dev python3 python3-grpcio python3-grpc-tools
  python3-protobuf python3-numpy python3-torch prometheus curl
)
# Model assets ship inside npm packages. Node's own distribution of nodejs
# bundles npm and conflicts with Debian's npm package, so only ask for Debian's
# when no npm is on the PATH.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "setup: all ${#packages[@]} packages present"
