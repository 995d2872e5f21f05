package org.layerkit.conformance;

/**
 * How a case ended.
 *
 * @param status  PASSED, FAILED or UNSUPPORTED
 * @param message empty when passed; otherwise what went wrong (shape, errors, first bad index, values) or why the
 *                case did not apply
 */
public record Outcome(Status status, String message) {
    /** The three ends of a case. */
    public enum Status {
        /** The backend computed what the reference computes, within the case's tolerance. */
        PASSED,
        /** A result was out of tolerance, an expected error was missing or wrong, or an unexpected exception. */
        FAILED,
        /**
         * The backend says it lacks the op family ({@code Backend.supports(op)} is false), or the runner cannot give
         * the case what it needs (a second instance of the backend); not a failure.
         */
        UNSUPPORTED
    }

    public Outcome {
        if (status == null) {
            throw new IllegalArgumentException("Outcome: status expected PASSED, FAILED or UNSUPPORTED, got null");
        }
        message = message == null ? "" : message;
    }

    /** The case passed. */
    public static Outcome passed() {
        return new Outcome(Status.PASSED, "");
    }

    /** The case failed; {@code message} says how. */
    public static Outcome failed(String message) {
        return new Outcome(Status.FAILED, message);
    }

    /** The backend lacks the case's op family. */
    public static Outcome unsupported(String reason) {
        return new Outcome(Status.UNSUPPORTED, reason);
    }

    /** Whether the status is PASSED. */
    public boolean isPassed() {
        return status == Status.PASSED;
    }
}
