/** Backend-neutral tensors, kernel contracts, the Backend and Layer SPIs, and run-time backend discovery. */
package org.layerkit.api;
