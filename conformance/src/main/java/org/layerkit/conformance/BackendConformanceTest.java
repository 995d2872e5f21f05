package org.layerkit.conformance;

import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.layerkit.api.Backend;

/**
 * The JUnit 5 entry point for backend authors: subclass it, implement {@link #backend()}, and every case of the
 * {@link Catalogue} runs as one dynamic test named after the case, e.g. {@code batchnorm.backward[N=1000,D=333]}.
 * FAILED cases fail with the case's message; UNSUPPORTED ones are aborted (shown as skipped) with the reason.
 *
 * <p>The backend is created once per test class and closed after all its tests. {@link #backend()} may call
 * {@link Assumptions#assumeTrue(boolean, String)} to skip the whole class (no device, say). The system properties
 * {@value #INCLUDE} and {@value #EXCLUDE} select cases by regex, searched in the case name.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class BackendConformanceTest {
    /** System property: only cases whose name contains a match of this regex run. */
    public static final String INCLUDE = "layerkit.conformance.include";
    /** System property: cases whose name contains a match of this regex are left out. */
    public static final String EXCLUDE = "layerkit.conformance.exclude";

    private Backend backend;

    /** Creates the backend under test; called once per test class. */
    protected abstract Backend backend();

    /**
     * The regex of the cases to run (searched in each case name): by default the system property {@value #INCLUDE},
     * or every case when it is unset. A subclass that runs the kit on a variant of its backend may narrow it.
     */
    protected String include() {
        return System.getProperty(INCLUDE);
    }

    /**
     * A new instance of the backend under test, distinct from {@link #backend()}'s, for the lifecycle cases (what a
     * closed backend's tensors do, ...), which close it; null (the default) reports those cases UNSUPPORTED.
     */
    protected Backend newBackend() {
        return null;
    }

    /** One dynamic test per selected case. */
    @TestFactory
    public final Stream<DynamicTest> conformance() {
        if (backend == null) {
            backend = backend();
            Assertions.assertNotNull(backend, getClass().getSimpleName() + ".backend() returned null");
        }
        Backend b = backend;
        return Catalogue.select(include(), System.getProperty(EXCLUDE)).stream()
                .map(c -> DynamicTest.dynamicTest(c.name(), () -> {
                    Outcome o = c.run(b, this::newBackend);
                    switch (o.status()) {
                        case PASSED -> {
                        }
                        case UNSUPPORTED -> Assumptions.assumeTrue(false, c.name() + " UNSUPPORTED: " + o.message());
                        case FAILED -> Assertions.fail(c.name() + " FAILED on " + ConformanceRunner.describe(b)
                                + ":\n" + o.message());
                        default -> throw new IllegalStateException("unknown status " + o.status());
                    }
                }));
    }

    /** Closes the backend after every case of this class has run. */
    @AfterAll
    public final void closeBackend() {
        if (backend != null) {
            backend.close();
            backend = null;
        }
    }
}
