/** The minibatch training loop (Solver), its configuration, progress listeners and training history. */
package org.layerkit.models.train;
