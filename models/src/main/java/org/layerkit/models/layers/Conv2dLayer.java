package org.layerkit.models.layers;

import java.util.List;
import java.util.Random;

import org.layerkit.api.Backend;
import org.layerkit.api.Conv2dGrads;
import org.layerkit.api.Conv2dParams;
import org.layerkit.api.Conv2dResult;
import org.layerkit.api.Layer;
import org.layerkit.api.LayerConfig;
import org.layerkit.api.LayerFactory;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * 2-D convolution (cross-correlation, as PyTorch's {@code Conv2d} and CS231N's {@code conv_forward}) of x
 * {@code [N,C,H,W]} with W {@code [F,C,KH,KW]} and an optional bias b {@code [F]}: out {@code [N,F,H',W']}, stride and
 * zero padding the same on both axes, H' = ⌊(H + 2·pad − KH)/stride⌋ + 1.
 *
 * <p>Backward: the backend's conv backward gives dW, db and, unless the layer is the first of a net (see
 * {@link #backward(Tensor, boolean)}), dX; dW and db are copied into the parameters' gradients. W starts from
 * {@link WeightInit} with fan-in C·KH·KW (He: N(0, 2/(C·KH·KW))), b at zero.
 */
public final class Conv2dLayer implements Layer {
    public static final String TYPE = "conv2d";

    private final Backend backend;
    private final int inChannels;
    private final int outChannels;
    private final int kernel;
    private final Conv2dParams params;
    private final Parameter weight;
    private final Parameter bias;
    private Conv2dResult result;
    private Tensor dX;

    /**
     * @param inChannels  C
     * @param outChannels F
     * @param kernel      KH = KW
     * @param stride      ≥ 1
     * @param padding     zero rows/columns on each side, ≥ 0
     * @param withBias    whether there is a bias b (a conv followed by batch norm does not need one)
     * @param init        W's distribution, with fan-in C·KH·KW
     * @param seed        seeds W
     */
    public Conv2dLayer(Backend backend, int inChannels, int outChannels, int kernel, int stride, int padding,
                       boolean withBias, WeightInit init, long seed) {
        Checks.positive(TYPE, "in_channels", inChannels);
        Checks.positive(TYPE, "out_channels", outChannels);
        Checks.positive(TYPE, "kernel", kernel);
        Checks.positive(TYPE, "stride", stride);
        if (padding < 0) {
            throw new IllegalArgumentException(TYPE + ": padding expected an integer >= 0, got " + padding);
        }
        this.backend = backend;
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.kernel = kernel;
        this.params = Conv2dParams.of(stride, padding);
        Shape ws = Shape.of(outChannels, inChannels, kernel, kernel);
        float[] w = new float[ws.size()];
        Random rnd = new Random(seed);
        double std = init.std(inChannels * kernel * kernel);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextGaussian() * std);
        }
        Parameter wp = new Parameter("W", backend.upload(w, ws), backend.zeros(ws));
        Parameter bp = null;
        if (withBias) {
            try {
                bp = new Parameter("b", backend.zeros(Shape.of(outChannels)), backend.zeros(Shape.of(outChannels)));
            } catch (RuntimeException e) {
                wp.value().close();
                wp.grad().close();
                throw e;
            }
        }
        this.weight = wp;
        this.bias = bp;
    }

    @Override
    public String type() {
        return TYPE;
    }

    public int inChannels() {
        return inChannels;
    }

    public int outChannels() {
        return outChannels;
    }

    public int kernel() {
        return kernel;
    }

    public Conv2dParams params() {
        return params;
    }

    public Parameter weight() {
        return weight;
    }

    /** The bias, or null for a layer without one. */
    public Parameter bias() {
        return bias;
    }

    /** {@code [N,F,H',W']} for an input {@code [N,C,H,W]}; a kernel larger than the padded input is refused. */
    @Override
    public Shape outputShape(Shape input) {
        Checks.requireShape(TYPE, input, 4, inChannels);
        long oh = params.outputHeight(input.dim(2), kernel);
        long ow = params.outputWidth(input.dim(3), kernel);
        if (oh < 1 || ow < 1) {
            throw new IllegalArgumentException(TYPE + ": input expected H and W of at least the kernel "
                    + kernel + " minus twice the padding " + params.padH() + ", got shape " + input);
        }
        return Shape.of(input.dim(0), outChannels, (int) oh, (int) ow);
    }

    @Override
    public Tensor forward(Tensor x, Mode mode) {
        Checks.features(TYPE + ".forward", x, 4, inChannels);
        Conv2dResult r = backend.conv2dForward(x, weight.value(), bias == null ? null : bias.value(), params);
        Checks.close(result);
        result = r;
        return r.out();
    }

    @Override
    public Tensor backward(Tensor dOut) {
        return backward(dOut, true);
    }

    /** Without {@code inputGrad} the backend skips dX (one of the three products); returns null then. */
    @Override
    public Tensor backward(Tensor dOut, boolean inputGrad) {
        Checks.forwardDone(TYPE + ".backward", result);
        Conv2dGrads g = backend.conv2dBackward(dOut, result.cache(), weight.value(), inputGrad);
        try {
            backend.copy(g.dW(), weight.grad());
            if (bias != null) {
                backend.copy(g.dB(), bias.grad());
            }
        } catch (RuntimeException e) {
            g.close();
            throw e;
        } finally {
            g.dW().close();
            if (g.dB() != null) {
                g.dB().close();
            }
        }
        Checks.close(dX);
        dX = g.dX();
        return dX;
    }

    @Override
    public List<Parameter> parameters() {
        return bias == null ? List.of(weight) : List.of(weight, bias);
    }

    @Override
    public void close() {
        Checks.close(result);
        Checks.close(dX);
        result = null;
        dX = null;
        weight.value().close();
        weight.grad().close();
        if (bias != null) {
            bias.value().close();
            bias.grad().close();
        }
    }

    /**
     * {@code conv2d}: {@code in_channels}, {@code out_channels}, {@code kernel} (required), {@code stride} (1),
     * {@code padding} (0), {@code bias} (true), {@code init} ({@code he} or a Gaussian scale; default he),
     * {@code seed} (0).
     */
    public static final class Factory implements LayerFactory {
        @Override
        public String type() {
            return TYPE;
        }

        @Override
        public Layer create(Backend backend, LayerConfig config) {
            return new Conv2dLayer(backend, config.getInt("in_channels"), config.getInt("out_channels"),
                    config.getInt("kernel"), config.getInt("stride", 1), config.getInt("padding", 0),
                    config.getBoolean("bias", true), WeightInit.parse(config.getString("init", "he")),
                    config.getLong("seed", 0));
        }
    }
}
