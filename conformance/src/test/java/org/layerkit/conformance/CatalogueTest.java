package org.layerkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Op;

class CatalogueTest {
    private final List<ConformanceCase> all = Catalogue.all();
    private final Set<String> names = all.stream().map(ConformanceCase::name).collect(Collectors.toSet());

    @Test
    void holdsAtLeastEightyUniquelyNamedCases() {
        assertTrue(all.size() >= 80, "only " + all.size() + " cases");
        assertEquals(all.size(), names.size());
    }

    @Test
    void namesFollowOpDotWhatWithBracketedParameters() {
        for (ConformanceCase c : all) {
            assertTrue(c.name().matches("[a-z0-9_]+(\\.[a-z0-9_]+)*(\\[[^\\s]+\\])?"), c.name());
            assertTrue(c.name().startsWith(c.op().id()) || c.name().startsWith("sum_of_squares"),
                    c.name() + " does not start with its op " + c.op().id());
        }
    }

    @Test
    void everyOpFamilyHasCases() {
        Set<Op> ops = all.stream().map(ConformanceCase::op).collect(Collectors.toCollection(() -> EnumSet.noneOf(Op.class)));
        assertEquals(EnumSet.allOf(Op.class), ops);
    }

    @Test
    void containsTheCasesTheDesignAsksFor() {
        for (String n : List.of("batchnorm.backward[N=1000,D=333]", "batchnorm.forward.train[N=65536,D=64]",
                "batchnorm.forward.train[N=2,D=1]", "spatial_batchnorm.forward.train[N=8,C=3,H=5,W=7]",
                "batchnorm.forward.train[N=1000,D=16,mean=1e4]", "layernorm.forward[N=1,D=5]",
                "groupnorm.forward[N=2,C=6,H=4,W=5,G=1]", "groupnorm.forward[N=2,C=6,H=4,W=5,G=6]",
                "batchnorm.forward.rejects[N=1,mode=TRAIN]", "dropout.forward.keep_1_identity[N=407,keep=1.0]",
                "dropout.philox4x32_10.known_answer[vector=pi]", "argmax.ties_first[N=6,K=5]")) {
            assertTrue(names.contains(n), n + " missing");
        }
        assertTrue(names.contains("dropout.mask.bit_identical[N=4096,keep=0.7,offset=2^40]"), names.toString());
        for (String family : List.of("batchnorm", "spatial_batchnorm", "layernorm", "groupnorm")) {
            assertTrue(names.stream().anyMatch(n -> n.startsWith(family + ".") && n.contains("mean=1e4")),
                    family + " lacks a stability case");
        }
    }

    @Test
    void containsTheConvolutionAndPoolingCasesTheIssueAsksFor() {
        for (String n : List.of(
                "conv2d.forward[N=2,C=3,H=9,W=9,F=5,K=3x3,stride=2,pad=1]",          // stride 2
                "conv2d.backward[N=3,C=2,H=6,W=7,F=3,K=3x3,stride=1,pad=0]",         // padding 0, non-square
                "conv2d.backward[N=2,C=3,H=5,W=5,F=4,K=3x3,stride=1,pad=2]",         // padding 2
                "conv2d.backward[N=4,C=16,H=8,W=8,F=8,K=1x1,stride=1,pad=0]",        // 1×1
                "conv2d.backward[N=2,C=3,H=16,W=16,F=4,K=7x7,stride=2,pad=3]",       // 7×7
                "conv2d.backward[N=8,C=1,H=28,W=28,F=32,K=3x3,stride=1,pad=1]",      // C = 1
                "conv2d.backward[N=1,C=4,H=6,W=6,F=3,K=3x3,stride=1,pad=1]",         // N = 1
                "conv2d.backward[N=8,C=16,H=33,W=33,F=24,K=3x3,stride=1,pad=1]",     // large, odd
                "conv2d.backward[N=128,C=32,H=14,W=14,F=64,K=3x3,stride=1,pad=1]",   // large
                "conv2d.backward.after_x_closed[N=2,C=3,H=6,W=6,F=4,K=3x3,stride=1,pad=1]",
                "conv2d.forward.rejects[groups=3]", "conv2d.forward.rejects[dilation=2]",
                "conv2d.forward.rejects[K=larger_than_padded_input]", "conv2d.forward.rejects[w=C+1]",
                "conv2d.forward.rejects[bias=shape[F+1]]", "conv2d.forward.rejects[stride=0]",
                "maxpool2d.forward[N=2,C=3,H=8,W=8,K=2x2,stride=2,values=ties]",
                "maxpool2d.backward[N=2,C=3,H=9,W=9,K=3x3,stride=2,values=special]",
                "maxpool2d.forward.rejects[kernel=larger_than_input]",
                "global_avgpool.backward[N=128,C=64,H=7,W=7]",
                "spatial_dropout.mask.bit_identical[N=3,C=5,H=7,W=3,keep=0.5,offset=2^32+5]",
                "spatial_dropout.forward.rejects[keep=1.5]")) {
            assertTrue(names.contains(n), n + " missing");
        }
        for (String family : List.of("conv2d.", "maxpool2d.", "global_avgpool.", "spatial_dropout.")) {
            List<ConformanceCase> selected = Catalogue.select("^" + java.util.regex.Pattern.quote(family), null);
            assertFalse(selected.isEmpty(), family);
            assertTrue(selected.stream().allMatch(c -> c.op().id().equals(family.substring(0, family.length() - 1))),
                    family + " selects cases of another family");
        }
    }

    @Test
    void selectsByIncludeAndExcludeRegex() {
        List<ConformanceCase> dropout = Catalogue.select("^dropout\\.", null);
        assertFalse(dropout.isEmpty());
        assertTrue(dropout.stream().allMatch(c -> c.name().startsWith("dropout.")));
        List<ConformanceCase> noRejects = Catalogue.select("^dropout\\.", "rejects");
        assertTrue(noRejects.size() < dropout.size());
        assertTrue(noRejects.stream().noneMatch(c -> c.name().contains("rejects")));
        assertEquals(all.size(), Catalogue.select(" ", "").size());
    }
}
