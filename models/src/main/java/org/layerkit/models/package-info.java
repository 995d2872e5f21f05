/** Fully connected networks built from the standard layers, trainable on whichever backend is selected. */
package org.layerkit.models;
