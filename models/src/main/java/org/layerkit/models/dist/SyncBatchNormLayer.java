package org.layerkit.models.dist;

import java.util.List;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.Collective;
import org.layerkit.api.Layer;
import org.layerkit.api.Mode;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Parameter;
import org.layerkit.api.RunningStats;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.models.layers.SpatialBatchNormLayer;
import org.layerkit.models.layers.StatefulLayer;

/**
 * A replica's batch-norm layer made synchronous: it wraps a net's {@link BatchNormLayer} (or
 * {@link SpatialBatchNormLayer}) and shares its γ, β, running statistics and counter — so the net's parameters,
 * buffers and checkpoints are the same tensors — but a TRAIN forward normalizes with the statistics of the whole
 * batch over every replica ({@link SyncBatchNorm}), holding the {@link SyncBatchNorm.Step} until the backward. EVAL
 * never communicates. A replica with no rows of a step calls {@link #forwardEmpty()} and {@link #backwardEmpty()}
 * instead, so it still joins every exchange. Like every layer, used by one thread at a time (its replica's).
 */
public final class SyncBatchNormLayer implements Layer, StatefulLayer {
    /** The type name of the plain layer ({@code [N,D]}). */
    public static final String TYPE = "sync_batchnorm";
    /** The type name of the spatial layer ({@code [N,C,H,W]}). */
    public static final String SPATIAL_TYPE = "sync_spatial_batchnorm";

    private final BatchNormLayer inner;
    private final Backend backend;
    private final SyncBatchNorm sync;
    private final boolean spatial;
    private SyncBatchNorm.Step step;
    private NormResult evalResult;
    private Tensor dX;

    /** Wraps {@code inner} (on {@code backend}) with this replica's member of the group. */
    public SyncBatchNormLayer(Backend backend, BatchNormLayer inner, Collective collective) {
        if (inner == null) {
            throw new IllegalArgumentException(TYPE + ": inner expected a BatchNormLayer, got null");
        }
        this.inner = inner;
        this.backend = backend;
        this.spatial = inner instanceof SpatialBatchNormLayer;
        this.sync = new SyncBatchNorm(backend, collective, spatial, inner.features());
    }

    /** The wrapped layer, whose tensors this layer updates. */
    public BatchNormLayer inner() {
        return inner;
    }

    @Override
    public String type() {
        return spatial ? SPATIAL_TYPE : TYPE;
    }

    @Override
    public Shape outputShape(Shape input) {
        return inner.outputShape(input);
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        if (x == null) {
            throw new IllegalArgumentException(type() + ".forward: x expected a tensor (a replica without rows calls "
                    + "forwardEmpty()), got null");
        }
        release();
        if (mode == Mode.EVAL) {
            RunningStats r = inner.running();
            evalResult = sync.eval(x, inner.gamma().value(), inner.beta().value(), r.mean(), r.var(),
                    inner.options().params(r));
            return evalResult.out();
        }
        step = train(x);
        return step.out();
    }

    /** The TRAIN forward of a replica without rows: joins the statistics exchange and updates the running stats. */
    public void forwardEmpty() {
        release();
        step = train(null);
    }

    private SyncBatchNorm.Step train(Tensor x) {
        RunningStats r = inner.running();
        synchronized (r) {
            SyncBatchNorm.Step s = sync.forward(x, inner.gamma().value(), inner.beta().value(), r.mean(), r.var(),
                    inner.options().params(r));
            r.markUpdated();
            return s;
        }
    }

    @Override
    public Tensor backward(Tensor dOut) {
        if (step == null || step.out() == null) {
            throw new IllegalStateException(type() + ".backward: expected a TRAIN forward with rows first");
        }
        return grads(dOut);
    }

    /** The backward of {@link #forwardEmpty()}: joins the sums' exchange; this replica's dγ, dβ are zero. */
    public void backwardEmpty() {
        if (step == null || step.out() != null) {
            throw new IllegalStateException(type() + ".backwardEmpty: expected forwardEmpty() first");
        }
        grads(null);
    }

    private Tensor grads(Tensor dOut) {
        NormGrads g = sync.backward(dOut, step, inner.gamma().value());
        try {
            // this replica's share of dγ, dβ: the trainer all-reduces parameter gradients over replicas
            backend.copy(g.dGamma(), inner.gamma().grad());
            backend.copy(g.dBeta(), inner.beta().grad());
        } finally {
            g.dGamma().close();
            g.dBeta().close();
        }
        if (dX != null) {
            dX.close();
        }
        dX = g.dX();
        return dX;
    }

    @Override
    public List<Parameter> parameters() {
        return inner.parameters();
    }

    @Override
    public Map<String, Tensor> buffers() {
        return inner.buffers();
    }

    @Override
    public Map<String, Long> counters() {
        return inner.counters();
    }

    @Override
    public void setCounter(String name, long value) {
        inner.setCounter(name, value);
    }

    private void release() {
        if (step != null) {
            step.close();
            step = null;
        }
        if (evalResult != null) {
            evalResult.close();
            evalResult = null;
        }
    }

    /** Releases this layer's own results; the wrapped layer's tensors belong to its net. */
    @Override
    public void close() {
        release();
        if (dX != null) {
            dX.close();
            dX = null;
        }
    }
}
