/** The standard layers (affine, ReLU, batch/spatial/layer/group normalization, inverted dropout) and their factories. */
package org.layerkit.models.layers;
