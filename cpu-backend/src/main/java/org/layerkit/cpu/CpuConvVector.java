package org.layerkit.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one inner loop of {@link CpuConv} that C2 will not vectorize by itself, written with the Vector API: adding a
 * run of one array into a run of another at a different offset (col2im's fold), which C2 leaves scalar because the
 * two accesses have different index forms. Like {@link CpuVector}, every member links against
 * {@code jdk.incubator.vector}, so nothing here may be touched unless {@link CpuBackend#vectorApi()}; the loops path
 * computes the same sums element by element (the same single additions, so the results are identical).
 */
final class CpuConvVector {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private CpuConvVector() {
    }

    /** dst[dOff + t] += src[sOff + t] for t in [0, len). */
    static void addInto(float[] dst, int dOff, float[] src, int sOff, int len) {
        int t = 0;
        for (int end = F.loopBound(len); t < end; t += F.length()) {
            FloatVector.fromArray(F, dst, dOff + t).add(FloatVector.fromArray(F, src, sOff + t)).intoArray(dst, dOff + t);
        }
        for (; t < len; t++) {
            dst[dOff + t] += src[sOff + t];
        }
    }
}
