/** In-memory labelled data sets, readers for MNIST/Fashion-MNIST (IDX) and CIFAR-10 (binary), splits and standardization. */
package org.layerkit.models.data;
