/** Runnable examples: the library quick start and the Fashion-MNIST training and comparison runs behind docs/results.md. */
package org.layerkit.models.examples;
