package org.layerkit.models.layers;

import java.util.List;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.Mode;
import org.layerkit.api.NormCache;
import org.layerkit.api.NormGrads;
import org.layerkit.api.NormResult;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * What the four normalization layers share: γ (ones) and β (zeros) of shape {@code [features]}, the forward's
 * result kept for backward, and the copy of dγ, dβ into the parameters' gradients.
 */
public abstract class NormLayer implements Layer {
    protected final Backend backend;
    protected final int features;
    private final Parameter gamma;
    private final Parameter beta;
    private NormResult result;
    private Tensor dX;

    protected NormLayer(Backend backend, String op, int features) {
        Checks.positive(op, "features", features);
        this.backend = backend;
        this.features = features;
        Shape s = Shape.of(features);
        Tensor g = backend.zeros(s);
        backend.fill(g, 1f);
        this.gamma = new Parameter("gamma", g, backend.zeros(s));
        this.beta = new Parameter("beta", backend.zeros(s), backend.zeros(s));
    }

    /** The number of normalized features (D) or channels (C). */
    public int features() {
        return features;
    }

    public Parameter gamma() {
        return gamma;
    }

    public Parameter beta() {
        return beta;
    }

    /** The rank of the input this layer normalizes: 2 ({@code [N,D]}) or 4 ({@code [N,C,H,W]}). */
    protected abstract int inputRank();

    /** The input's shape, after checking its rank and its dimension 1 (features or channels). */
    @Override
    public Shape outputShape(Shape input) {
        return Checks.requireShape(type(), input, inputRank(), features);
    }

    /** Runs the backend's forward kernel. */
    protected abstract NormResult normForward(Tensor x, Tensor gamma, Tensor beta, Mode mode);

    /** Runs the backend's backward kernel. */
    protected abstract NormGrads normBackward(Tensor dOut, NormCache cache, Tensor gamma);

    @Override
    public final Tensor forward(Tensor x, Mode mode) {
        NormResult r = normForward(x, gamma.value(), beta.value(), mode);
        Checks.close(result);
        result = r;
        return r.out();
    }

    @Override
    public final Tensor backward(Tensor dOut) {
        Checks.forwardDone(type() + ".backward", result);
        NormGrads g = normBackward(dOut, result.cache(), gamma.value());
        try {
            backend.copy(g.dGamma(), gamma.grad());
            backend.copy(g.dBeta(), beta.grad());
        } finally {
            g.dGamma().close();
            g.dBeta().close();
        }
        Checks.close(dX);
        dX = g.dX();
        return dX;
    }

    @Override
    public final List<Parameter> parameters() {
        return List.of(gamma, beta);
    }

    @Override
    public void close() {
        Checks.close(result);
        Checks.close(dX);
        result = null;
        dX = null;
        gamma.value().close();
        gamma.grad().close();
        beta.value().close();
        beta.grad().close();
    }
}
