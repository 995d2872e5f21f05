#!/usr/bin/env bash
# Spark local[2] start-up and the cost of one collective call through Spark's barrier mode at C = 256
# (SparkCollectiveBench; docs/benchmarks.md, "Spark"). Builds the spark module (tests skipped), then runs the benchmark
# in a JVM with Spark's module options, as spark-submit would start it.
#   bench/spark_collective.sh [calls]          Spark 4.0 (the module's default)
#   SPARK_PROFILE=-Pspark35 bench/spark_collective.sh [calls]
set -euo pipefail
cd "$(dirname "$0")/.."
# one invocation, so that the reactor's own modules resolve to their target/classes (nothing goes into ~/.m2)
mvn -B -ntp -q ${SPARK_PROFILE:-} -pl spark -am test-compile dependency:build-classpath -DskipTests \
    -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath
opens=$(sed -n 's:.*<spark.test.javaOptions>\(.*\)</spark.test.javaOptions>.*:\1:p' spark/pom.xml)
cp="spark/target/test-classes:spark/target/classes:$(cat spark/target/bench.classpath)"
exec java $opens --add-modules jdk.incubator.vector -cp "$cp" \
    org.layerkit.spark.bench.SparkCollectiveBench "$@"
