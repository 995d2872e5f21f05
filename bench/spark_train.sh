#!/usr/bin/env bash
# TrainJob (org.layerkit.spark.jobs) on Spark local[R] without a Spark distribution: builds the spark module (tests
# skipped) and runs the job's main in a JVM with Spark's module options and the Vector API, as spark-submit would
# (docs/benchmarks.md, "Spark"; README, "On a Spark cluster"). Arguments go to TrainJob, e.g.
#   bench/spark_train.sh --replicas 2 --train-size 2560 --batch-size 256 --epochs 1 --save /tmp/model.lkm
#   SPARK_MASTER='local[4]' bench/spark_train.sh --replicas 4 ...
#   SPARK_PROFILE=-Pspark35 bench/spark_train.sh ...                    Spark 3.5 instead of 4.0
#   JOB=ScoreJob bench/spark_train.sh --model /tmp/model.lkm            the scoring job the same way
set -euo pipefail
cd "$(dirname "$0")/.."
# one invocation, so that the reactor's own modules resolve to their target/classes (nothing goes into ~/.m2)
mvn -B -ntp -q ${SPARK_PROFILE:-} -pl spark -am test-compile dependency:build-classpath -DskipTests \
    -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath
opens=$(sed -n 's:.*<spark.test.javaOptions>\(.*\)</spark.test.javaOptions>.*:\1:p' spark/pom.xml)
cp="spark/target/classes:$(cat spark/target/bench.classpath)"
exec java $opens --add-modules jdk.incubator.vector -Dspark.master="${SPARK_MASTER:-local[2]}" \
    -Dspark.ui.enabled=false -Dspark.driver.host=127.0.0.1 -Dspark.driver.bindAddress=127.0.0.1 \
    -cp "$cp" "org.layerkit.spark.jobs.${JOB:-TrainJob}" "$@"
