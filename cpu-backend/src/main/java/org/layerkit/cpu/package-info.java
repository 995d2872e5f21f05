/** The pure-Java CPU backend: heap tensors, readable reference kernels, and native BLAS for GEMM where present. */
package org.layerkit.cpu;
