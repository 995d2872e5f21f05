package org.layerkit.models;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import java.util.stream.Collectors;

import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;
import org.layerkit.models.layers.AffineLayer;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.models.layers.Conv2dLayer;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.layers.FlattenLayer;
import org.layerkit.models.layers.GlobalAvgPoolLayer;
import org.layerkit.models.layers.GroupNormLayer;
import org.layerkit.models.layers.LayerNormLayer;
import org.layerkit.models.layers.MaxPoolLayer;
import org.layerkit.models.layers.ReluLayer;
import org.layerkit.models.layers.SpatialBatchNormLayer;
import org.layerkit.models.layers.SpatialDropoutLayer;
import org.layerkit.models.layers.WeightInit;

/**
 * The convolutional configuration of a {@link SequentialNet}, built from a spec:
 * <pre>
 *   { [conv K×K → norm → ReLU] × convsPerStage → maxpool → spatial dropout } per stage     (one stage per channel count)
 *   → flatten (or global average pool)
 *   → { affine → norm → ReLU → dropout } per hidden width
 *   → affine → softmax cross-entropy
 * </pre>
 * Convolutions have stride 1 and "same" padding (K−1)/2 (odd K keeps H×W); pools are K = stride = {@code pool}
 * (0: none). The conv norm is one of {@link Normalization}: batch (spatial batch norm), group (group norm with
 * {@code groups} groups; G must divide every stage's channels), layer (group norm with G = 1) or none. Convs followed
 * by a normalization have no bias (the normalization removes it).
 *
 * <p><b>The hidden affine layers are normalized too</b> ({@link #normalizeHidden()}, default on), by the same family:
 * batch → batch norm, group and layer → layer norm over the features (group norm has no groups without channels). This
 * is what makes the batch-size experiment show the effect the groupnorm paper reports: measured with PyTorch on
 * Fashion-MNIST, with the norm only after the convs every norm stays at 10–11 % test error from batch 64 down to 2 (a
 * channel's statistic spans at least 392 positions even at B = 2), while a batch norm after the hidden affine layer,
 * whose statistic spans only the B examples, rises to 35 % error at B = 2 as group/layer norm stays at 10.5 %
 * (docs/results.md). CS231N's nets normalize their hidden affine layers likewise.
 *
 * <p>Presets ({@link #presets()}): {@value #DEFAULT_PRESET} (the default; ≥ 0.92 test accuracy on Fashion-MNIST),
 * {@code cs231n} (CS231N's three-layer convnet), {@code vgg} (two 3×3 convs per stage). Build with
 * {@link #preset(String, Shape, int)} or {@link #builder(Shape, int)}, then {@code new SequentialNet(backend, config)}.
 *
 * @param inputShape      one example, {@code [C,H,W]}
 * @param numClasses      K
 * @param channels        output channels of each stage's convs; one stage per entry, at least one
 * @param convsPerStage   convs per stage, ≥ 1
 * @param kernel          K of every conv, odd, ≥ 1
 * @param pool            max-pool window (and stride) after each stage; 0 for none
 * @param norm            the normalization after each conv
 * @param groups          G for {@link Normalization#GROUP}
 * @param normalizeHidden whether the hidden affine layers are normalized too (see above)
 * @param hiddenDims      widths of the hidden affine layers (may be empty)
 * @param convKeep        keep probability of the spatial dropout after each stage; 1 = none
 * @param dropoutKeep     keep probability of the dropout after each hidden affine layer's ReLU; 1 = none
 * @param globalPool      global average pooling instead of flattening after the last stage
 * @param weightInit      initial weights of convs (fan-in C·K·K) and affine layers; He by default
 * @param reg             L2 strength on every conv and affine weight
 * @param seed            seeds every layer's weights and masks
 * @param batchNorm       eps, decay and PyTorch-parity options of the batch norms; its eps serves every norm
 * @param preset          the preset this was built from, or "" (for descriptions only)
 */
