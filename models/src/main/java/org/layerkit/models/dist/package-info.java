/**
 * Data-parallel training across replicas: synchronized batch normalization over a {@link org.layerkit.api.Collective},
 * and {@link org.layerkit.models.dist.DataParallelTrainer}, which holds all of a group's replicas in one process or
 * one member of a group spread over threads or JVMs.
 */
package org.layerkit.models.dist;
