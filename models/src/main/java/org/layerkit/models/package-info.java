/**
 * The one sequential net of layers ({@link org.layerkit.models.SequentialNet}, built from a
 * {@link org.layerkit.models.NetSpec}) and its configurations — the MLP and the CNN with its presets — trainable on
 * whichever backend is selected.
 */
package org.layerkit.models;
