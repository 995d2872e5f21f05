package org.layerkit.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.data.Standardizer;
import org.layerkit.onnx.proto.ModelProto;
import org.layerkit.onnx.proto.NodeProto;

/**
 * Every layer type, at every opset where its mapping changes, exported and run in ONNX Runtime (with its graph
 * optimizations and without), computes layerkit's EVAL output on the same inputs within ONNX_LOGITS, with the same
 * predicted classes wherever the bound decides them; and each layer exported alone, fed layerkit's float32 input to
 * it, within its own rounding (the standardization bit for bit).
 */
class OnnxRuntimeAgreementTest {
    static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.get("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
        System.out.printf("ONNX_LOGITS: largest |ONNX Runtime - layerkit| / bound over every case: %.3g for whole "
                + "nets, %.3g for single layers%n", Agreement.maxRatio, Agreement.maxLayerRatio);
    }

    /** A net of hand-built layers, its per-example input shape, and whether it runs behind a standardization. */
    record Case(String name, int[] shape, boolean standardized, int zeroEdge, Consumer<Nets> build,
                List<Integer> opsets, List<String> expectedOps) {
    }

    static List<Case> cases() {
        List<Case> c = new ArrayList<>();
        c.add(new Case("mlp batchnorm dropout", new int[] {40}, true, 3,
                n -> n.affine(40, 24).batchNorm(24).relu().dropout(0.7).affine(24, 16).batchNorm(16).relu()
                        .dropout(0.7).affine(16, 10),
                List.of(13, 17, 21), List.of("Sub", "Div", "Gemm", "BatchNormalization", "Relu")));
        c.add(new Case("mlp batchnorm", new int[] {40}, true, 3,
                n -> n.affine(40, 24).batchNorm(24).relu().affine(24, 10),
                List.of(17), List.of("Gemm", "BatchNormalization", "Relu")));
        c.add(new Case("mlp layernorm dropout", new int[] {40}, true, 3,
                n -> n.affine(40, 24).layerNorm(24).relu().dropout(0.5).affine(24, 16).layerNorm(16).relu()
                        .affine(16, 10),
                List.of(13, 16, 17, 18, 21), List.of("Gemm", "Relu")));
        c.add(new Case("mlp layernorm", new int[] {40}, false, 0,
                n -> n.affine(40, 24).layerNorm(24).relu().affine(24, 10),
                List.of(16, 17), List.of("Gemm", "Relu")));
        c.add(new Case("mlp without normalization", new int[] {40}, true, 3,
                n -> n.affine(40, 24).relu().dropout(0.9).affine(24, 10),
                List.of(17), List.of("Gemm", "Relu")));
        c.add(new Case("softmax classifier", new int[] {40}, false, 0, n -> n.affine(40, 10),
                List.of(17), List.of("Gemm")));
        c.add(new Case("spatial batchnorm and groupnorm", new int[] {6, 5, 4}, true, 2,
                n -> n.spatialBatchNorm(6).relu().groupNorm(6, 3).dropout(0.8).groupNorm(6, 1).relu()
                        .groupNorm(6, 6),
                List.of(13, 17, 18, 21), List.of("BatchNormalization", "Relu")));
        c.add(new Case("groupnorm with dropout only", new int[] {4, 3, 3}, false, 0,
                n -> n.groupNorm(4, 2).dropout(0.5),
                List.of(17, 21), List.of()));
        c.add(new Case("the default net 784-256-128-100-10 batchnorm dropout", new int[] {784}, true, 28,
                n -> n.affine(784, 256).batchNorm(256).relu().dropout(0.9).affine(256, 128).batchNorm(128).relu()
                        .dropout(0.9).affine(128, 100).batchNorm(100).relu().dropout(0.9).affine(100, 10),
                List.of(17), List.of("Sub", "Div", "Gemm", "BatchNormalization", "Relu")));
        c.add(new Case("cnn conv batchnorm maxpool flatten", new int[] {1, 10, 10}, true, 1,
                n -> n.conv(1, 4, 3, 1, 1, true).spatialBatchNorm(4).relu().maxPool(2, 2).conv(4, 6, 3, 1, 1, false)
                        .spatialBatchNorm(6).relu().spatialDropout(0.8).maxPool(2, 2).flatten().affine(24, 12)
                        .batchNorm(12).relu().dropout(0.5).affine(12, 10),
                List.of(13, 17, 21), List.of("Sub", "Div", "Conv", "MaxPool", "Flatten", "Gemm")));
        c.add(new Case("cnn conv groupnorm strided global average pool", new int[] {3, 9, 9}, true, 1,
                n -> n.conv(3, 8, 3, 2, 1, true).groupNorm(8, 4).relu().conv(8, 8, 1, 1, 0, true).groupNorm(8, 2)
                        .relu().maxPool(3, 1).globalAvgPool().affine(8, 10),
                List.of(13, 17, 18, 21), List.of("Conv", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm")));
        c.add(new Case("784-256-10 layernorm", new int[] {784}, true, 28,
                n -> n.affine(784, 256).layerNorm(256).relu().affine(256, 10),
                List.of(13, 17), List.of("Gemm", "Relu")));
        return c;
    }

    @TestFactory
    List<DynamicTest> everyLayerTypeAndOpsetComputesLayerkitsEvalOutputInOnnxRuntime() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 1;
        for (Case c : cases()) {
            long s = seed++;
            for (int opset : c.opsets()) {
                for (Ort.Level level : Ort.Level.values()) {
                    tests.add(DynamicTest.dynamicTest(c.name() + " [opset " + opset + ", ORT optimizations "
                            + level + "]", () -> run(c, s, opset, level)));
                }
            }
        }
        return tests;
    }

    private static void run(Case c, long seed, int opset, Ort.Level level) throws Exception {
        int n = 37;
        try (Nets nets = new Nets(backend, seed)) {
            c.build().accept(nets);
            int features = Arrays.stream(c.shape()).reduce(1, (a, b) -> a * b);
            Standardizer std = c.standardized() ? nets.standardizer(features, c.zeroEdge()) : null;
            float[] x = nets.pixels(n, features, c.zeroEdge());
            OnnxExporter exporter = OnnxExporter.builder().opset(opset).build();
            ModelProto model = exporter.export(nets.layers, c.shape(), std, Map.of());
            List<String> ops = model.getGraph().getNodeList().stream().map(NodeProto::getOpType).distinct().toList();
            assertTrue(ops.containsAll(c.expectedOps()), () -> "ops " + ops + " expected to include " + c.expectedOps());
            assertMappingOfOpset(c, opset, ops);

            float[] layerkit = nets.eval(x, n, c.shape(), std);
            long[] shape = new long[c.shape().length + 1];
            shape[0] = n;
            for (int i = 0; i < c.shape().length; i++) {
                shape[i + 1] = c.shape()[i];
            }
            float[] ort = Ort.run(model, OnnxExporter.DEFAULT_INPUT, x, shape, level);
            EvalErrorModel m = EvalErrorModel.of(nets.layers, x, n, c.shape(), std);
            String what = c.name() + " [opset " + opset + ", " + level + "]";
            Agreement.check(what, m, layerkit, ort);
            Agreement.layerwise(what, exporter, nets.layers, c.shape(), std, x, n, backend, level);
        }
    }

    /** The ops that change with the opset: LayerNormalization from 17, GroupNormalization from 21, else decomposed. */
    private static void assertMappingOfOpset(Case c, int opset, List<String> ops) {
        boolean layerNorm = c.name().contains("layernorm");
        boolean groupNorm = c.name().contains("groupnorm");
        assertEquals(layerNorm && opset >= 17, ops.contains("LayerNormalization"), () -> "opset " + opset + ": " + ops);
        assertEquals(groupNorm && opset >= 21, ops.contains("GroupNormalization"), () -> "opset " + opset + ": " + ops);
        boolean decomposed = layerNorm && opset < 17 || groupNorm && opset < 21;
        assertEquals(decomposed, ops.containsAll(List.of("ReduceMean", "Sqrt")), () -> "opset " + opset + ": " + ops);
        assertTrue(!ops.contains("Dropout"), () -> "dropout is the identity in EVAL, no node: " + ops);
        String all = ops.stream().collect(Collectors.joining(","));
        assertTrue(!all.isEmpty() || c.expectedOps().isEmpty(), all);
    }
}
