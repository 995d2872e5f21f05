package org.layerkit.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.layerkit.api.DropoutOptions;
import org.layerkit.api.DropoutResult;
import org.layerkit.api.Mode;
import org.layerkit.api.Philox4x32;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/** The device's Philox4x32-10 masks follow api's mapping bit for bit, written eagerly or on first read. */
class ClDropoutMaskTest {

    @ParameterizedTest(name = "keep={0} seed={1} offset={2} n={3}")
    @CsvSource({
            "0.5, 0, 0, 1",
            "0.7, 42, 0, 5",
            "0.9, 81985529216486895, 7, 1001",
            "0.25, -1, -1, 4096",
            "0.999, 1311768467463790320, 4294967296, 65537",
            "1.0, 5, 3, 13",
    })
    void masksMatchThePhiloxMappingOfTheApi(double keep, long seed, long offset, int n) {
        for (String masks : new String[] {"eager", "pending"}) {
            ClBackend b = ClTestBackend.withDropoutMasks(masks);
            DropoutOptions o = new DropoutOptions(keep, seed, offset);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = i - n / 2f;
            }
            try (Tensor xt = b.upload(x, Shape.of(n)); DropoutResult r = b.dropoutForward(xt, o, Mode.TRAIN)) {
                float[] mask = r.mask().toArray();
                float[] out = r.out().toArray();
                for (int i = 0; i < n; i++) {
                    boolean kept = Philox4x32.kept(Philox4x32.dropoutWord(seed, offset, i), o.threshold());
                    float m = kept ? o.scale() : 0f;
                    assertEquals(Float.floatToRawIntBits(m), Float.floatToRawIntBits(mask[i]),
                            masks + " mask element " + i);
                    assertEquals(Float.floatToRawIntBits(x[i] * m), Float.floatToRawIntBits(out[i]),
                            masks + " out element " + i);
                }
            }
        }
    }
}
