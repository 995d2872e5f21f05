package org.layerkit.onnx;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.Layer;
import org.layerkit.api.Mode;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.checkpoint.HostTensor;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.Standardizer;
import org.layerkit.models.layers.AffineLayer;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.layers.GroupNormLayer;
import org.layerkit.models.layers.LayerNormLayer;
import org.layerkit.models.layers.NormLayer;
import org.layerkit.models.layers.ReluLayer;
import org.layerkit.models.layers.SpatialBatchNormLayer;
import org.layerkit.models.layers.WeightInit;

/**
 * Nets built by hand from layers, with every parameter and running statistic set to seeded random values (as after
 * training: γ around 1, β and the running means around 0, running variances in [0.2, 2]), and pixel-like inputs.
 */
final class Nets implements AutoCloseable {
    final Backend backend;
    final List<Layer> layers = new ArrayList<>();
    private final Random random;

    Nets(Backend backend, long seed) {
        this.backend = backend;
        this.random = new Random(seed);
    }

    Nets affine(int in, int out) {
        AffineLayer a = new AffineLayer(backend, in, out, WeightInit.he(), random.nextLong());
        set(a.bias().value(), gaussian(out, 0.1, 0));
        layers.add(a);
        return this;
    }

    Nets batchNorm(int d) {
        return runningStats(norm(new BatchNormLayer(backend, d, BatchNormOptions.defaults())));
    }

    Nets spatialBatchNorm(int c) {
        return runningStats(norm(new SpatialBatchNormLayer(backend, c, BatchNormOptions.defaults())));
    }

    Nets layerNorm(int d) {
        norm(new LayerNormLayer(backend, d, BatchNormOptions.DEFAULT_EPS));
        return this;
    }

    Nets groupNorm(int c, int groups) {
        norm(new GroupNormLayer(backend, c, groups, BatchNormOptions.DEFAULT_EPS));
        return this;
    }

    Nets conv(int in, int out, int kernel, int stride, int padding, boolean bias) {
        org.layerkit.models.layers.Conv2dLayer c = new org.layerkit.models.layers.Conv2dLayer(backend, in, out, kernel,
                stride, padding, bias, WeightInit.he(), random.nextLong());
        if (bias) {
            set(c.bias().value(), gaussian(out, 0.1, 0));
        }
        layers.add(c);
        return this;
    }

    Nets maxPool(int kernel, int stride) {
        layers.add(new org.layerkit.models.layers.MaxPoolLayer(backend, kernel, stride));
        return this;
    }

    Nets globalAvgPool() {
        layers.add(new org.layerkit.models.layers.GlobalAvgPoolLayer(backend));
        return this;
    }

    Nets flatten() {
        layers.add(new org.layerkit.models.layers.FlattenLayer(backend));
        return this;
    }

    Nets spatialDropout(double keep) {
        layers.add(new org.layerkit.models.layers.SpatialDropoutLayer(backend, keep, random.nextLong()));
        return this;
    }

    Nets relu() {
        layers.add(new ReluLayer(backend));
        return this;
    }

    Nets dropout(double keep) {
        layers.add(new DropoutLayer(backend, keep, random.nextLong()));
        return this;
    }

    private <L extends NormLayer> L norm(L layer) {
        int f = layer.features();
        set(layer.gamma().value(), gaussian(f, 0.3, 1));
        set(layer.beta().value(), gaussian(f, 0.3, 0));
        layers.add(layer);
        return layer;
    }

    private Nets runningStats(BatchNormLayer layer) {
        int f = layer.features();
        set(layer.running().mean(), gaussian(f, 0.5, 0));
        float[] v = new float[f];
        for (int i = 0; i < f; i++) {
            v[i] = 0.2f + 1.8f * random.nextFloat();
        }
        set(layer.running().var(), v);
        return this;
    }

    private float[] gaussian(int n, double sd, double mean) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) (mean + sd * random.nextGaussian());
        }
        return f;
    }

    private static void set(Tensor t, float[] values) {
        new HostTensor(t.shape(), values).copyInto(t);
    }

    /** n examples of pixel values byte / 255 (the first and last {@code zeroEdge} features always 0, like borders). */
    float[] pixels(int n, int features, int zeroEdge) {
        float[] x = new float[n * features];
        for (int i = 0; i < n; i++) {
            for (int j = zeroEdge; j < features - zeroEdge; j++) {
                x[i * features + j] = random.nextInt(256) / 255f;
            }
        }
        return x;
    }

    /** A standardizer fitted on 200 pixel-like examples (constant border features get std 1, as in training). */
    Standardizer standardizer(int features, int zeroEdge) {
        float[] x = pixels(200, features, zeroEdge);
        return Standardizer.fit(new Dataset("fit", x, new int[200], features, 1));
    }

    /** layerkit's EVAL output of the layers for x [n, shape...] behind std, as the net computes it. */
    float[] eval(float[] x, int n, int[] shape, Standardizer std) {
        int features = x.length / n;
        float[] in = std == null ? x : std.apply(new Dataset("x", x, new int[n], features, 1)).features();
        int[] dims = new int[shape.length + 1];
        dims[0] = n;
        System.arraycopy(shape, 0, dims, 1, shape.length);
        try (Tensor t = backend.upload(in, Shape.of(dims))) {
            Tensor h = t;
            for (Layer l : layers) {
                h = l.forward(h, Mode.EVAL);
            }
            return h.toArray();
        }
    }

    @Override
    public void close() {
        layers.forEach(Layer::close);
    }
}
