/** Test-only backend providers registered through the test class path's META-INF/services. */
package org.layerkit.cli.testing;
