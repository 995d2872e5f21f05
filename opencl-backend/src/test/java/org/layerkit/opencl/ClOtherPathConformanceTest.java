package org.layerkit.opencl;

import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.conformance.BackendConformanceTest;

/**
 * The conformance kit once more with batchnorm's other kernel paths than the device's defaults (options
 * {@code fuseColumns} and {@code rowsPerItem}): the one-launch {@code norm_columns_*} kernels and 8 rows per
 * element-wise work-item on a CPU device such as PoCL, the split stats/merge/apply kernels and 1 row on a GPU. So
 * both paths are checked on whatever device runs the tests. Work-groups aim for 64 work-items (option
 * {@code groupSize}) instead of 256, so the kernels are also checked at another launch size. Dropout masks take the
 * other path too (option {@code dropoutMask}): pending on a CPU device, written by the forward on a GPU. GEMM, and
 * with it conv2d's im2col products, runs on the tiled kernel instead of CLBlast (option {@code gemm}), and conv2d's
 * workspaces are 1 MiB (option {@code convWorkspace}), so its large cases go in chunks both ways.
 */
class ClOtherPathConformanceTest extends BackendConformanceTest {
    @Override
    protected Backend backend() {
        ClTestBackend.assumeAvailable();
        boolean gpu = ClTestBackend.shared().device().gpu();
        return new ClBackendProvider().create(BackendOptions.of(Map.of(ClBackendProvider.FUSE_COLUMNS,
                gpu ? "off" : "on", ClBackendProvider.ROWS_PER_ITEM, gpu ? "1" : "8", ClBackendProvider.GROUP_SIZE, "64",
                ClBackendProvider.DROPOUT_MASK, gpu ? "eager" : "pending", ClBackendProvider.GEMM, "tiled",
                ClBackendProvider.CONV_WORKSPACE, "1")));
    }
}
