package org.layerkit.spark;

/**
 * A collective call or barrier stage of a Spark replica run that cannot complete: ranks whose sequences of collective
 * calls differ, a rank that did not answer within {@code spark.barrier.sync.timeout}, or a cluster with fewer task
 * slots than replicas. The message names the rank, the call and what to change.
 */
public class CollectiveException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CollectiveException(String message) {
        super(message);
    }

    public CollectiveException(String message, Throwable cause) {
        super(message, cause);
    }
}
