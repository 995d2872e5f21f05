package org.layerkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Op;
import org.layerkit.api.Tensor;

class ConformanceRunnerTest {

    /** Lacks the optimizer family and gets argmax wrong. */
    static class HalfBackend extends ReferenceBackend {
        @Override
        public boolean supports(Op op) {
            return op != Op.OPTIMIZER;
        }

        @Override
        public Tensor argmax(Tensor x) {
            return zeros(org.layerkit.api.Shape.of(x.shape().dim(0)));
        }
    }

    @Test
    void reportListsEveryCaseByNameAndEndsWithTheSummaryLine() {
        ConformanceReport r = new ConformanceRunner(new HalfBackend()).include("^(argmax|optimizer|relu)\\.?")
                .exclude("rejects").run();
        List<String> lines = r.toText().lines().toList();
        assertEquals(r.entries().size(), r.passed() + r.failed() + r.unsupported());
        for (ConformanceReport.Entry e : r.entries()) {
            assertTrue(lines.stream().anyMatch(l -> l.matches("(PASSED|FAILED|UNSUPPORTED) +\\Q" + e.name()
                    + "\\E \\(\\d+ ms\\)")), e.name() + " not listed in\n" + r.toText());
        }
        String summary = lines.get(lines.size() - 1);
        assertEquals(r.passed() + " passed, " + r.failed() + " failed, " + r.unsupported() + " unsupported", summary);
        assertTrue(lines.get(0).startsWith("conformance of backend 'reference' on #0 "), lines.get(0));
        assertEquals(Catalogue.select("^optimizer\\.", "rejects").size(), r.unsupported(), r.toText());
        assertTrue(r.failed() >= 3 && r.passed() >= 6, r.toText());
        assertFalse(r.ok());
        assertTrue(r.toText().contains("argmax [100]: "), "failure message indented under its case:\n" + r.toText());
    }

    @Test
    void excludeRemovesMatchingCases() {
        ConformanceRunner runner = new ConformanceRunner(new ReferenceBackend()).include("^gemm").exclude("rejects|\\[M=128");
        assertTrue(runner.cases().stream().allMatch(c -> c.name().startsWith("gemm") && !c.name().contains("rejects")
                && !c.name().contains("[M=128")));
        ConformanceReport r = runner.run();
        assertTrue(r.ok(), r.toText());
        assertEquals(runner.cases().size() + " passed, 0 failed, 0 unsupported", r.summary());
    }
}
