/** Command-line checks and timings for a backend on a real device: the GPU bundle's entry point. */
package org.layerkit.opencl.tools;
