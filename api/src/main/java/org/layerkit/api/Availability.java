package org.layerkit.api;

/**
 * Whether a backend can be created here and, when not, why: a reason that says what is missing and how to get it,
 * and the underlying cause.
 */
public final class Availability {
    private static final Availability AVAILABLE = new Availability(true, null, null);

    private final boolean available;
    private final String reason;
    private final Throwable cause;

    private Availability(boolean available, String reason, Throwable cause) {
        this.available = available;
        this.reason = reason;
        this.cause = cause;
    }

    public static Availability available() {
        return AVAILABLE;
    }

    /** Unavailable, with a reason such as "libOpenCL.so not found: install ocl-icd-opencl-dev and an ICD". */
    public static Availability unavailable(String reason, Throwable cause) {
        if (reason == null || reason.isBlank()) {
            throw new IllegalArgumentException("Availability.unavailable: a reason is required");
        }
        return new Availability(false, reason, cause);
    }

    public boolean isAvailable() {
        return available;
    }

    /** The reason, or null when available. */
    public String reason() {
        return reason;
    }

    /** The underlying cause, or null. */
    public Throwable cause() {
        return cause;
    }

    /** The reason followed by the cause chain: {@code reason (caused by: X: msg; caused by: Y: msg)}. */
    public String describe() {
        if (available) {
            return "available";
        }
        StringBuilder b = new StringBuilder(reason);
        Throwable t = cause;
        int depth = 0;
        while (t != null && depth++ < 8) {
            b.append(depth == 1 ? " (caused by: " : "; caused by: ")
                    .append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
            t = t.getCause() == t ? null : t.getCause();
        }
        if (depth > 0) {
            b.append(')');
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return describe();
    }
}
