#!/usr/bin/env bash
# A/B timing in one session: runs the same Java program on layerkit as of a git revision ("before") and on this
# working tree ("after"), alternating, so that both see the same machine load. The program is a single-file source
# (e.g. bench/CpuBench.java, bench/NormBench.java) or a main class on the classpath (e.g.
# org.layerkit.models.examples.FashionMnistTraining); its output lines are prefixed with before:/after: and the
# run number.
#   "before" is api, cpu-backend, opencl-backend and models of REV, compiled from `git archive` (opencl tools left
#   out); "after" is this tree's target/classes, compiled first (mvn compile -pl models -am: no install).
# Usage: bench/ab.sh --baseline REV [--runs N] [--java-opts "..."] -- PROGRAM [ARGS...]
# Example: bench/ab.sh --baseline main --runs 3 -- bench/CpuBench.java 20 5 'batchnorm|layernorm'
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
baseline=""
runs=3
jopts=""
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --java-opts) jopts=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "ab.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ -n "$baseline" ] && [ $# -gt 0 ] || { echo "ab.sh: expected --baseline REV -- PROGRAM [ARGS...]" >&2; exit 2; }
cd "$root"
out=$(mktemp -d "${TMPDIR:-/tmp}/layerkit-ab.XXXXXX")
# the union of the classpaths of models and opencl-backend (the last module of a reactor writes the file)
mvn -q -o -B compile dependency:build-classpath -pl models -am -Dmdep.outputFile="$out/cp1.txt" >&2
mvn -q -o -B compile dependency:build-classpath -pl opencl-backend -am -Dmdep.outputFile="$out/cp2.txt" >&2
deps=$(cat "$out/cp1.txt" <(echo) "$out/cp2.txt" | tr ':' '\n' | grep -v '/target/classes$' | grep . | sort -u | paste -sd: -)
vec="--add-modules jdk.incubator.vector"
jsig="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")/lib/libjsig.so"
[ -r "$jsig" ] || jsig=""
rev=$(git rev-parse --short "$baseline")
mkdir -p "$out/base/src" "$out/base/classes"
git archive "$rev" api/src/main cpu-backend/src/main opencl-backend/src/main models/src/main | tar -x -C "$out/base/src"
javac -nowarn $vec -d "$out/base/classes" -cp "$deps" \
  $(find "$out/base/src" -path '*/tools/*' -prune -o -name '*.java' -print) 2>&1 | grep -v '^Note:' >&2 || true
for m in api cpu-backend opencl-backend models; do
  cp -r "$out/base/src/$m/src/main/resources/." "$out/base/classes/" 2>/dev/null || true
done
cat "$out"/base/src/*/src/main/resources/META-INF/services/org.layerkit.api.BackendProvider \
  > "$out/base/classes/META-INF/services/org.layerkit.api.BackendProvider" 2>/dev/null || true
here=""
for m in api cpu-backend opencl-backend models; do here="$here:$root/$m/target/classes"; done
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
  echo "java: $(java -version 2>&1 | head -1); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "before = $rev, after = this tree ($(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')); command: $*"
}
for i in $(seq 1 "$runs"); do
  for side in before after; do
    if [ "$side" = before ]; then cp="$out/base/classes:$deps"; else cp="${here#:}:$deps"; fi
    LD_PRELOAD="$jsig" java $vec $jopts -cp "$cp" "$@" 2>/dev/null | sed "s/^/$side $i: /"
  done
done
