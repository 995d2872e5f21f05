/** The picocli {@code layerkit} command, one class per subcommand, and the helpers they share. */
package org.layerkit.cli;
