/** The OpenCL 1.2 backend: JOCL, one context and in-order queue per backend, kernels in {@code kernels/*.cl}. */
package org.layerkit.opencl;
