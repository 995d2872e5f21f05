#!/usr/bin/env bash
# One GPU measuring session, as run on a lent NVIDIA machine that has PyTorch but no Java: the conformance kit on
# the GPU, layerkit's OpenCL timings under several launch settings, PyTorch's CUDA timings of the same ops, shapes
# and net in the same run, and the Fashion-MNIST MLP's epoch time on both (random data of the real shape: the
# machine has no dataset). Every step has its own time limit and output file (under OUT_DIR/steps), so a slow or
# failing step costs only itself; at the end OUT_DIR/session.txt holds the machine description, the summary (each
# step's exit status and seconds) and every step's output, one file to bring back.
#
# Usage (from the repository root, after bench/gpu-bundle.sh built dist/gpu-bundle here):
#   bench/gpu-session.sh [OUT_DIR]        (default $OUT, else results/gpu-session)
# Env:  STEPS="kit torch-ops ..." runs only those steps (names below); BUNDLE (default dist/gpu-bundle);
#       PYTHON (default: the first of python3, /usr/bin/python3, /opt/conda/bin/python, python with torch)
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$root/results/gpu-session}}
bundle=${BUNDLE:-$root/dist/gpu-bundle}
python=${PYTHON:-}
if [ -z "$python" ]; then # the first Python that has torch
  for p in python3 /usr/bin/python3 /opt/conda/bin/python python; do
    if command -v "$p" > /dev/null && "$p" -c 'import torch' 2> /dev/null; then python=$p; break; fi
  done
  python=${python:-python3}
fi
mkdir -p "$out/steps"
summary="$out/steps/SUMMARY.txt"
: > "$summary"

step() { # step NAME SECONDS CMD... : runs CMD under a time limit, output to $out/NAME.txt
  local name=$1 limit=$2
  shift 2
  if [ -n "${STEPS:-}" ] && [[ " $STEPS " != *" $name "* ]]; then
    return 0
  fi
  local start=$SECONDS rc=0
  echo "== $name: $*" | tee -a "$summary"
  timeout -k 5 "$limit" "$@" > "$out/steps/$name.txt" 2>&1 || rc=$?
  echo "   $name: exit $rc after $((SECONDS - start)) s$([ "$rc" = 124 ] && echo " (time limit ${limit} s)")" \
    | tee -a "$summary"
  tail -n 3 "$out/steps/$name.txt" | sed 's/^/   | /'
}

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(hostname) · $(nproc) CPUs · $(awk '/MemTotal/ {print $2/1048576 " GiB"}' /proc/meminfo)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
  echo "bundle: $(tr '\n' ' ' < "$bundle/VERSION" 2>/dev/null || echo "no VERSION file in $bundle")"
} > "$out/steps/machine.txt" 2>&1
cat "$out/steps/machine.txt"

lk=("$bundle/run.sh")
java=("$bundle/java.sh")
shapes=(--size 4096,4096 --size 4096,1024 --size 65536,256)

# 1. correctness first: the whole kit on the GPU with the device's defaults, then the timings with the defaults
step kit 240 "${lk[@]}" --no-timing
step lk-default 120 "${lk[@]}" --no-conformance --reps 100 "${shapes[@]}"
# 2. PyTorch on the same GPU, same shapes; its GEMM at the same shapes as GpuCheck's
torch_ops=(ops --device cuda --repeats 100 --shapes 4096x4096,4096x1024,65536x256 --with-4d \
  --shapes-4d 256x64x32x32)
step torch-ops 180 "$python" "$root/bench/pytorch_bench.py" "${torch_ops[@]}"
step torch-ops-pipelined 180 "$python" "$root/bench/pytorch_bench.py" "${torch_ops[@]}" --pipelined
step torch-gemm 120 "$python" "$root/bench/pytorch_bench.py" gemm --device cuda --repeats 50
# conv2d and max pool at the Fashion-MNIST CNN's shapes (cuDNN, TF32 off), against lk-default's conv tables
step torch-conv 120 "$python" "$root/bench/pytorch_bench.py" conv --device cuda --repeats 100
# 3. dropout masks written by the forward (the CPU-device default) against pending ones (the GPU default)
step lk-mask-eager 90 "${lk[@]}" --no-conformance --reps 100 --option dropoutMask=eager --gemm-shapes none \
  --spatial none "${shapes[@]}"
# 4. launch settings: batchnorm's one-launch kernels forced and off, rows per work-item, work-group size, GEMM
step lk-fuse-on 90 "${lk[@]}" --no-conformance --reps 100 --fuse-columns on --gemm-shapes none "${shapes[@]}"
step lk-fuse-off 90 "${lk[@]}" --no-conformance --reps 100 --fuse-columns off --gemm-shapes none "${shapes[@]}"
for r in 1 4 16; do
  step "lk-rows-$r" 90 "${lk[@]}" --no-conformance --reps 100 --rows-per-item "$r" --gemm-shapes none --spatial none \
    "${shapes[@]}"
done
for g in 128 512 1024; do
  step "lk-group-$g" 90 "${lk[@]}" --no-conformance --reps 100 --group-size "$g" --gemm-shapes none "${shapes[@]}"
done
# conv2d's workspace: 16 MiB chunks (the CNN's second layer in 2 forward and 4 backward chunks; on CPU devices the
# backward takes 1 MiB chunks by default) against lk-default's whole batch in one chunk; conv tables only
step lk-conv-ws16 120 "${lk[@]}" --no-conformance --reps 50 --option convWorkspace=16 --size 64,64 --spatial none \
  --gemm-shapes none --pool-shapes none
# 5. the Fashion-MNIST MLP (784-256-128-100-10, batchnorm, dropout 0.2, Adam 1e-3, batch 128), random data
step torch-net 240 "$python" "$root/bench/pytorch_bench.py" net --device cuda --synthetic --epochs 3
step lk-net 240 "${java[@]}" -Dlayerkit.backend=opencl org.layerkit.models.examples.FashionMnistTraining \
  --synthetic=60000 --epochs=3 --keep=0.8 --lr=1e-3 --lr-decay=1 --batch=128 --val=5000
# 6. the kit again on batchnorm's other paths and another launch size
step kit-other-paths 180 "${lk[@]}" --no-timing --fuse-columns off --rows-per-item 1 --group-size 64 \
  --include batchnorm
step kit-fuse-on 180 "${lk[@]}" --no-timing --fuse-columns on --include batchnorm
# ... and conv2d and max pool on their other paths: im2col with the tiled GEMM in 1 MiB chunks, the direct kernels
step kit-conv-other-paths 180 "${lk[@]}" --no-timing --gemm tiled --option convWorkspace=1 \
  --include '^(conv2d|maxpool2d)'
step kit-conv-direct 180 "${lk[@]}" --no-timing --option conv=direct --include '^conv2d'

for f in machine SUMMARY $(cd "$out/steps" && ls -tr ./*.txt | sed 's|^\./||; s|\.txt$||' | grep -vx 'machine\|SUMMARY'); do
  echo "##### $f"
  cat "$out/steps/$f.txt"
done > "$out/session.txt"
# the side-by-side table with speed-ups, when both sides ran
if grep -q '^##### lk-default' "$out/session.txt" && grep -q '^##### torch-ops-pipelined' "$out/session.txt"; then
  { echo "##### table"; "$python" "$root/bench/gpu_table.py" "$out/session.txt"; } >> "$out/session.txt" 2>&1
fi
echo "results in $out/session.txt (and $out/steps)" | tee -a "$summary"
