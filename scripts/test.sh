#!/usr/bin/env bash
# The one command that passes the tests on a fresh machine: installs what the tests need, runs every module's tests
# (the OpenCL backend's conformance suite on PoCL, never skipped: -Dlayerkit.requireOpenCL=true turns a missing
# OpenCL device into a failure), then runs the numeric suites once more under each execution path the product can
# take on other machines (docs/tolerances.md, "The test matrix"): OpenBLAS core types, the Vector API or the loops,
# HotSpot's AVX2 width, one thread and a 64-thread machine's chunking, PoCL on one compute unit. Fails if any leg
# fails, naming it, after printing a summary of every leg.
#   scripts/test.sh               everything
#   scripts/test.sh --no-matrix   the main run only
#   scripts/test.sh [--no-matrix] -- <maven args>   extra arguments for the main run (e.g. -pl cpu-backend -am)
# The machine's own OPENBLAS_CORETYPE, if it exports one, stays set for the main run; a leg sets its own.
set -euo pipefail
cd "$(dirname "$0")/.."

matrix=1
if [ "${1:-}" = "--no-matrix" ]; then
  matrix=0
  shift
fi
[ "${1:-}" = "--" ] && shift

scripts/setup.sh --no-data

# ------------------------------------------------------------------------------------------------------ main run
start=$SECONDS
mvn -B -ntp -Dlayerkit.requireOpenCL=true "$@" verify
main_time=$((SECONDS - start))
[ "$matrix" = 1 ] || exit 0

# ------------------------------------------------------------------------------------------------- the matrix
# The numeric suites: the conformance kit on each backend, the gradient checks (the MLP's and the CNN's: the CNN's
# norms change with the vector width and the thread count, its convs with the OpenBLAS kernels, so it runs on every
# CPU leg), the kernels' own numeric tests and the training-outcome tests (QuickStartTest trains the MLP and the
# CNN). CPU legs run the cpu and models ones (with the kit on the loops path too where the leg changes the loops:
# vector width, chunking); PoCL legs the OpenCL ones.
CPU_TESTS=ReferenceGradientTest,CpuBackendConformanceTest,CpuNormKernelsTest,CpuGemmTest,CpuTrainingKernelsTest,\
FullyConnectedNetGradientCheckTest,ConvNetGradientCheckTest,FullyConnectedNetTest,LayersTest,OptimizerTest,SolverTest,\
QuickStartTest
CPU_AND_LOOPS_TESTS=$CPU_TESTS,CpuLoopsPathConformanceTest
# ClFloatAccumulator*: the normalization cases with float accumulators (option accumulator=float, the path of devices
# without cl_khr_fp64), whose chunk merges follow the plans that PoCL's compute units change
CL_TESTS=ClBackendConformanceTest,ClOtherPathConformanceTest,ClReductionTest,ClGemmChoiceTest,\
ClFloatAccumulatorConformanceTest,ClFloatAccumulatorFusedConformanceTest
# The conv2d, pool and spatial-dropout cases run only on legs that can change their numbers (docs/tolerances.md,
# "The test matrix"). On the cpu backend their order-dependent sums are OpenBLAS's GEMMs and conv2d's dW partial
# sums, one per chunk of samples, whose count follows the thread count (the rest is element-wise or per plane in a
# fixed order, and the Vector API loops, col2im's add, ReLU and the max pool's keys, are element-wise), so the
# OpenBLAS and thread-count legs run them, with CpuConvTest, and the others leave them out.
# On PoCL only the reductions planned by compute units change: conv2d's dB and the global average pool's forward.
# No leg runs the kit's calls from several threads (*.threads), its closed-backend cases (*.backend_closed) or its
# reshape cases (*.reshape.*: storage ownership, bit-identical copies and errors): they compare a backend with itself bit
# for bit or check errors, so no leg changes what they check (the main run has them).
NOT_NUMERIC='\.threads\[|\.backend_closed\[|\.reshape\.'
CONV_FAMILIES='^(conv2d|maxpool2d|global_avgpool|spatial_dropout)\.'
CPU_CONV_TESTS=CpuConvTest
ONLY_NUMERIC=-Dlayerkit.conformance.exclude=$NOT_NUMERIC
NO_CONV="-Dlayerkit.conformance.exclude=$CONV_FAMILIES|$NOT_NUMERIC"
CL_CU_TESTS='ClPoolTest#globalAveragePoolMatchesItsDefinition'
CL_CU_ONLY="-Dlayerkit.conformance.exclude=^(conv2d\.forward|maxpool2d\.|global_avgpool\.backward|spatial_dropout\.)|$NOT_NUMERIC"

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }

names=() settings=() results=() times=()
failed=()

# leg NAME SETTINGS MODULES TESTS [ENV=VALUE...] [-- MAVEN ARGS...]: runs TESTS of MODULES in one Maven call
# (what the main run compiled is up to date, so nothing is recompiled).
leg() {
  local name=$1 what=$2 modules=$3 tests=$4
  shift 4
  local envs=() args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  args=("$@")
  echo
  echo "=== matrix leg '$name': $what"
  local t0=$SECONDS status=PASS
  if ! env "${envs[@]}" mvn -B -ntp -q -pl "$modules" -am test -Dlayerkit.requireOpenCL=true \
      -Dtest="$tests" -Dsurefire.failIfNoSpecifiedTests=false -Dsurefire.rerunFailingTestsCount=0 \
      "${args[@]}"; then
    status=FAIL
    failed+=("$name")
  fi
  names+=("$name") settings+=("$what") results+=("$status") times+=("$((SECONDS - t0)) s")
}

