package org.layerkit.spark;

/**
 * A {@link SparkTrainer} run failed on a replica — its backend is not available on its executor, its training
 * diverged — or ended with replicas that disagree. The message names the rank, its host and what failed.
 */
public class SparkTrainingException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SparkTrainingException(String message) {
        super(message);
    }

    public SparkTrainingException(String message, Throwable cause) {
        super(message, cause);
    }
}
