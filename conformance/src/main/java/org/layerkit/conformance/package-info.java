/** The conformance kit: float64 reference kernels, a numerical gradient checker, a catalogue of cases, and the runner and JUnit base class that check any layerkit backend against them. */
package org.layerkit.conformance;
