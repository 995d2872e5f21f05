package org.layerkit.api;

/**
 * A trainable tensor of a layer and its gradient (same shape, same backend). {@link Layer#backward} overwrites
 * {@code grad}; optimizers update {@code value} in place.
 */
public record Parameter(String name, Tensor value, Tensor grad) {
}
