#!/usr/bin/env bash
# Installs what layerkit's build, tests and main job need on a fresh Debian 12 machine, and nothing twice:
#   JDK 17 + Maven       build and run (present on most machines already)
#   ocl-icd-opencl-dev   the unversioned libOpenCL.so that JOCL loads (the ICD loader)
#   pocl-opencl-icd      an OpenCL implementation for the CPU, so the OpenCL backend is tested everywhere
#   libopenblas0-pthread libblas.so.3, the native GEMM the CPU backend calls through JNI
#   python3-numpy        the independent reference the conformance kit's own tests compare against
#   python3-onnx         the ONNX project's checker, which the ONNX export's tests run on the exported files
#   dataset-fashion-mnist  the real data the main job trains on (/usr/share/datasets/fashion-mnist)
# Usage: scripts/setup.sh            (everything)
#        scripts/setup.sh --no-data  (skip the data set, e.g. for the tests alone)
set -euo pipefail

want=(openjdk-17-jdk-headless maven ocl-icd-opencl-dev pocl-opencl-icd clinfo libopenblas0-pthread python3-numpy
      python3-onnx)
if [ "${1:-}" != "--no-data" ]; then
  want+=(dataset-fashion-mnist)
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # a JDK or Maven that came some other way is good enough
    case "$p" in
      openjdk-17-jdk-headless) command -v javac >/dev/null 2>&1 && continue ;;
      maven) command -v mvn >/dev/null 2>&1 && continue ;;
    esac
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
  command -v sudo >/dev/null 2>&1 || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
else
  SUDO=
fi

echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
