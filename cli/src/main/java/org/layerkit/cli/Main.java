package org.layerkit.cli;

import picocli.CommandLine;

/** Entry point of the runnable distribution ({@code java -jar layerkit.jar}): runs the command and exits with its code. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        // charts are rendered to PNG files, never shown; no display is needed (or wanted) on a server
        System.setProperty("java.awt.headless", "true");
        int code = new CommandLine(new LayerkitCommand()).execute(args);
        System.exit(code);
    }
}
