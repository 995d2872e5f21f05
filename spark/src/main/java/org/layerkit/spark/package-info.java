/**
 * Apache Spark integration: batch inference of saved models ({@link org.layerkit.spark.SparkScorer}), data-parallel
 * training in barrier execution mode ({@link org.layerkit.spark.SparkTrainer}) and replicas in barrier mode with a
 * {@link org.layerkit.api.Collective} ({@link org.layerkit.spark.SparkBarrier}).
 */
package org.layerkit.spark;
