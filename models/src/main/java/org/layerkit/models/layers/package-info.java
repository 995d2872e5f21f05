/**
 * The standard layers (affine, conv2d, ReLU, batch/spatial/layer/group normalization, max and global average pooling,
 * flatten, inverted and spatial dropout) and their factories, registered in
 * {@code META-INF/services/org.layerkit.api.LayerFactory}.
 */
package org.layerkit.models.layers;
