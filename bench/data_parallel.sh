#!/usr/bin/env bash
# Issue 20 item 6 in process: the in-process collective's cost at C = 256 and the MLP step with 1 and 2 cpu replicas
# (DataParallelBench; docs/benchmarks.md, "Data-parallel training in one process").
#   bench/data_parallel.sh [calls] [steps] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
# one invocation, so that the reactor's own modules resolve to their target/classes (nothing goes into ~/.m2)
mvn -B -ntp -q -pl models -am test-compile dependency:build-classpath -DskipTests \
    -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath
cp="models/target/classes:$(cat models/target/bench.classpath)"
# OpenBLAS on one thread unless set (each replica runs its GEMMs on its own thread: 2 replicas x 2 OpenBLAS
# threads would oversubscribe 2 cores), the Vector API kernels
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
exec java --add-modules jdk.incubator.vector -cp "$cp" bench/DataParallelBench.java "$@"
