package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.layerkit.cli.testing.BrokenReluBackendProvider;
import org.layerkit.cli.testing.UnavailableBackendProvider;

class ConformanceCommandTest {
    private static final Pattern SUMMARY = Pattern.compile("(?m)^(\\d+) passed, (\\d+) failed, (\\d+) unsupported$");

    @Test
    void reluCasesPassOnTheCpuBackend() {
        Cli.Run r = Cli.run("conformance", "--backend", "cpu", "--include", "relu.*");
        assertEquals(0, r.exit(), r::toString);
        Matcher m = SUMMARY.matcher(r.out());
        assertTrue(m.find(), r::toString);
        assertTrue(Integer.parseInt(m.group(1)) > 0, r::toString);
        assertEquals("0", m.group(2), r::toString);
        assertTrue(r.out().contains("PASSED"), r::toString);
        assertFalse(r.out().contains("FAILED "), r::toString);
    }

    @Test
    void theLifecycleCasesGetASecondInstanceOfTheBackendAndPass() {
        Cli.Run r = Cli.run("conformance", "--backend", "cpu", "--include", "backend_closed");
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("PASSED      elementwise.backend_closed[tensors=refused]"), r::toString);
        assertTrue(r.out().contains("PASSED      elementwise.reshape.backend_closed[tensors=refused]"), r::toString);
        Matcher m = SUMMARY.matcher(r.out());
        assertTrue(m.find(), r::toString);
        assertEquals("4 passed, 0 failed, 0 unsupported", m.group(), r::toString);
    }

    @Test
    void aFailingCaseIsReportedAndExitsOne() {
        Cli.Run r = Cli.run("conformance", "--backend", BrokenReluBackendProvider.NAME, "--include", "relu\\.forward");
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.out().contains("FAILED      relu.forward[shape=[1000,333]]"), r::toString);
        Matcher m = SUMMARY.matcher(r.out());
        assertTrue(m.find(), r::toString);
        assertTrue(Integer.parseInt(m.group(2)) > 0, r::toString);
        assertTrue(r.err().isEmpty(), "failing cases are a report, not an error\n" + r);
    }

    @Test
    void failuresOnlyHidesPassingCases() {
        Cli.Run r = Cli.run("conformance", "--backend", BrokenReluBackendProvider.NAME, "--include", "relu",
                "--failures-only");
        assertEquals(1, r.exit(), r::toString);
        assertFalse(r.out().contains("PASSED"), r::toString);
        assertTrue(r.out().contains("FAILED"), r::toString);
    }

    @Test
    void listNeedsNoBackendAndHonoursExclude() {
        Cli.Run all = Cli.run("conformance", "--list", "--include", "relu");
        Cli.Run some = Cli.run("conformance", "--list", "--include", "relu", "--exclude", "backward");
        assertEquals(0, all.exit(), all::toString);
        assertEquals(0, some.exit(), some::toString);
        assertTrue(all.out().contains("relu"), all::toString);
        assertTrue(some.out().lines().count() < all.out().lines().count(), () -> all + "\n" + some);
        assertFalse(some.out().contains("backward"), some::toString);
    }

    @Test
    void noMatchingCaseIsAFailureWithAHint() {
        Cli.Run r = Cli.run("conformance", "--backend", "cpu", "--include", "no-such-op-anywhere");
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains("no conformance case matches"), r::toString);
    }

    @Test
    void badRegexIsAUsageError() {
        Cli.Run r = Cli.run("conformance", "--include", "relu(");
        assertEquals(2, r.exit(), r::toString);
        assertTrue(r.err().contains("--include"), r::toString);
    }

    @Test
    void unavailableBackendFailsWithItsReasonAndNeverFallsBack() {
        Cli.Run r = Cli.run("conformance", "--backend=" + UnavailableBackendProvider.NAME, "--include", "relu");
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains("'" + UnavailableBackendProvider.NAME + "' was requested but is unavailable: "
                + UnavailableBackendProvider.REASON), r::toString);
        assertTrue(r.err().contains(UnavailableBackendProvider.CAUSE), r::toString);
        assertFalse(r.out().contains("PASSED"), "must not fall back to another backend\n" + r);
        assertFalse(r.err().contains("\tat "), r::toString);
    }

    @Test
    void unknownBackendListsTheInstalledOnes() {
        Cli.Run r = Cli.run("conformance", "--backend", "cuda");
        assertEquals(1, r.exit(), r::toString);
        assertTrue(r.err().contains("unknown backend 'cuda'") && r.err().contains("cpu (available)"), r::toString);
    }
}
