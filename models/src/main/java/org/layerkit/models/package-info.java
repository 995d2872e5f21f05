/** The one sequential net of layers and its configurations (the MLP, the CNN and its presets), trainable on whichever backend is selected. */
package org.layerkit.models;
