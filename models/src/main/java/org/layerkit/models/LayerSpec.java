package org.layerkit.models;

import java.util.Map;
import java.util.Objects;

import org.layerkit.api.LayerConfig;

/**
 * One layer of a {@link NetSpec}: a type registered through the {@code LayerFactory} SPI ({@code affine},
 * {@code conv2d}, {@code batchnorm}, …) and the settings its factory reads.
 *
 * @param type   the registered type name
 * @param config the factory's settings (dimensions, seeds, options)
 */
public record LayerSpec(String type, LayerConfig config) implements java.io.Serializable {
    public LayerSpec {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(config, "config");
        if (type.isBlank() || !type.equals(type.trim())) {
            throw new IllegalArgumentException("LayerSpec: type expected a registered layer type name, got '" + type
                    + "'");
        }
    }

    /** A layer of {@code type} with key/value pairs: {@code LayerSpec.of("affine", "in", 784, "out", 256)}. */
    public static LayerSpec of(String type, Object... keysAndValues) {
        return new LayerSpec(type, LayerConfig.of(keysAndValues));
    }

    /** A layer of {@code type} with the settings of a map. */
    public static LayerSpec of(String type, Map<String, ?> settings) {
        return new LayerSpec(type, LayerConfig.of(settings));
    }

    /** Like {@code conv2d{in_channels=1, out_channels=32, kernel=3}}. */
    @Override
    public String toString() {
        return type + config;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LayerSpec l && l.type.equals(type) && l.config.asMap().equals(config.asMap());
    }

    @Override
    public int hashCode() {
        return type.hashCode() * 31 + config.asMap().hashCode();
    }
}
