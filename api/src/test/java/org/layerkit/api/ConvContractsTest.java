package org.layerkit.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import org.junit.jupiter.api.Test;

/**
 * The convolution and pooling checks on shapes no test could allocate: sizes are computed in long and refused with a
 * message before anything overflows. (The conformance kit checks every other message on every backend.)
 */
class ConvContractsTest {
    private static final Backend B = (Backend) Proxy.newProxyInstance(ConvContractsTest.class.getClassLoader(),
            new Class<?>[] {Backend.class}, (proxy, method, args) -> switch (method.getName()) {
                case "name" -> "stub";
                case "device" -> new DeviceInfo(0, "none", "test", "stub", 0, 1, false);
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                default -> throw new AssertionError(method.getName());
            });

    /** A tensor of {@link #B} that owns no storage: the checks only read shapes. */
    private record Stub(Shape shape) implements Tensor {
        static Stub of(int... dims) {
            return new Stub(Shape.of(dims));
        }

        @Override
        public Backend backend() {
            return B;
        }

        @Override
        public float[] toArray() {
            throw new AssertionError("the checks must not read data");
        }

        @Override
        public boolean isClosed() {
            return false;
        }

        @Override
        public void close() {
        }
    }

    @Test
    void outputSizeFollowsTheFloorFormula() {
        assertEquals(Shape.of(2, 4, 14, 14), Contracts.conv2dForward(B, Stub.of(2, 3, 28, 28), Stub.of(4, 3, 3, 3),
                null, Conv2dParams.of(2, 1)));
        // (7 + 2·0 − 3)/2 + 1 = 3, (8 + 2·2 − 5)/3 + 1 = 3 (floor)
        assertEquals(Shape.of(1, 2, 3, 3), Contracts.conv2dForward(B, Stub.of(1, 1, 7, 8), Stub.of(2, 1, 3, 5),
                Stub.of(2), Conv2dParams.of(2, 3, 0, 2)));
        assertEquals(Shape.of(1, 1, 3, 4), Contracts.maxPool2dForward(B, Stub.of(1, 1, 7, 9), Pool2dParams.of(3, 2)));
    }

    @Test
    void anOutputBeyondTheLargestTensorIsRefusedNotOverflowed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Contracts.conv2dForward(B,
                Stub.of(1, 1, 32768, 32768), Stub.of(64, 1, 1, 1), null, Conv2dParams.of(1, 0)));
        assertTrue(e.getMessage().startsWith("conv2d.forward: x expected an output of at most 2^31-9 elements"),
                e.getMessage());
        assertTrue(e.getMessage().contains("= 68719476736 elements"), e.getMessage());
        // a padding near 2^31: H + 2·padH overflows an int, not a long
        e = assertThrows(IllegalArgumentException.class, () -> Contracts.conv2dForward(B, Stub.of(1, 1, 1, 1),
                Stub.of(1, 1, 1, 1), null, Conv2dParams.of(1, Integer.MAX_VALUE)));
        assertTrue(e.getMessage().contains("elements (x [1,1,1,1])"), e.getMessage());
    }

    @Test
    void poolPlanesAbove2To24AreRefusedBecauseArgmaxIsAFloat() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                Contracts.maxPool2dForward(B, Stub.of(1, 1, 4097, 4097), Pool2dParams.of(2, 2)));
        assertEquals("maxpool2d.forward: x expected H·W <= 2^24 positions per plane (argmax positions are stored "
                + "exactly as floats), got H·W = 16785409 (x [1,1,4097,4097])", e.getMessage());
        assertEquals(Shape.of(1, 1, 2048, 2048),
                Contracts.maxPool2dForward(B, Stub.of(1, 1, 4096, 4096), Pool2dParams.of(2, 2)));
    }

    @Test
    void dilationAndGroupsAreRefusedWithTheReason() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Contracts.conv2dForward(B,
                Stub.of(1, 4, 8, 8), Stub.of(4, 4, 3, 3), null, new Conv2dParams(1, 1, 1, 1, 1, 2, 1)));
        assertEquals("conv2d.forward: dilation expected 1 on both axes (dilated convolution is not supported), got "
                + "dilationH = 1, dilationW = 2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Contracts.conv2dForward(B, Stub.of(1, 4, 8, 8),
                Stub.of(4, 4, 3, 3), null, new Conv2dParams(1, 1, 1, 1, 1, 1, 4)));
        assertEquals("conv2d.forward: groups expected 1 (grouped and depthwise convolution are not supported), got 4",
                e.getMessage());
    }

    @Test
    void anUnsupportedFamilyNamesTheBackendAndTheCheck() {
        UnsupportedOperationException e = Contracts.unsupported(B, Op.CONV2D, "conv2d.forward");
        assertTrue(e.getMessage().startsWith("conv2d.forward: backend expected a backend that supports op family "
                + "'conv2d', got backend 'stub' (stub), whose supports(CONV2D) is false"), e.getMessage());
    }
}
