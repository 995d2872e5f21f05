package org.layerkit.cli;

import picocli.CommandLine;

/** Entry point of the runnable distribution ({@code java -jar layerkit.jar}): runs the command and exits with its code. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        // charts are rendered to PNG files, never shown; no display is needed (or wanted) on a server
        System.setProperty("java.awt.headless", "true");
        // one line per log record ("INFO: selected backend 'cpu' ..."), not java.util.logging's two-line default
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%4$s: %5$s%6$s%n");
        }
        CommandLine cl = new CommandLine(new LayerkitCommand());
        cl.setParameterExceptionHandler(Main::shortUsageError);
        int code = cl.execute(args);
        System.exit(code);
    }

    /** A usage error as two lines, the problem and where help is, instead of the whole usage text; exit code 2. */
    static int shortUsageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        java.io.PrintWriter err = cmd.getErr();
        err.println(cmd.getColorScheme().errorText(e.getMessage()));
        CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }
}
