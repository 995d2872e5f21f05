package org.layerkit.models;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

import org.layerkit.api.BatchNormOptions;
import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;
import org.layerkit.models.layers.AffineLayer;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.models.layers.DropoutLayer;
import org.layerkit.models.layers.LayerNormLayer;
import org.layerkit.models.layers.ReluLayer;
import org.layerkit.models.layers.WeightInit;

/**
 * The MLP configuration of a {@link SequentialNet}, as CS231N's {@code FullyConnectedNet} in {@code fc_net.py}:
 * {affine → [batchnorm | layernorm] → relu → [dropout]} × (L−1) → affine → softmax cross-entropy. Immutable; build
 * with {@link #builder(int, int)}, then {@code new SequentialNet(backend, config)}.
 *
 * <p>{@link #spec()} lays the layers out in that order; parameters are then named by layer index ({@code 0.W},
 * {@code 0.b}, {@code 1.gamma}, …), and {@link #legacyNames()} maps CS231N's names ({@code W1}, {@code b1},
 * {@code gamma1}, {@code running_mean1}, …), which checkpoints of format 1 used, onto them.
 *
 * @param inputDim      D, features per example
 * @param hiddenDims    the width of each hidden layer (may be empty: a softmax classifier)
 * @param numClasses    K
 * @param normalization none, batch or layer, after each hidden affine layer
 * @param dropoutKeep   keep probability of the dropout after each hidden ReLU; 1 = no dropout layers
 * @param weightInit    Gaussian with a fixed scale (CS231N {@code weight_scale}, default 1e-2) or He
 * @param reg           L2 strength: loss += 0.5·reg·ΣW² over the affine weights (not biases, γ, β)
 * @param seed          seeds every affine layer's weights and every dropout layer's masks
 * @param batchNorm     eps, decay and PyTorch-parity options of the batch-norm layers; its eps also serves layer norm
 */
