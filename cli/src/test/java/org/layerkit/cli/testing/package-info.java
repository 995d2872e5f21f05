/** Test-only backend providers (never available; CPU with a planted bug), registered through the test META-INF/services. */
package org.layerkit.cli.testing;
