package org.layerkit.models;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

import org.layerkit.api.Contracts;
import org.layerkit.api.Shape;

/**
 * The one description of a {@link SequentialNet}: the shape of one example, the number of classes, the ordered layers
 * (each a registered type and its settings, PyTorch's {@code nn.Sequential} / DJL's {@code SequentialBlock}), the L2
 * strength, and a one-line description for people. The MLP ({@link FullyConnectedNetConfig}) and the CNN
 * ({@link ConvNetConfig}) are configurations that produce one; checkpoints store it (section {@code CONF}, see
 * {@link #toMap()}), so a saved net is rebuilt from it without knowing which configuration made it.
 *
 * @param inputShape  one example's shape without the batch dimension: {@code [D]} for an MLP, {@code [C,H,W]} for
 *                    images; the net takes {@code [N, inputShape…]}
 * @param numClasses  K: the last layer must output {@code [N,K]} (softmax cross-entropy follows)
 * @param layers      in forward order; at least one
 * @param reg         L2 strength: loss += 0.5·reg·ΣW² over every parameter named {@code W} (affine and conv weights,
 *                    not biases, γ or β), as CS231N's nets do
 * @param description for people (printed by the CLI, stored in checkpoints), e.g. the configuration's
 *                    {@code toString()}; may be empty
 */
public record NetSpec(Shape inputShape, int numClasses, List<LayerSpec> layers, double reg, String description)
        implements NetConfig, java.io.Serializable {
    /** The {@code format} value of {@link #toMap()}. */
    public static final String FORMAT = "sequential";

    public NetSpec {
        check(inputShape != null, "inputShape", "a Shape", null);
        check(numClasses >= 2, "numClasses", "an integer >= 2", numClasses);
        check(layers != null && !layers.isEmpty(), "layers", "at least one layer", layers);
        layers = List.copyOf(layers);
        check(reg >= 0 && Double.isFinite(reg), "reg", "a finite value >= 0", reg);
        description = description == null ? "" : description;
    }

    private static void check(boolean ok, String arg, String expected, Object actual) {
        if (!ok) {
            throw Contracts.bad("NetSpec", arg, expected, actual);
        }
    }

    @Override
    public NetSpec spec() {
        return this;
    }

    /** The same net with another description. */
    public NetSpec withDescription(String d) {
        return new NetSpec(inputShape, numClasses, layers, reg, d);
    }

    /** A builder for a net taking examples of {@code inputShape} to {@code numClasses} classes. */
    public static Builder builder(Shape inputShape, int numClasses) {
        return new Builder(inputShape, numClasses);
    }

    /**
     * The spec as ordered string pairs (a checkpoint's {@code CONF} section): {@code format=sequential},
     * {@code input_shape} (comma-separated), {@code num_classes}, {@code reg}, {@code description}, {@code layers}
     * (the count L), then for each layer i in 0..L−1 {@code layer.i.type} and its settings as {@code layer.i.<key>}.
     */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("input_shape", Arrays.stream(inputShape.dims()).mapToObj(String::valueOf).collect(Collectors.joining(",")));
        m.put("num_classes", Integer.toString(numClasses));
        m.put("reg", Double.toString(reg));
        m.put("description", description);
        m.put("layers", Integer.toString(layers.size()));
        for (int i = 0; i < layers.size(); i++) {
            LayerSpec l = layers.get(i);
            m.put("layer." + i + ".type", l.type());
            for (Map.Entry<String, String> e : l.config().asMap().entrySet()) {
                m.put("layer." + i + "." + e.getKey(), e.getValue());
            }
        }
        return m;
    }

    /** Whether {@code m} is a {@link #toMap()} (has {@code format=sequential}), not an older configuration. */
    public static boolean isSpecMap(Map<String, String> m) {
        return FORMAT.equals(m.get("format"));
    }

    /**
     * Parses {@link #toMap()}'s output; a missing or malformed field is an IllegalArgumentException naming it
     * ({@code field 'layer.3.type' is missing}).
     */
    public static NetSpec fromMap(Map<String, String> m) {
        String format = MapFields.string(m, "format");
        if (!FORMAT.equals(format)) {
            throw MapFields.malformed("format", "'" + FORMAT + "'", format);
        }
        String shapeText = MapFields.string(m, "input_shape");
        Shape shape;
        try {
            shape = Shape.of(Arrays.stream(shapeText.split(",")).mapToInt(s -> Integer.parseInt(s.trim())).toArray());
        } catch (IllegalArgumentException e) {
            throw MapFields.malformed("input_shape", "comma-separated dimensions >= 1", shapeText);
        }
        int count = MapFields.integer(m, "layers");
        if (count < 1) {
            throw MapFields.malformed("layers", "an integer >= 1", m.get("layers"));
        }
        List<Map<String, String>> settings = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            settings.add(new LinkedHashMap<>());
        }
        for (Map.Entry<String, String> e : m.entrySet()) {
            String k = e.getKey();
            if (!k.startsWith("layer.")) {
                continue;
            }
            int dot = k.indexOf('.', 6);
            int i;
            try {
                i = dot < 0 ? -1 : Integer.parseInt(k.substring(6, dot));
            } catch (NumberFormatException ex) {
                i = -1;
            }
            if (i < 0 || i >= count || dot == k.length() - 1) {
                throw new IllegalArgumentException("field '" + k + "': expected layer.<0.." + (count - 1)
                        + ">.<key>, got a key outside the " + count + " layers");
            }
            settings.get(i).put(k.substring(dot + 1), e.getValue());
        }
        List<LayerSpec> layers = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Map<String, String> s = settings.get(i);
            String type = s.remove("type");
            if (type == null) {
                throw new IllegalArgumentException("field 'layer." + i + ".type' is missing (have "
                        + new TreeMap<>(settings.get(i)).keySet() + ")");
            }
            layers.add(LayerSpec.of(type, s));
        }
        double reg = MapFields.real(m, "reg");
        if (!(reg >= 0) || Double.isInfinite(reg)) {
            throw MapFields.malformed("reg", "a finite value >= 0", m.get("reg"));
        }
        int classes = MapFields.integer(m, "num_classes");
        if (classes < 2) {
            throw MapFields.malformed("num_classes", "an integer >= 2", m.get("num_classes"));
        }
        return new NetSpec(shape, classes, layers, reg, m.getOrDefault("description", ""));
    }

    /** The description, or the layer types joined by arrows when there is none. */
    @Override
    public String toString() {
        return description.isEmpty()
                ? inputShape + " " + layers.stream().map(LayerSpec::type).collect(Collectors.joining(" -> "))
                : description;
    }

    /** Builds a {@link NetSpec} layer by layer. */
    public static final class Builder {
        private final Shape inputShape;
        private final int numClasses;
        private final List<LayerSpec> layers = new ArrayList<>();
        private double reg;
        private String description = "";

        private Builder(Shape inputShape, int numClasses) {
            this.inputShape = inputShape;
            this.numClasses = numClasses;
        }

        /** Appends a layer of {@code type} with key/value settings. */
        public Builder add(String type, Object... keysAndValues) {
            layers.add(LayerSpec.of(type, keysAndValues));
            return this;
        }

        public Builder add(LayerSpec layer) {
            layers.add(layer);
            return this;
        }

        public Builder reg(double r) {
            reg = r;
            return this;
        }

        public Builder description(String d) {
            description = d;
            return this;
        }

        public NetSpec build() {
            return new NetSpec(inputShape, numClasses, layers, reg, description);
        }
    }
}