public record FullyConnectedNetConfig(int inputDim, List<Integer> hiddenDims, int numClasses,
                                      Normalization normalization, double dropoutKeep, WeightInit weightInit,
                                      double reg, long seed, BatchNormOptions batchNorm) implements NetConfig {

    public FullyConnectedNetConfig {
        hiddenDims = List.copyOf(hiddenDims);
        check(inputDim >= 1, "inputDim", "an integer >= 1", inputDim);
        check(numClasses >= 2, "numClasses", "an integer >= 2", numClasses);
        for (int h : hiddenDims) {
            check(h >= 1, "hiddenDims", "widths >= 1", hiddenDims);
        }
        check(normalization != null && normalization != Normalization.GROUP, "normalization",
                "none, batch or layer (group normalization needs channels: use a ConvNetConfig)", normalization);
        check(dropoutKeep > 0 && dropoutKeep <= 1, "dropoutKeep", "a probability in (0,1]", dropoutKeep);
        check(weightInit != null, "weightInit", "a WeightInit", null);
        check(reg >= 0 && Double.isFinite(reg), "reg", "a finite value >= 0", reg);
        check(batchNorm != null, "batchNorm", "BatchNormOptions", null);
        check(batchNorm.eps() > 0, "batchNorm.eps", "a value > 0", batchNorm.eps());
    }

    private static void check(boolean ok, String arg, String expected, Object actual) {
        if (!ok) {
            throw Contracts.bad("FullyConnectedNetConfig", arg, expected, actual);
        }
    }

    /** Whether the hidden layers are followed by dropout. */
    public boolean useDropout() {
        return dropoutKeep < 1;
    }

    /** The number of affine layers, L = hidden layers + 1. */
    public int numLayers() {
        return hiddenDims.size() + 1;
    }

    /**
     * The layers: per hidden layer l = 1..L−1 an {@code affine} (seeded), a {@code batchnorm} or {@code layernorm}
     * (with {@link #batchNorm()}'s eps, decay and options), a {@code relu} and a {@code dropout} (seeded), then the
     * output {@code affine}. The seeds are drawn from {@link #seed()} in the order the original
     * {@code FullyConnectedNet} drew them (every affine layer's, then every dropout layer's), so a configuration gives
     * the same initial weights and masks as it always did.
     */
    @Override
    public NetSpec spec() {
        SplittableRandom seeds = new SplittableRandom(seed);
        int layers = numLayers();
        long[] affineSeeds = new long[layers];
        long[] dropoutSeeds = new long[layers];
        for (int i = 0; i < layers; i++) {
            affineSeeds[i] = seeds.nextLong();
        }
        for (int i = 0; i < layers; i++) {
            dropoutSeeds[i] = seeds.nextLong();
        }
        NetSpec.Builder b = NetSpec.builder(Shape.of(inputDim), numClasses).reg(reg).description(toString());
        int in = inputDim;
        for (int l = 1; l <= layers; l++) {
            int out = l == layers ? numClasses : hiddenDims.get(l - 1);
            b.add(AffineLayer.TYPE, "in", in, "out", out, "init", weightInit, "seed", affineSeeds[l - 1]);
            in = out;
            if (l == layers) {
                break;
            }
            switch (normalization) {
                case BATCH -> b.add(BatchNormLayer.TYPE, "features", out, "eps", batchNorm.eps(), "decay",
                        batchNorm.decay(), "unbiased_running_var", batchNorm.unbiasedRunningVar(),
                        "cumulative_average", batchNorm.cumulativeAverage());
                case LAYER -> b.add(LayerNormLayer.TYPE, "features", out, "eps", batchNorm.eps());
                default -> { }
            }
            b.add(ReluLayer.TYPE);
            if (useDropout()) {
                b.add(DropoutLayer.TYPE, "keep", dropoutKeep, "seed", dropoutSeeds[l - 1]);
            }
        }
        return b.build();
    }

    /**
     * CS231N's names of this MLP's tensors and counters — {@code W1, b1, gamma1, beta1, running_mean1, running_var1},
     * {@code batchnorm1.batches_tracked}, {@code dropout1.offset}, … (hidden layer l, output layer L) — mapped to the
     * {@link SequentialNet}'s {@code <index>.<name>}, in the net's order. Checkpoints of format 1 are read through it.
     */
    public Map<String, String> legacyNames() {
        Map<String, String> m = new LinkedHashMap<>();
        int index = 0;
        int layers = numLayers();
        for (int l = 1; l <= layers; l++) {
            m.put("W" + l, index + ".W");
            m.put("b" + l, index + ".b");
            index++;
            if (l == layers) {
                break;
            }
            if (normalization == Normalization.BATCH || normalization == Normalization.LAYER) {
                m.put("gamma" + l, index + ".gamma");
                m.put("beta" + l, index + ".beta");
                if (normalization == Normalization.BATCH) {
                    m.put("running_mean" + l, index + ".running_mean");
                    m.put("running_var" + l, index + ".running_var");
                    m.put("batchnorm" + l + "." + BatchNormLayer.BATCHES_TRACKED,
                            index + "." + BatchNormLayer.BATCHES_TRACKED);
                }
                index++;
            }
            index++; // relu
            if (useDropout()) {
                m.put("dropout" + l + "." + DropoutLayer.OFFSET, index + "." + DropoutLayer.OFFSET);
                index++;
            }
        }
        return m;
    }

    /** A builder for a net from {@code inputDim} features to {@code numClasses} classes. */
    public static Builder builder(int inputDim, int numClasses) {
        return new Builder(inputDim, numClasses);
    }

    /** A builder preset with this configuration. */
    public Builder toBuilder() {
        Builder b = new Builder(inputDim, numClasses);
        b.hidden = new ArrayList<>(hiddenDims);
        b.normalization = normalization;
        b.dropoutKeep = dropoutKeep;
        b.weightInit = weightInit;
        b.reg = reg;
        b.seed = seed;
        b.batchNorm = batchNorm;
        return b;
    }

    /** The configuration as ordered string pairs (what checkpoints store); {@link #fromMap} reads it back. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("input_dim", Integer.toString(inputDim));
        m.put("hidden_dims", hiddenDims.stream().map(String::valueOf).collect(Collectors.joining(",")));
        m.put("num_classes", Integer.toString(numClasses));
        m.put("normalization", normalization.id());
        m.put("dropout_keep", Double.toString(dropoutKeep));
        m.put("weight_init", weightInit.toString());
        m.put("reg", Double.toString(reg));
        m.put("seed", Long.toString(seed));
        m.put("bn_eps", Float.toString(batchNorm.eps()));
        m.put("bn_decay", Float.toString(batchNorm.decay()));
        m.put("bn_unbiased_running_var", Boolean.toString(batchNorm.unbiasedRunningVar()));
        m.put("bn_cumulative_average", Boolean.toString(batchNorm.cumulativeAverage()));
        return m;
    }

    /**
     * Parses {@link #toMap()}'s output; a missing or malformed field is an IllegalArgumentException naming it
     * ({@code field 'input_dim': expected an integer, got 'abc'}).
     */
    public static FullyConnectedNetConfig fromMap(Map<String, String> m) {
        String hidden = MapFields.string(m, "hidden_dims").trim();
        List<Integer> dims;
        try {
            dims = hidden.isEmpty() ? List.of()
                    : Arrays.stream(hidden.split(",")).map(s -> Integer.parseInt(s.trim())).toList();
        } catch (NumberFormatException e) {
            throw MapFields.malformed("hidden_dims", "comma-separated integers", hidden);
        }
        Normalization norm;
        WeightInit init;
        try {
            norm = Normalization.parse(MapFields.string(m, "normalization"));
        } catch (IllegalArgumentException e) {
            throw MapFields.malformed("normalization", "none, batch or layer", m.get("normalization"));
        }
        if (norm == Normalization.GROUP) {
            throw MapFields.malformed("normalization", "none, batch or layer", m.get("normalization"));
        }
        try {
            init = WeightInit.parse(MapFields.string(m, "weight_init"));
        } catch (IllegalArgumentException e) {
            throw MapFields.malformed("weight_init", "'he' or a positive number", m.get("weight_init"));
        }
        return new FullyConnectedNetConfig(MapFields.integer(m, "input_dim"), dims, MapFields.integer(m, "num_classes"),
                norm, MapFields.real(m, "dropout_keep"), init, MapFields.real(m, "reg"), MapFields.int64(m, "seed"),
                new BatchNormOptions(MapFields.float32(m, "bn_eps"), MapFields.float32(m, "bn_decay"),
                        MapFields.bool(m, "bn_unbiased_running_var"), MapFields.bool(m, "bn_cumulative_average")));
    }

    /** A compact description such as {@code 784-256-128-100-10 batch keep=0.9 he reg=0.0 seed=1}. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder().append(inputDim);
        hiddenDims.forEach(h -> b.append('-').append(h));
        return b.append('-').append(numClasses).append(' ').append(normalization.id())
                .append(" keep=").append(dropoutKeep).append(" init=").append(weightInit)
                .append(" reg=").append(reg).append(" seed=").append(seed).toString();
    }

    /** Builds a {@link FullyConnectedNetConfig}; defaults: no hidden layers, no normalization, no dropout,
     * Gaussian init with scale 1e-2, reg 0, seed 0, {@link BatchNormOptions#defaults()}. */
    public static final class Builder {
        private final int inputDim;
        private final int numClasses;
        private List<Integer> hidden = new ArrayList<>();
        private Normalization normalization = Normalization.NONE;
        private double dropoutKeep = 1;
        private WeightInit weightInit = WeightInit.gaussian(WeightInit.DEFAULT_SCALE);
        private double reg;
        private long seed;
        private BatchNormOptions batchNorm = BatchNormOptions.defaults();

        private Builder(int inputDim, int numClasses) {
            this.inputDim = inputDim;
            this.numClasses = numClasses;
        }

        public Builder hidden(int... dims) {
            hidden = Arrays.stream(dims).boxed().collect(Collectors.toCollection(ArrayList::new));
            return this;
        }

        public Builder hidden(List<Integer> dims) {
            hidden = new ArrayList<>(dims);
            return this;
        }

        public Builder normalization(Normalization n) {
            normalization = n;
            return this;
        }

        /** Keep probability of the dropout layers; 1 (the default) means none. */
        public Builder dropoutKeep(double keep) {
            dropoutKeep = keep;
            return this;
        }

        public Builder weightScale(double scale) {
            weightInit = WeightInit.gaussian(scale);
            return this;
        }

        public Builder heInit() {
            weightInit = WeightInit.he();
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

        public FullyConnectedNetConfig build() {
            return new FullyConnectedNetConfig(inputDim, hidden, numClasses, normalization, dropoutKeep, weightInit,
                    reg, seed, batchNorm);
        }
    }
}
