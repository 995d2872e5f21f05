package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class LayerkitCommandTest {
    static final List<String> SUBCOMMANDS =
            List.of("train", "evaluate", "export", "experiment", "backends", "bench", "conformance");

    @Test
    void helpListsEverySubcommandAndExitCodes() {
        Cli.Run r = Cli.run("--help");
        assertEquals(0, r.exit(), r::toString);
        for (String s : SUBCOMMANDS) {
            assertTrue(r.out().contains(s), () -> s + " missing from\n" + r.out());
        }
        assertTrue(r.out().contains("Exit codes"), r::toString);
    }

    @Test
    void versionNamesLayerkitAndItsVersion() {
        Cli.Run r = Cli.run("--version");
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().startsWith("layerkit " + VersionProvider.version()), r::toString);
        assertFalse(VersionProvider.version().equals("unknown"), "version.properties was not filtered by Maven");
    }

    @ParameterizedTest
    @ValueSource(strings = {"train", "evaluate", "export", "experiment", "backends", "bench", "conformance"})
    void everySubcommandHasHelpAndVersion(String sub) {
        Cli.Run help = Cli.run(sub, "--help");
        assertEquals(0, help.exit(), help::toString);
        assertTrue(help.out().contains("Usage: layerkit " + sub), help::toString);
        assertTrue(help.out().contains("--verbose"), help::toString);
        assertFalse(help.out().contains("[picocli WARN]") || help.err().contains("[picocli WARN]"),
                "a help text with an unescaped % or a bad format\n" + help);
        Cli.Run version = Cli.run(sub, "--version");
        assertEquals(0, version.exit(), version::toString);
        assertTrue(version.out().startsWith("layerkit "), version::toString);
    }

    @Test
    void missingSubcommandIsAUsageError() {
        Cli.Run r = Cli.run();
        assertEquals(CommandLine.ExitCode.USAGE, r.exit(), r::toString);
        assertTrue(r.err().contains("Missing subcommand"), r::toString);
    }

    @ParameterizedTest
    @ValueSource(strings = {"--no-such-option", "frobnicate"})
    void unknownOptionsAndCommandsAreUsageErrors(String arg) {
        Cli.Run r = Cli.run(arg);
        assertEquals(2, r.exit(), r::toString);
        assertFalse(r.err().contains("\tat "), "no stack trace expected\n" + r);
    }

    @Test
    void badOptionOfASubcommandIsAUsageError() {
        Cli.Run r = Cli.run("bench", "--repeats", "many");
        assertEquals(2, r.exit(), r::toString);
        assertTrue(r.err().contains("--repeats"), r::toString);
    }
}
