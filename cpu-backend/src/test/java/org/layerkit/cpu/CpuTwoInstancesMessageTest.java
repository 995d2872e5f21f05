package org.layerkit.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;

/**
 * Two instances of one backend on one device describe themselves identically, so a tensor passed to the wrong one
 * must be told apart by instance in the message, or the user reads "expected a tensor of X, got a tensor of X".
 */
class CpuTwoInstancesMessageTest {
    @Test
    void aTensorOfAnotherInstanceOfTheSameBackendIsToldApartByInstance() {
        try (CpuBackend first = new CpuBackend(); CpuBackend second = new CpuBackend();
             Tensor t = second.zeros(Shape.of(3))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> first.relu(t));
            String m = e.getMessage();
            Matcher match = Pattern.compile("^relu\\.forward: x expected a tensor of backend 'cpu' instance @(\\w+) "
                    + "\\((.*)\\), got a tensor of another instance of the same backend, 'cpu' instance @(\\w+) "
                    + "\\((.*)\\); move it with upload\\(other\\.toArray\\(\\), shape\\)$").matcher(m);
            assertTrue(match.matches(), m);
            assertEquals(Integer.toHexString(System.identityHashCode(first)), match.group(1), m);
            assertEquals(Integer.toHexString(System.identityHashCode(second)), match.group(3), m);
            assertNotEquals(match.group(1), match.group(3), m);
            assertEquals(first.device().name(), match.group(2));
        }
    }
}
