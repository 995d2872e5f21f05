package org.layerkit.api;

/** A backend or device failure: a CL error, an out-of-memory on the device, a kernel build failure. */
public class BackendException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BackendException(String message) {
        super(message);
    }

    public BackendException(String message, Throwable cause) {
        super(message, cause);
    }
}
