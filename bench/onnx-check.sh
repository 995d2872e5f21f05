#!/usr/bin/env bash
# The ONNX export's acceptance check on the real data: train for one epoch, export, and compare what ONNX Runtime
# scores on the test split, fed pixels / 255, with `layerkit evaluate` (must agree within 0.001).
#   1. java -jar cli/target/layerkit.jar train --epochs E --save DIR/m.lkm [TRAIN ARGS]
#   2. layerkit export --model DIR/m.lkm --format onnx --out DIR/m.onnx --opset OPSET
#   3. layerkit evaluate --model DIR/m.lkm --backend cpu
#   4. bench/OnnxAccuracy.java: ONNX Runtime (com.microsoft.onnxruntime:onnxruntime, copied from Maven) on the test
#      images / 255 next to layerkit's own predictions: both accuracies, predictions that differ, max logit difference
# Usage: bench/onnx-check.sh [--epochs E] [--opset N] [--out DIR] [--data-dir DIR] [-- TRAIN ARGS...]
# Needs: JDK 17, Maven, the data set (apt-get install dataset-fashion-mnist). Builds cli/target/layerkit.jar if
# missing (mvn package -DskipTests).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
epochs=1
opset=17
out=""
data_dir=/usr/share/datasets/fashion-mnist
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --opset) opset=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--epochs E] [--opset N] [--out DIR] [--data-dir DIR] [-- TRAIN ARGS...]" >&2; exit 2 ;;
  esac
done
out=${out:-$(mktemp -d /tmp/layerkit-onnx-check.XXXXXX)}
mkdir -p "$out"

ort_version=$(sed -n 's:.*<onnxruntime.version>\(.*\)</onnxruntime.version>.*:\1:p' "$root/pom.xml")
jar="$root/cli/target/layerkit.jar"
if [ ! -f "$jar" ]; then
  (cd "$root" && mvn -B -ntp -q -DskipTests package)
fi
ort_jar="$out/onnxruntime-$ort_version.jar"
if [ ! -f "$ort_jar" ]; then
  (cd "$root" && mvn -B -ntp -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
      -Dartifact="com.microsoft.onnxruntime:onnxruntime:$ort_version" -DoutputDirectory="$out" -Dmdep.overWriteIfNewer=true)
fi
# as the launcher runs java: its OpenBLAS core type rule and the Vector API module
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  coretype=$("$root/scripts/openblas-coretype.sh" 2>/dev/null || true)
  [ -n "$coretype" ] && export OPENBLAS_CORETYPE="$coretype"
fi
java_=(java -Djava.awt.headless=true --add-modules jdk.incubator.vector)

echo "== $(date -u +%Y-%m-%dT%H:%MZ) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
set -x
"${java_[@]}" -jar "$jar" train --data-dir "$data_dir" --epochs "$epochs" --save "$out/m.lkm" --progress plain "$@"
"${java_[@]}" -jar "$jar" export --model "$out/m.lkm" --format onnx --out "$out/m.onnx" --opset "$opset"
"${java_[@]}" -jar "$jar" evaluate --model "$out/m.lkm" --backend cpu | tee "$out/evaluate.txt"
"${java_[@]}" -cp "$jar:$ort_jar" "$root/bench/OnnxAccuracy.java" "$out/m.lkm" "$out/m.onnx" "$data_dir" \
    | tee "$out/onnx.txt"
set +x
lk=$(sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$out/evaluate.txt")
ort=$(sed -n 's/^ONNX Runtime test accuracy: \([0-9.]*\).*/\1/p' "$out/onnx.txt")
echo "layerkit evaluate: $lk   ONNX Runtime: $ort"
awk -v a="$lk" -v b="$ort" 'BEGIN { d = a - b; if (d < 0) d = -d; if (d > 0.001) { print "FAIL: differ by " d; exit 1 } print "OK: within 0.001" }'
