package org.layerkit.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The top-level {@code layerkit} command. It does nothing itself: without a subcommand it is a usage error (exit 2).
 *
 * <p>Exit codes of every subcommand: 0 success, 1 failure (a message on standard error, the stack trace only with
 * {@code -v}), 2 usage error (bad or missing options).
 */
@Command(name = "layerkit",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
                "Normalization and dropout layers on pluggable CPU and OpenCL backends:",
                "train, evaluate and export fully connected and convolutional nets, benchmark and check backends."},
        subcommands = {
                TrainCommand.class,
                EvaluateCommand.class,
                ExportCommand.class,
                ExperimentCommand.class,
                BackendsCommand.class,
                BenchCommand.class,
                ConformanceCommand.class,
                CommandLine.HelpCommand.class},
        footerHeading = "%nExit codes:%n",
        footer = {"  0  success", "  1  failure (message on stderr; -v adds the stack trace)", "  2  usage error"})
public final class LayerkitCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "Missing subcommand: choose one of " + String.join(", ", spec.subcommands().keySet()));
    }
}
