/**
 * Runnable Spark jobs in the shaded jar, for {@code spark-submit --class …}: {@link org.layerkit.spark.jobs.TrainJob}
 * trains on Fashion-MNIST in barrier mode ({@code SparkTrainer}) and saves the model;
 * {@link org.layerkit.spark.jobs.ScoreJob} scores the test images with a saved model ({@code SparkScorer}). Both take
 * {@code --name value} options and answer a bad one with one line and their usage (exit status 2).
 */
package org.layerkit.spark.jobs;
