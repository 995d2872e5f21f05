package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.layerkit.api.Backend;
import org.layerkit.api.BatchNormParams;
import org.layerkit.api.DeviceInfo;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.Mode;
import org.layerkit.api.NormResult;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** Every bad argument is rejected with "op: argument expected …, got …". */
class CpuContractErrorsTest {
    private static final BatchNormParams BN = new BatchNormParams(1e-5f, 0.9f, false);
    private static CpuBackend be;

    @BeforeAll
    static void open() {
        be = new CpuBackend();
    }

    @AfterAll
    static void close() {
        be.close();
    }

    private static void assertMessage(Class<? extends RuntimeException> type, Executable call, String... parts) {
        RuntimeException e = assertThrows(type, call);
        for (String p : parts) {
            assertTrue(e.getMessage() != null && e.getMessage().contains(p),
                    "message should contain '" + p + "': " + e.getMessage());
        }
    }

    private static void assertBad(Executable call, String... parts) {
        assertMessage(IllegalArgumentException.class, call, parts);
    }

    private Tensor z(int... dims) {
        return be.zeros(Shape.of(dims));
    }

    @Test
    void shapeMismatchNamesOpArgumentExpectedAndActual() {
        assertBad(() -> be.batchNormForward(z(4, 2), z(3), z(2), z(2), z(2), BN, Mode.TRAIN),
                "batchnorm.forward", "gamma", "expected shape [2]", "got shape [3]");
        assertBad(() -> be.layerNormForward(z(2, 3, 1, 1), z(3), z(3), 1e-5f),
                "layernorm.forward", "x", "expected rank 2", "got rank 4");
        assertBad(() -> be.gemm(z(2, 3), false, z(4, 5), false, z(2, 5), 1f, 0f),
                "gemm", "b", "expected inner dimension K = 3", "K = 4");
        assertBad(() -> be.axpy(1f, z(2, 2), z(4)), "axpy", "y", "expected shape [2,2]", "got shape [4]");
        assertBad(() -> be.addBias(z(3, 4), z(3)), "bias.add", "bias", "expected shape [4]", "got shape [3]");
        assertBad(() -> be.softmaxCrossEntropy(z(3, 4), z(4)), "softmax_cross_entropy", "labels",
                "expected shape [3]", "got shape [4]");
        assertBad(() -> be.upload(new float[5], Shape.of(2, 3)), "upload", "data", "expected length 6",
                "got length 5");
    }

    @Test
    void nonPositiveEpsIsRejected() {
        assertBad(() -> be.layerNormForward(z(2, 3), z(3), z(3), 0f), "layernorm.forward", "eps",
                "expected a finite value > 0", "got 0.0");
        assertBad(() -> be.groupNormForward(z(2, 4, 1, 1), z(4), z(4), 2, -1e-5f), "groupnorm.forward", "eps",
                "got -1.0E-5");
        assertBad(() -> be.batchNormForward(z(2, 3), z(3), z(3), z(3), z(3), new BatchNormParams(0f, 0.9f, false),
                Mode.TRAIN), "batchnorm.forward", "eps", "got 0.0");
    }

    @Test
    void keepOutsideZeroOneIsRejected() {
        assertBad(() -> be.dropoutForward(z(4), new DropoutOptions(0.0, 1, 0), Mode.TRAIN), "dropout.forward",
                "keep", "expected a probability in (0,1]", "got 0.0");
        assertBad(() -> be.dropoutForward(z(4), new DropoutOptions(1.5, 1, 0), Mode.TRAIN), "dropout.forward",
                "keep", "got 1.5");
    }

    @Test
    void groupsThatDoNotDivideChannelsAreRejected() {
        assertBad(() -> be.groupNormForward(z(2, 6, 2, 2), z(6), z(6), 4, 1e-5f), "groupnorm.forward", "groups",
                "expected a divisor of C = 6", "got 4");
    }

