/**
 * Command-line checks and timings of a backend on a real device, runnable from plain jars (the GPU bundle's entry
 * point, {@link org.layerkit.tools.GpuCheck}): they need the conformance kit at run time, which no backend does.
 */
package org.layerkit.tools;