# skip NAME SETTINGS REASON
skip() {
  echo
  echo "=== matrix leg '$1': skipped ($3)"
  names+=("$1") settings+=("$2") results+=("SKIP: $3") times+=("-")
}

CPU_MODULES=conformance,cpu-backend,models
matrix_start=$SECONDS

# OpenBLAS kernels (the cpu backend's GEMM): each core type this CPU can execute
for core in Haswell SkylakeX Zen Prescott; do
  case $core in
    Haswell|Zen) need=(avx2 fma) ;;
    SkylakeX) need=(avx512f avx512cd avx512bw avx512dq avx512vl) ;;
    Prescott) need=(pni) ;; # SSE3, as /proc/cpuinfo calls it
  esac
  if has "${need[@]}"; then
    leg "openblas-$core" "OPENBLAS_CORETYPE=$core" "$CPU_MODULES" "$CPU_TESTS,$CPU_CONV_TESTS" \
      OPENBLAS_CORETYPE="$core" -- "$ONLY_NUMERIC"
  else
    skip "openblas-$core" "OPENBLAS_CORETYPE=$core" "the CPU lacks ${need[*]}"
  fi
done

# the Vector API or the loops a JVM without the incubator module runs
leg "vector-off" "no --add-modules jdk.incubator.vector (loops path)" "$CPU_MODULES" "$CPU_TESTS" \
  -- -Dlayerkit.test.vectorModule= "$NO_CONV"

# HotSpot's vector width: AVX2 (256-bit) where the default would be AVX-512, for the Vector API and the loops
if has avx512f; then
  # with CpuConvTest: the stride-1 direct conv path's register blocks cover a grid by the vector width (its bits
  # do not change: one FMA chain per output in a fixed order, so the kit's conv cases stay out)
  leg "useavx2" "-XX:UseAVX=2 (256-bit vectors; Vector API and loops)" "$CPU_MODULES" \
    "$CPU_AND_LOOPS_TESTS,$CPU_CONV_TESTS" -- -Dlayerkit.test.jvmArgs=-XX:UseAVX=2 "$NO_CONV"
  leg "useavx2-vector-off" "-XX:UseAVX=2, loops path" "$CPU_MODULES" "$CPU_TESTS" \
    -- -Dlayerkit.test.jvmArgs=-XX:UseAVX=2 -Dlayerkit.test.vectorModule= "$NO_CONV"
elif has avx2; then
  skip "useavx2" "-XX:UseAVX=2" "AVX2 is already this CPU's widest: the main run covered it"
else
  skip "useavx2" "-XX:UseAVX=2" "the CPU lacks avx2"
fi

# core counts: every kernel on one thread (and OpenBLAS on one), and a 64-core machine's chunking of the reductions
leg "threads-1" "layerkit.cpu.threads=1, OPENBLAS_NUM_THREADS=1" "$CPU_MODULES" \
  "$CPU_AND_LOOPS_TESTS,$CPU_CONV_TESTS" OPENBLAS_NUM_THREADS=1 -- -Dlayerkit.cpu.threads=1 "$ONLY_NUMERIC"
leg "threads-64" "layerkit.cpu.threads=64 (a 64-core machine's chunks)" "$CPU_MODULES" \
  "$CPU_AND_LOOPS_TESTS,$CPU_CONV_TESTS" -- -Dlayerkit.cpu.threads=64 "$ONLY_NUMERIC"

# PoCL with 1 and with 64 compute units: the OpenCL backend plans its reductions' chunks by compute units, so
# these are the plans of a small CPU device and of a large GPU-sized one
CL_MODULES=conformance,cpu-backend,opencl-backend
leg "pocl-1cu" "POCL_MAX_PTHREAD_COUNT=1 (one compute unit)" "$CL_MODULES" "$CL_TESTS,$CL_CU_TESTS" \
  POCL_MAX_PTHREAD_COUNT=1 -- "$CL_CU_ONLY"
leg "pocl-64cu" "POCL_MAX_PTHREAD_COUNT=64 (64 compute units' chunk plans)" "$CL_MODULES" "$CL_TESTS,$CL_CU_TESTS" \
  POCL_MAX_PTHREAD_COUNT=64 -- "$CL_CU_ONLY"

# ------------------------------------------------------------------------------------------------------ summary
echo
echo "test matrix (main run: all tests, $main_time s; each leg: the numeric suites)"
printf '  %-20s %-56s %-8s %s\n' leg settings time result
for i in "${!names[@]}"; do
  printf '  %-20s %-56s %-8s %s\n' "${names[$i]}" "${settings[$i]}" "${times[$i]}" "${results[$i]}"
done
echo "  conv2d/pool/spatial-dropout cases: all on openblas-* and threads-* (with CpuConvTest; CpuConvTest on useavx2 too), those of reductions" \
  "planned by compute units on pocl-* (conv2d dB, global average pool), none on the others (docs/tolerances.md);" \
  "*.threads, *.backend_closed and *.reshape.* cases: main run only; float-accumulator normalizations: main run and" \
  "pocl-*"
echo "  matrix: $((SECONDS - matrix_start)) s; total: $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED legs: ${failed[*]} (rerun one: see its settings above; docs/tolerances.md says how to report)" >&2
  exit 1
fi
