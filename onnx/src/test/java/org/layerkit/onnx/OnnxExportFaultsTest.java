package org.layerkit.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.api.Layer;
import org.layerkit.api.Mode;
import org.layerkit.api.Parameter;
import org.layerkit.api.Tensor;
import org.layerkit.models.checkpoint.HostTensor;
import org.layerkit.models.layers.BatchNormLayer;
import org.layerkit.onnx.proto.ModelProto;
import org.opentest4j.AssertionFailedError;

/** What cannot be exported is refused with the layer and the reason; files are replaced atomically. */
class OnnxExportFaultsTest {
    @TempDir
    Path dir;
    static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    /** A layer type of a user's own, without an ONNX mapping: x². */
    static final class SquareLayer implements Layer {
        @Override
        public String type() {
            return "square";
        }

        @Override
        public Tensor forward(Tensor x, Mode mode) {
            throw new UnsupportedOperationException("not run by these tests");
        }

        @Override
        public Tensor backward(Tensor dOut) {
            throw new UnsupportedOperationException("not run by these tests");
        }

        @Override
        public List<Parameter> parameters() {
            return List.of();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void aLayerWithoutMappingIsRefusedNamingItsIndexTypeAndWhatIsMapped() {
        try (Nets nets = new Nets(backend, 1)) {
            nets.affine(4, 3).relu();
            List<Layer> layers = new java.util.ArrayList<>(nets.layers);
            layers.add(new SquareLayer());
            OnnxExportException e = assertThrows(OnnxExportException.class,
                    () -> OnnxExporter.builder().build().export(layers, new int[] {4}, null, Map.of()));
            assertTrue(e.getMessage().startsWith("layer 2 (square) has no ONNX mapping ("
                    + SquareLayer.class.getName() + "); this exporter maps AffineLayer, BatchNormLayer, Conv2dLayer, "
                    + "DropoutLayer, FlattenLayer, GlobalAvgPoolLayer, GroupNormLayer, LayerNormLayer, MaxPoolLayer, "
                    + "ReluLayer, SpatialBatchNormLayer, SpatialDropoutLayer"), e.getMessage());
        }
    }

    @Test
    void aLayerOfTheUsersOwnIsExportedThroughARegisteredMapping() throws Exception {
        ModelProto m = OnnxExporter.builder()
                .register(SquareLayer.class, (layer, g) -> g.output(
                        g.node("Mul", List.of(g.input(), g.input())), g.inputShape()))
                .build().export(List.of(new SquareLayer()), new int[] {4}, null, Map.of());
        float[] x = {0.1f, 0.7f, 1f / 3, 0.99f, 0, 0.5f, 0.25f, 0.6f};
        float[] y = Ort.run(m, "pixels", x, new long[] {2, 4}, Ort.Level.ALL);
        for (int i = 0; i < x.length; i++) {
            double exact = (double) x[i] * x[i];
            // one correctly rounded product (ONE_ROUNDING)
            assertEquals(exact, y[i], org.layerkit.conformance.Tolerance.SAFETY * 0x1p-24 * exact,
                    "element " + i + " (ONE_ROUNDING)");
        }
    }

    @Test
    void anOpsetOutsideTheSupportedRangeIsRefused() {
        for (int opset : new int[] {12, 22}) {
            OnnxExportException e = assertThrows(OnnxExportException.class,
                    () -> OnnxExporter.builder().opset(opset));
            assertEquals("opset " + opset + " is not supported: expected 13 to 21 (default 17)", e.getMessage());
        }
    }

    @Test
    void anOpsetTooLowForALayerIsRefusedNamingTheLayerAndItsOpset() {
        LayerExporter<SquareLayer> needs18 = new LayerExporter<>() {
            @Override
            public void export(SquareLayer layer, LayerGraph g) {
                g.output(g.node("Mul", List.of(g.input(), g.input())), g.inputShape());
            }

            @Override
            public int minOpset() {
                return 18;
            }
        };
        OnnxExportException e = assertThrows(OnnxExportException.class, () -> OnnxExporter.builder().opset(17)
                .register(SquareLayer.class, needs18).build()
                .export(List.of(new SquareLayer()), new int[] {4}, null, Map.of()));
        assertEquals("layer 0 (square) needs opset 18 or higher, the export asked for opset 17", e.getMessage());
    }

    @Test
    void layersWhoseShapesDoNotChainAreRefused() {
        try (Nets nets = new Nets(backend, 1)) {
            nets.affine(8, 6).relu().affine(5, 3);
            OnnxExportException e = assertThrows(OnnxExportException.class,
                    () -> OnnxExporter.builder().build().export(nets.layers, new int[] {8}, null, Map.of()));
            assertEquals("layer 2 (affine): expected an input of shape [N,5], got [N,6]", e.getMessage());
        }
        try (Nets nets = new Nets(backend, 1)) {
            nets.groupNorm(4, 2);
            OnnxExportException e = assertThrows(OnnxExportException.class,
                    () -> OnnxExporter.builder().build().export(nets.layers, new int[] {16}, null, Map.of()));
            assertEquals("layer 0 (groupnorm): expected an input of shape [N,4,H,W], got [N,16]", e.getMessage());
        }
    }

    @Test
    void aNonFiniteValueIsRefusedNamingTheLayerAndTheTensor() {
        try (Nets nets = new Nets(backend, 1)) {
            nets.affine(4, 3).batchNorm(3);
            BatchNormLayer bn = (BatchNormLayer) nets.layers.get(1);
            new HostTensor(bn.running().var().shape(), new float[] {1, Float.NaN, 1}).copyInto(bn.running().var());
            OnnxExportException e = assertThrows(OnnxExportException.class,
                    () -> OnnxExporter.builder().build().export(nets.layers, new int[] {4}, null, Map.of()));
            assertEquals("layer 1 (batchnorm): running_var holds NaN at index 1: refusing to export a non-finite "
                    + "value", e.getMessage());
        }
    }

    @Test
    void aStandardizationOfAnotherSizeIsRefused() {
        try (Nets nets = new Nets(backend, 1)) {
            nets.affine(4, 3);
            OnnxExportException e = assertThrows(OnnxExportException.class, () -> OnnxExporter.builder().build()
                    .export(nets.layers, new int[] {4}, nets.standardizer(5, 0), Map.of()));
            assertEquals("the input standardization has 5 features, the input shape [4] holds 4", e.getMessage());
        }
    }

    @Test
    void writingReplacesTheFileAtomicallyAndLeavesNoTemporaryFile() throws IOException {
        try (Nets nets = new Nets(backend, 1)) {
            nets.affine(4, 3);
            ModelProto m = OnnxExporter.builder().build().export(nets.layers, new int[] {4}, null, Map.of());
            Path file = dir.resolve("sub/m.onnx");
            OnnxExporter.write(m, file);
            Files.writeString(file, "old");
            OnnxExporter.write(m, file);
            assertArrayEquals(m.toByteArray(), Files.readAllBytes(file));
            try (Stream<Path> files = Files.list(file.getParent())) {
                assertEquals(List.of(file), files.toList());
            }
            // a target whose directory cannot be made (a regular file in its place): an error, nothing written
            Path blocked = dir.resolve("sub/m.onnx/x.onnx");
            assertThrows(IOException.class, () -> OnnxExporter.write(m, blocked));
            assertArrayEquals(m.toByteArray(), Files.readAllBytes(file));
        }
    }

    @Test
    void aPlantedMappingErrorFailsTheAgreementChecks() throws Exception {
        // batch norm exported with ε = 1e-4 instead of 1e-5: about a 1e-5 relative change in its outputs, beyond the
        // float32 bounds, so the checks that accept the right mapping must refuse it: the whole-net check on a small
        // net, the single-layer checks on the default net too (where the whole net's first-order bound is loose)
        OnnxExporter wrong = OnnxExporter.builder().register(BatchNormLayer.class, (layer, g) -> {
            String gamma = g.initializer("gamma", layer.gamma().value());
            String beta = g.initializer("beta", layer.beta().value());
            String mean = g.initializer("running_mean", layer.running().mean());
            String var = g.initializer("running_var", layer.running().var());
            g.output(g.node("BatchNormalization", List.of(g.input(), gamma, beta, mean, var),
                    LayerGraph.floatAttr("epsilon", 1e-4f)), g.inputShape());
        }).build();
        try (Nets nets = new Nets(backend, 3)) {
            nets.affine(40, 24).batchNorm(24).relu().affine(24, 10);
            float[] x = nets.pixels(20, 40, 0);
            ModelProto m = wrong.export(nets.layers, new int[] {40}, null, Map.of());
            float[] ort = Ort.run(m, "pixels", x, new long[] {20, 40}, Ort.Level.NONE);
            float[] lk = nets.eval(x, 20, new int[] {40}, null);
            EvalErrorModel model = EvalErrorModel.of(nets.layers, x, 20, new int[] {40}, null);
            AssertionFailedError e = assertThrows(AssertionFailedError.class,
                    () -> Agreement.check("planted ε", model, lk, ort));
            assertTrue(e.getMessage().contains("ONNX Runtime against the float64 forward")
                    && e.getMessage().contains("outside ONNX_LOGITS"), e.getMessage());
        }
        try (Nets nets = new Nets(backend, 4)) {
            nets.affine(784, 256).batchNorm(256).relu().affine(256, 128).batchNorm(128).relu().affine(128, 10);
            org.layerkit.models.data.Standardizer std = nets.standardizer(784, 28);
            float[] x = nets.pixels(16, 784, 28);
            AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> Agreement.layerwise("planted ε",
                    wrong, nets.layers, new int[] {784}, std, x, 16, backend, Ort.Level.ALL));
            assertTrue(e.getMessage().contains("layer 1 (batchnorm) alone: ONNX Runtime against the float64 forward")
                    && e.getMessage().contains("outside ONNX_LOGITS"), e.getMessage());
        }
    }
}
