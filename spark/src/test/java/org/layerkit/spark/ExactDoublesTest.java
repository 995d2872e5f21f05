package org.layerkit.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ExactDoublesTest {
    @Test
    void anyBitPatternSurvivesTheRoundTrip() {
        SplittableRandom random = new SplittableRandom(7);
        double[] values = new double[100_000];
        for (int i = 0; i < values.length; i++) {
            long bits = random.nextLong();
            if (i % 4 == 0) {
                bits |= 0x7ff0_0000_0000_0000L;   // NaNs and infinities with every payload and sign
            }
            values[i] = Double.longBitsToDouble(bits);
        }
        double[] back = ExactDoubles.decode(ExactDoubles.encode(values));
        assertEquals(values.length, back.length);
        for (int i = 0; i < values.length; i++) {
            assertEquals(Double.doubleToRawLongBits(values[i]), Double.doubleToRawLongBits(back[i]), "index " + i);
        }
        assertEquals(0, ExactDoubles.decode(ExactDoubles.encode(new double[0])).length);
    }

    @Test
    void textThatIsNotAnEncodingIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ExactDoubles.decode("AAAA"));
        assertTrue(e.getMessage().contains("expected a multiple of 8 bytes, got 3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ExactDoubles.decode("not base64!"));
        assertTrue(e.getMessage().contains("text expected Base64"), e.getMessage());
    }
}