    @Test
    void batchOfOneIsRejectedInTrainButAcceptedInEval() {
        assertBad(() -> be.batchNormForward(z(1, 3), z(3), z(3), z(3), z(3), BN, Mode.TRAIN),
                "batchnorm.forward", "x", "expected N >= 2 in TRAIN", "got N = 1");
        assertBad(() -> be.spatialBatchNormForward(z(1, 3, 1, 1), z(3), z(3), z(3), z(3), BN, Mode.TRAIN),
                "spatial_batchnorm.forward", "x", "N·H·W >= 2", "got shape [1,3,1,1]");
        be.batchNormForward(z(1, 3), z(3), z(3), z(3), z(3), BN, Mode.EVAL).close();
    }

    @Test
    void aTensorOfAnotherBackendIsRejected() {
        Tensor foreign = foreignTensor(Shape.of(2, 2));
        assertBad(() -> be.gemm(foreign, false, z(2, 2), false, z(2, 2), 1f, 0f), "gemm", "a",
                "expected a tensor of backend 'cpu'", "got a tensor of backend 'other'");
        try (CpuBackend second = new CpuBackend()) {
            Tensor t = second.zeros(Shape.of(3));
            assertBad(() -> be.relu(t), "relu.forward", "x", "expected a tensor of backend 'cpu'");
        }
    }

    @Test
    void aClosedTensorIsRejected() {
        Tensor t = z(2, 2);
        t.close();
        t.close(); // idempotent
        assertMessage(IllegalStateException.class, () -> be.relu(t), "relu.forward", "x",
                "expected an open tensor", "got a closed tensor of shape [2,2]");
        assertMessage(IllegalStateException.class, t::toArray, "closed tensor");
        Tensor g = z(3);
        g.close();
        assertMessage(IllegalStateException.class, () -> be.layerNormForward(z(2, 3), g, z(3), 1e-5f),
                "layernorm.forward", "gamma", "expected an open tensor");
    }

    @Test
    void backwardRejectsTheCacheOfAnotherKind() {
        try (NormResult ln = be.layerNormForward(z(2, 3), z(3), z(3), 1e-5f)) {
            assertBad(() -> be.batchNormBackward(z(2, 3), ln.cache(), z(3)), "batchnorm.backward", "cache",
                    "expected the NormCache of a batchnorm forward", "got the cache of a layernorm forward");
            assertBad(() -> be.layerNormBackward(z(3, 3), ln.cache(), z(3)), "layernorm.backward", "dOut",
                    "expected shape [2,3]", "got shape [3,3]");
        }
    }

    @Test
    void labelsThatAreNotClassIndicesNameTheRow() {
        try (Tensor logits = z(3, 4)) {
            for (float bad : new float[] {4f, -1f, 1.5f, Float.NaN}) {
                Tensor labels = be.upload(new float[] {0f, bad, 2f}, Shape.of(3));
                assertBad(() -> be.softmaxCrossEntropy(logits, labels), "softmax_cross_entropy", "labels[1]",
                        "expected an integer class index in [0,4)", "got " + bad);
            }
        }
    }

    @Test
    void adamRejectsStepZero() {
        assertBad(() -> be.adam(z(2), z(2), z(2), z(2), 1e-3f, 0.9f, 0.999f, 1e-8f, 0), "adam", "t",
                "expected a step >= 1", "got 0");
    }

    @Test
    void aClosedBackendRefusesNewTensors() {
        CpuBackend b = new CpuBackend();
        b.close();
        assertMessage(IllegalStateException.class, () -> b.zeros(Shape.of(2)), "zeros", "closed backend");
    }

    /** A tensor claiming to belong to a backend called "other". */
    private static Tensor foreignTensor(Shape shape) {
        DeviceInfo dev = new DeviceInfo(0, "test", "test", "Other device", 0, 1, false);
        Backend other = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> "other";
                    case "device" -> dev;
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "other";
                    default -> throw new IllegalStateException("not part of this test: " + method.getName());
                });
        return new Tensor() {
            @Override
            public Shape shape() {
                return shape;
            }

            @Override
            public Backend backend() {
                return other;
            }

            @Override
            public float[] toArray() {
                return new float[shape.size()];
            }

            @Override
            public boolean isClosed() {
                return false;
            }

            @Override
            public void close() {
            }
        };
    }
}
