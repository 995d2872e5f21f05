package org.layerkit.opencl;

import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.layerkit.api.BackendOptions;
import org.layerkit.conformance.Catalogue;
import org.layerkit.conformance.Outcome;

/**
 * The kit's conv2d cases on the direct kernels (option {@code conv=direct}), the variant that im2col + GEMM was
 * measured against and that stays selectable for timing on new devices; im2col runs the whole kit in
 * {@link ClBackendConformanceTest} (with CLBlast) and {@link ClOtherPathConformanceTest} (with the tiled GEMM).
 */
class ClConvDirectConformanceTest {
    private static ClBackend direct;

    private static synchronized ClBackend backend() {
        ClTestBackend.assumeAvailable();
        if (direct == null || direct.isClosed()) {
            direct = (ClBackend) new ClBackendProvider().create(BackendOptions.of(ClBackendProvider.CONV, "direct"));
        }
        return direct;
    }

    @AfterAll
    static void close() {
        if (direct != null) {
            direct.close();
        }
    }

    @TestFactory
    Stream<DynamicTest> theKitsConvCasesPassOnTheDirectKernels() {
        return Catalogue.select("^conv2d\\.", null).stream().map(c -> DynamicTest.dynamicTest("conv=direct: " + c.name(),
                () -> {
                    Outcome o = c.run(backend());
                    Assertions.assertTrue(o.isPassed(), c.name() + " with conv=direct: " + o.status() + " "
                            + o.message());
                }));
    }
}
