package org.layerkit.api;

/**
 * The service a layer type registers in {@code META-INF/services/org.layerkit.api.LayerFactory}; {@link Layers}
 * finds it by {@link #type()}.
 */
public interface LayerFactory {
    /** The unique type name, e.g. {@code affine}, {@code batchnorm}. */
    String type();

    /** Creates a layer on {@code backend}; throws IllegalArgumentException naming a missing or bad config key. */
    Layer create(Backend backend, LayerConfig config);
}
