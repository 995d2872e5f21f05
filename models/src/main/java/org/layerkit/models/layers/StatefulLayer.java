package org.layerkit.models.layers;

import java.util.Map;

/**
 * A layer with integer state beyond its tensors that a checkpoint must keep so that training resumes exactly:
 * the number of batch-norm updates (for cumulative averaging) or a dropout layer's Philox offset.
 */
public interface StatefulLayer {
    /** The counters by stable name. */
    Map<String, Long> counters();

    /** Restores a counter returned by {@link #counters()}; an unknown name is an IllegalArgumentException. */
    void setCounter(String name, long value);
}
