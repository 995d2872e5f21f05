#!/usr/bin/env bash
# Prints the OPENBLAS_CORETYPE that the layerkit launcher (and bench/compare.sh) exports on this CPU when the
# variable is unset, or nothing where OpenBLAS's own detection already picks the right kernels.
#
# Usage: scripts/openblas-coretype.sh [CPUINFO]     (default /proc/cpuinfo; reads the first processor's block)
#
# The rule (docs/benchmarks.md, "OpenBLAS core types"; the cpu backend's CpuGemm.coreTypeToSet applies the same one
# and its test runs this script against it): Debian 12's OpenBLAS 0.3.21 identifies Intel family-6 CPUs by model
# number, and for a model of 0xB0 or above (Raptor Lake, Lunar Lake, Arrow Lake, Emerald Rapids, ...) its switch
# falls through to the Pentium 4 case and loads the SSE3 "Prescott" kernels, 3-4x slower at the training shapes
# (fixed upstream in 0.3.25). There, and only there, the launcher names the fastest kernel set the CPU can run:
#   AVX-512 F/CD/BW/DQ/VL -> SkylakeX;  AVX2 + FMA -> Haswell;  AVX -> Sandybridge;  otherwise nothing.
# Everywhere else OpenBLAS 0.3.21 picks by itself what this rule would: SkylakeX or Cooperlake (the same SGEMM
# kernels) on AVX-512 Intel CPUs it knows or whose model it does not know; Cooperlake on AMD Zen 4 (family 25) and,
# through its capability fallback, on Zen 5 (family 26); Zen (AVX2) on Zen 1-3. A user's own OPENBLAS_CORETYPE
# always wins: the callers only consult this script when the variable is unset.
set -euo pipefail

cpuinfo=${1:-/proc/cpuinfo}
[ -r "$cpuinfo" ] || exit 0
# the first processor's block: fields up to the first blank line
block=$(awk 'NF == 0 { exit } { print }' "$cpuinfo")
field() { printf '%s\n' "$block" | awk -F: -v k="$1" '{ f = $1; gsub(/^[ \t]+|[ \t]+$/, "", f) } f == k { v = $2; gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit }'; }
vendor=$(field vendor_id)
family=$(field "cpu family")
model=$(field model)
flags=" $(field flags) "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }

[ "$vendor" = GenuineIntel ] && [ "$family" = 6 ] && [[ $model =~ ^[0-9]+$ ]] && [ "$model" -ge 176 ] || exit 0
if has avx512f avx512cd avx512bw avx512dq avx512vl; then
  echo SkylakeX
elif has avx2 fma; then
  echo Haswell
elif has avx; then
  echo Sandybridge
fi
