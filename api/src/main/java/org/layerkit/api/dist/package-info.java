/** Communication between the replicas of data-parallel training: the {@link org.layerkit.api.dist.Collective} SPI. */
package org.layerkit.api.dist;