public record ConvNetConfig(Shape inputShape, int numClasses, List<Integer> channels, int convsPerStage, int kernel,
                            int pool, Normalization norm, int groups, boolean normalizeHidden,
                            List<Integer> hiddenDims, double convKeep, double dropoutKeep, boolean globalPool,
                            WeightInit weightInit, double reg, long seed, BatchNormOptions batchNorm, String preset)
        implements NetConfig {
    /** The preset {@code layerkit train --net cnn} uses. */
    public static final String DEFAULT_PRESET = "fashion";
    /** G when none is given. */
    public static final int DEFAULT_GROUPS = 8;

    private static final Map<String, Preset> PRESETS = new LinkedHashMap<>();

    private record Preset(String summary, BiFunction<Shape, Integer, Builder> builder) {
    }

    static {
        PRESETS.put("fashion", new Preset("[conv3x3 -> batchnorm -> ReLU -> maxpool2 -> spatial dropout 0.8] with "
                + "32, 64 channels -> affine 256 -> batchnorm -> ReLU -> dropout 0.5 -> affine (0.92+ on Fashion-MNIST)",
                (s, k) -> new Builder(s, k).channels(32, 64).kernel(3).pool(2).norm(Normalization.BATCH)
                        .convKeep(0.8).hidden(256).dropoutKeep(0.5)));
        PRESETS.put("cs231n", new Preset("CS231N's three-layer convnet: conv7x7x32 -> ReLU -> maxpool2 -> affine 100 "
                + "-> ReLU -> affine", (s, k) -> new Builder(s, k).channels(32).kernel(7).pool(2)
                .norm(Normalization.NONE).hidden(100)));
        PRESETS.put("vgg", new Preset("[conv3x3 -> batchnorm -> ReLU] x2 -> maxpool2 -> spatial dropout 0.8 with "
                + "32, 64 channels -> affine 256 -> batchnorm -> ReLU -> dropout 0.5 -> affine", (s, k) -> new Builder(s, k)
                .channels(32, 64).convsPerStage(2).kernel(3).pool(2).norm(Normalization.BATCH).convKeep(0.8)
                .hidden(256).dropoutKeep(0.5)));
    }

    public ConvNetConfig {
        check(inputShape != null && inputShape.rank() == 3, "inputShape", "[C,H,W]", inputShape);
        check(numClasses >= 2, "numClasses", "an integer >= 2", numClasses);
        check(channels != null && !channels.isEmpty(), "channels", "at least one stage", channels);
        channels = List.copyOf(channels);
        for (int c : channels) {
            check(c >= 1, "channels", "counts >= 1", channels);
        }
        check(convsPerStage >= 1, "convsPerStage", "an integer >= 1", convsPerStage);
        check(kernel >= 1 && kernel % 2 == 1, "kernel", "an odd integer >= 1 (\"same\" padding (K-1)/2)", kernel);
        check(pool >= 0, "pool", "0 (none) or a window >= 1", pool);
        check(norm != null, "norm", "none, batch, layer or group", null);
        if (norm == Normalization.GROUP) {
            for (int c : channels) {
                check(groups >= 1 && c % groups == 0, "groups", "a divisor of every stage's channels " + channels,
                        groups);
            }
        }
        hiddenDims = List.copyOf(hiddenDims);
        for (int h : hiddenDims) {
            check(h >= 1, "hiddenDims", "widths >= 1", hiddenDims);
        }
        check(convKeep > 0 && convKeep <= 1, "convKeep", "a probability in (0,1]", convKeep);
        check(dropoutKeep > 0 && dropoutKeep <= 1, "dropoutKeep", "a probability in (0,1]", dropoutKeep);
        check(weightInit != null, "weightInit", "a WeightInit", null);
        check(reg >= 0 && Double.isFinite(reg), "reg", "a finite value >= 0", reg);
        check(batchNorm != null && batchNorm.eps() > 0, "batchNorm", "BatchNormOptions with eps > 0", batchNorm);
        preset = preset == null ? "" : preset;
    }

    private static void check(boolean ok, String arg, String expected, Object actual) {
        if (!ok) {
            throw Contracts.bad("ConvNetConfig", arg, expected, actual);
        }
    }

    /** The preset names with a one-line summary each, the default first. */
    public static Map<String, String> presets() {
        Map<String, String> m = new LinkedHashMap<>();
        PRESETS.forEach((name, p) -> m.put(name, p.summary()));
        return m;
    }

    /**
     * A builder holding preset {@code name} for examples of {@code inputShape} {@code [C,H,W]} and {@code numClasses}
     * classes; an unknown name lists the presets.
     */
    public static Builder preset(String name, Shape inputShape, int numClasses) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        Preset p = PRESETS.get(n);
        if (p == null) {
            throw new IllegalArgumentException("ConvNetConfig: preset expected one of " + PRESETS.keySet() + ", got '"
                    + name + "'");
        }
        Builder b = p.builder().apply(inputShape, numClasses);
        b.preset = n;
        return b;
    }

    /** A builder with no preset: one stage of 32 3×3 convs, pool 2, no norm, no hidden layer. */
    public static Builder builder(Shape inputShape, int numClasses) {
        return new Builder(inputShape, numClasses);
    }

    /** A builder holding this configuration. */
    public Builder toBuilder() {
        Builder b = new Builder(inputShape, numClasses);
        b.channels = new ArrayList<>(channels);
        b.convsPerStage = convsPerStage;
        b.kernel = kernel;
        b.pool = pool;
        b.norm = norm;
        b.groups = groups;
        b.normalizeHidden = normalizeHidden;
        b.hidden = new ArrayList<>(hiddenDims);
        b.convKeep = convKeep;
        b.dropoutKeep = dropoutKeep;
        b.globalPool = globalPool;
        b.weightInit = weightInit;
        b.reg = reg;
        b.seed = seed;
        b.batchNorm = batchNorm;
        b.preset = preset;
        return b;
    }

    /** The G the conv norm uses: {@link #groups()} for group norm, 1 for layer norm. */
    public int effectiveGroups() {
        return norm == Normalization.LAYER ? 1 : groups;
    }

    /**
     * The layers, with one seed per conv, affine, spatial-dropout and dropout layer drawn from {@link #seed()} in
     * forward order.
     */
    @Override
    public NetSpec spec() {
        SplittableRandom seeds = new SplittableRandom(seed);
        NetSpec.Builder b = NetSpec.builder(inputShape, numClasses).reg(reg).description(toString());
        float eps = batchNorm.eps();
        int c = inputShape.dim(0);
        int h = inputShape.dim(1);
        int w = inputShape.dim(2);
        for (int out : channels) {
            for (int i = 0; i < convsPerStage; i++) {
                b.add(Conv2dLayer.TYPE, "in_channels", c, "out_channels", out, "kernel", kernel, "stride", 1,
                        "padding", (kernel - 1) / 2, "bias", norm == Normalization.NONE, "init", weightInit,
                        "seed", seeds.nextLong());
                c = out;
                switch (norm) {
                    case BATCH -> b.add(SpatialBatchNormLayer.TYPE, "channels", out, "eps", eps, "decay",
                            batchNorm.decay(), "unbiased_running_var", batchNorm.unbiasedRunningVar(),
                            "cumulative_average", batchNorm.cumulativeAverage());
                    case GROUP, LAYER -> b.add(GroupNormLayer.TYPE, "channels", out, "groups", effectiveGroups(),
                            "eps", eps);
                    default -> { }
                }
                b.add(ReluLayer.TYPE);
            }
            if (pool > 0) {
                b.add(MaxPoolLayer.TYPE, "kernel", pool, "stride", pool);
                h = h >= pool ? (h - pool) / pool + 1 : 0;
                w = w >= pool ? (w - pool) / pool + 1 : 0;
            }
            if (convKeep < 1) {
                b.add(SpatialDropoutLayer.TYPE, "keep", convKeep, "seed", seeds.nextLong());
            }
        }
        int in;
        if (globalPool) {
            b.add(GlobalAvgPoolLayer.TYPE);
            in = c;
        } else {
            b.add(FlattenLayer.TYPE);
            in = c * Math.max(h, 1) * Math.max(w, 1);
        }
        for (int width : hiddenDims) {
            b.add(AffineLayer.TYPE, "in", in, "out", width, "init", weightInit, "seed", seeds.nextLong());
            if (normalizeHidden) {
                switch (norm) {
                    case BATCH -> b.add(BatchNormLayer.TYPE, "features", width, "eps", eps, "decay",
                            batchNorm.decay(), "unbiased_running_var", batchNorm.unbiasedRunningVar(),
                            "cumulative_average", batchNorm.cumulativeAverage());
                    case GROUP, LAYER -> b.add(LayerNormLayer.TYPE, "features", width, "eps", eps);
                    default -> { }
                }
            }
            b.add(ReluLayer.TYPE);
            if (dropoutKeep < 1) {
                b.add(DropoutLayer.TYPE, "keep", dropoutKeep, "seed", seeds.nextLong());
            }
            in = width;
        }
        b.add(AffineLayer.TYPE, "in", in, "out", numClasses, "init", weightInit, "seed", seeds.nextLong());
        return b.build();
    }

    /**
     * A compact description such as
     * {@code cnn fashion [1,28,28] conv3x3x32-pool2-conv3x3x64-pool2-fc256-10 batch keep=0.5 init=he reg=0.0 seed=1}.
     */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("cnn");
        if (!preset.isEmpty()) {
            b.append(' ').append(preset);
        }
        b.append(' ').append(inputShape).append(' ');
        List<String> parts = new ArrayList<>();
        for (int out : channels) {
            for (int i = 0; i < convsPerStage; i++) {
                parts.add("conv" + kernel + "x" + kernel + "x" + out);
            }
            if (pool > 0) {
                parts.add("pool" + pool);
            }
        }
        parts.add(globalPool ? "gap" : "flatten");
        hiddenDims.forEach(hd -> parts.add("fc" + hd));
        parts.add(Integer.toString(numClasses));
        b.append(String.join("-", parts)).append(' ').append(norm.id());
        if (norm == Normalization.GROUP) {
            b.append(" G=").append(groups);
        }
        if (norm != Normalization.NONE && !hiddenNormalized()) {
            b.append(" (convs only)");
        }
        if (convKeep < 1) {
            b.append(" conv-keep=").append(convKeep);
        }
        return b.append(" keep=").append(dropoutKeep).append(" init=").append(weightInit).append(" reg=").append(reg)
                .append(" seed=").append(seed).toString();
    }

    private boolean hiddenNormalized() {
        return normalizeHidden || hiddenDims.isEmpty();
    }

    /** Builds a {@link ConvNetConfig}. */
    public static final class Builder {
        private final Shape inputShape;
        private final int numClasses;
        private List<Integer> channels = new ArrayList<>(List.of(32));
        private int convsPerStage = 1;
        private int kernel = 3;
        private int pool = 2;
        private Normalization norm = Normalization.NONE;
        private int groups = DEFAULT_GROUPS;
        private boolean normalizeHidden = true;
        private List<Integer> hidden = new ArrayList<>();
        private double convKeep = 1;
        private double dropoutKeep = 1;
        private boolean globalPool;
        private WeightInit weightInit = WeightInit.he();
        private double reg;
        private long seed;
        private BatchNormOptions batchNorm = BatchNormOptions.defaults();
        private String preset = "";

        private Builder(Shape inputShape, int numClasses) {
            this.inputShape = inputShape;
            this.numClasses = numClasses;
        }

        /** One stage per entry, with that many output channels. */
        public Builder channels(int... c) {
            channels = Arrays.stream(c).boxed().collect(Collectors.toCollection(ArrayList::new));
            return this;
        }

        public Builder channels(List<Integer> c) {
            channels = new ArrayList<>(c);
            return this;
        }

        public Builder convsPerStage(int n) {
            convsPerStage = n;
            return this;
        }

        public Builder kernel(int k) {
            kernel = k;
            return this;
        }

        /** The max-pool window after each stage; 0 for none. */
        public Builder pool(int p) {
            pool = p;
            return this;
        }

        public Builder norm(Normalization n) {
            norm = n;
            return this;
        }

        public Builder groups(int g) {
            groups = g;
            return this;
        }

        public Builder normalizeHidden(boolean on) {
            normalizeHidden = on;
            return this;
        }

        public Builder hidden(int... dims) {
            hidden = Arrays.stream(dims).boxed().collect(Collectors.toCollection(ArrayList::new));
            return this;
        }

        public Builder hidden(List<Integer> dims) {
            hidden = new ArrayList<>(dims);
            return this;
        }

        /** Keep probability of the spatial dropout after each stage; 1 = none. */
        public Builder convKeep(double keep) {
            convKeep = keep;
            return this;
        }

        /** Keep probability of the dropout after each hidden affine layer; 1 = none. */
        public Builder dropoutKeep(double keep) {
            dropoutKeep = keep;
            return this;
        }

        public Builder globalPool(boolean on) {
            globalPool = on;
            return this;
        }

        public Builder weightInit(WeightInit init) {
            weightInit = init;
            return this;
        }

        public Builder reg(double r) {
            reg = r;
            return this;
        }

        public Builder seed(long s) {
            seed = s;
            return this;
        }

        public Builder batchNorm(BatchNormOptions options) {
            batchNorm = options;
            return this;
        }

        public ConvNetConfig build() {
            return new ConvNetConfig(inputShape, numClasses, channels, convsPerStage, kernel, pool, norm, groups,
                    normalizeHidden, hidden, convKeep, dropoutKeep, globalPool, weightInit, reg, seed, batchNorm,
                    preset);
        }
    }
}
