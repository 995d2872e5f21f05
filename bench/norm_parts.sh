#!/usr/bin/env bash
# Batchnorm in parts against the fused batchnorm at NormBench's shapes, on each backend given (default: cpu and
# opencl), fused and parts timed in the same run (bench/NormPartsBench.java; docs/benchmarks.md, "Batchnorm in
# parts").
#   bench/norm_parts.sh [rounds] [backend ...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
shift || true
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(cpu opencl)
# one invocation, so that the reactor's own modules resolve to their target/classes (nothing goes into ~/.m2)
log=$(mktemp "${TMPDIR:-/tmp}/norm_parts.XXXXXX")
if ! mvn -B -ntp -q -pl models -am test-compile dependency:build-classpath -DskipTests \
    -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
rm -f "$log"
cp="models/target/classes:$(cat models/target/bench.classpath)"
jsig="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")/lib/libjsig.so"
[ -r "$jsig" ] || jsig=""
echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes');" \
  "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores;" \
  "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${backends[@]}"; do
  LD_PRELOAD="$jsig" java --add-modules jdk.incubator.vector -cp "$cp" bench/NormPartsBench.java "$b" "$rounds" \
    2> >(grep -v -e "incubat" -e "^1 warning" >&2) | { [ "$b" = "${backends[0]}" ] && cat || tail -n +2; }
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
