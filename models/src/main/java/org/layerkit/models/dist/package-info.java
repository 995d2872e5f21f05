/** Data-parallel training across replicas: synchronized batch normalization over a {@link org.layerkit.api.Collective}. */
package org.layerkit.models.dist;
