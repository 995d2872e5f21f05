package org.layerkit.models.layers;

import java.util.List;
import java.util.Random;

import org.layerkit.api.Backend;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Fully connected layer: out = x·W + b with x {@code [N,in]}, W {@code [in,out]}, b {@code [out]}.
 *
 * <p>Backward: dW = xᵀ·dOut, db = Σ_N dOut, dX = dOut·Wᵀ. The output and dX buffers are reused while the batch size
 * stays the same, so a training step allocates nothing here but the bias-gradient temporary.
 */
public final class AffineLayer implements Layer {
    public static final String TYPE = "affine";

    private final Backend backend;
    private final int in;
    private final int out;
    private final Parameter weight;
    private final Parameter bias;
    private Tensor input;
    private Tensor output;
    private Tensor dX;

    /** W drawn from {@code init} with a {@link Random} seeded by {@code seed}; b = 0. */
    public AffineLayer(Backend backend, int in, int out, WeightInit init, long seed) {
        Checks.positive("affine", "in", in);
        Checks.positive("affine", "out", out);
        this.backend = backend;
        this.in = in;
        this.out = out;
        float[] w = new float[in * out];
        Random rnd = new Random(seed);
        double std = init.std(in);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextGaussian() * std);
        }
        Shape ws = Shape.of(in, out);
        this.weight = new Parameter("W", backend.upload(w, ws), backend.zeros(ws));
        this.bias = new Parameter("b", backend.zeros(Shape.of(out)), backend.zeros(Shape.of(out)));
    }

    @Override
    public String type() {
        return TYPE;
    }

    public int in() {
        return in;
    }

    public int out() {
        return out;
    }

    public Parameter weight() {
        return weight;
    }

    public Parameter bias() {
        return bias;
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        Checks.features("affine.forward", x, 2, in);
        int n = x.shape().dim(0);
        output = reuse(output, n, out);
        backend.gemm(x, false, weight.value(), false, output, 1f, 0f);
        backend.addBias(output, bias.value());
        input = x;
        return output;
    }

    /** {@code [N,out]} for an input {@code [N,in]}. */
    @Override
    public Shape outputShape(Shape input) {
        Checks.requireShape(TYPE, input, 2, in);
        return Shape.of(input.dim(0), out);
    }

    /** Without {@code inputGrad}, only dW and db ({@link #backwardParameters}); returns null. */
    @Override
    public Tensor backward(Tensor dOut, boolean inputGrad) {
        if (!inputGrad) {
            backwardParameters(dOut);
            return null;
        }
        return backward(dOut);
    }

    @Override
    public Tensor backward(Tensor dOut) {
        backwardParameters(dOut);
        int n = input.shape().dim(0);
        dX = reuse(dX, n, in);
        backend.gemm(dOut, false, weight.value(), true, dX, 1f, 0f);   // dX = dOut·Wᵀ
        return dX;
    }

    /**
     * The parameter half of {@link #backward}: overwrites dW and db but skips dX = dOut·Wᵀ, for a first layer whose
     * input needs no gradient (the data) — one GEMM of three saved per step.
     */
    public void backwardParameters(Tensor dOut) {
        Checks.forwardDone("affine.backward", input);
        int n = input.shape().dim(0);
        if (!dOut.shape().equals(Shape.of(n, out))) {
            throw new IllegalArgumentException("affine.backward: dOut expected shape " + Shape.of(n, out)
                    + ", got " + dOut.shape());
        }
        backend.gemm(input, true, dOut, false, weight.grad(), 1f, 0f); // dW = xᵀ·dOut
        try (Tensor db = backend.columnSum(dOut)) {                     // db = Σ_N dOut
            backend.copy(db, bias.grad());
        }
    }

    private Tensor reuse(Tensor t, int rows, int cols) {
        if (t != null && !t.isClosed() && t.shape().dim(0) == rows) {
            return t;
        }
        Checks.close(t);
        return backend.zeros(Shape.of(rows, cols));
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(weight, bias);
    }

    @Override
    public void close() {
        Checks.close(output);
        Checks.close(dX);
        output = null;
        dX = null;
        input = null;
        weight.value().close();
        weight.grad().close();
        bias.value().close();
        bias.grad().close();
    }

    /**
     * {@code affine}: keys {@code in}, {@code out} (required), {@code init} ({@code he} or a Gaussian scale, default
     * 0.01; {@code weight_scale} is accepted as an alias), {@code seed} (default 0).
     */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            String init = config.getString("init", config.getString("weight_scale", Double.toString(WeightInit.DEFAULT_SCALE)));
            return new AffineLayer(backend, config.getInt("in"), config.getInt("out"), WeightInit.parse(init),
                    config.getLong("seed", 0));
        }
    }
}
