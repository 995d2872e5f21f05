/** Saving and loading trained nets with their optimizer state in a versioned, CRC-checked binary file, written atomically. */
package org.layerkit.models.checkpoint;
