package org.layerkit.cli;

import picocli.CommandLine.Option;

/** {@code -v/--verbose}, shared by every subcommand: stack traces on failure and more detail while running. */
public final class VerboseMixin {
    @Option(names = {"-v", "--verbose"}, description = "Print stack traces on failure and more detail while running.")
    boolean verbose;

    public boolean isVerbose() {
        return verbose;
    }
}
