package org.layerkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Backend;
import org.layerkit.api.Op;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** The JUnit base class itself: naming, filtering, skipping unsupported cases, failing, closing the backend. */
class BackendConformanceTestEntryPointTest {

    static final class Subject extends BackendConformanceTest {
        int created;
        final ReferenceBackend backend;

        Subject(ReferenceBackend backend) {
            this.backend = backend;
        }

        @Override
        protected Backend backend() {
            created++;
            return backend;
        }
    }

    private static List<DynamicTest> tests(Subject s, String include, String exclude) {
        String oldIn = System.getProperty(BackendConformanceTest.INCLUDE);
        String oldEx = System.getProperty(BackendConformanceTest.EXCLUDE);
        try {
            set(BackendConformanceTest.INCLUDE, include);
            set(BackendConformanceTest.EXCLUDE, exclude);
            return s.conformance().toList();
        } finally {
            set(BackendConformanceTest.INCLUDE, oldIn);
            set(BackendConformanceTest.EXCLUDE, oldEx);
        }
    }

    private static void set(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }

    @Test
    void oneDynamicTestPerSelectedCaseNamedAfterIt() {
        Subject s = new Subject(new ReferenceBackend());
        List<DynamicTest> t = tests(s, "^layernorm\\.", "rejects");
        List<String> expected = Catalogue.select("^layernorm\\.", "rejects").stream().map(ConformanceCase::name)
                .toList();
        assertEquals(expected, t.stream().map(DynamicTest::getDisplayName).toList());
        assertTrue(expected.contains("layernorm.forward[N=1,D=5]"));
    }

    @Test
    void createsTheBackendOnceAndClosesItAfterAll() throws Throwable {
        Subject s = new Subject(new ReferenceBackend());
        for (DynamicTest t : tests(s, "^argmax\\[", null)) {
            t.getExecutable().execute();
        }
        tests(s, "^relu\\.forward\\[", null);
        assertEquals(1, s.created);
        s.closeBackend();
        assertTrue(s.backend.isClosed());
    }

    @Test
    void unsupportedCasesAbortAndFailedCasesFail() {
        ReferenceBackend partial = new ReferenceBackend() {
            @Override
            public boolean supports(Op op) {
                return op != Op.ARGMAX;
            }

            @Override
            public org.layerkit.api.Tensor relu(org.layerkit.api.Tensor x) {
                return copyOf(x);
            }
        };
        Subject s = new Subject(partial);
        DynamicTest argmax = tests(s, "^argmax\\[N=1,K=1\\]$", null).get(0);
        TestAbortedException aborted = assertThrows(TestAbortedException.class, () -> argmax.getExecutable().execute());
        assertTrue(aborted.getMessage().contains("UNSUPPORTED") && aborted.getMessage().contains("argmax"));
        DynamicTest relu = tests(s, "^relu\\.forward\\[shape=\\[1000,333\\]\\]$", null).get(0);
        AssertionFailedError failed = assertThrows(AssertionFailedError.class, () -> relu.getExecutable().execute());
        assertTrue(failed.getMessage().contains("relu(x) [1000,333]: "), failed.getMessage());
    }
}
