/**
 * Apache Spark integration: batch inference of saved models ({@link org.layerkit.spark.SparkScorer}) and replicas in
 * barrier execution mode with a {@link org.layerkit.api.Collective} ({@link org.layerkit.spark.SparkBarrier}).
 */
package org.layerkit.spark;
