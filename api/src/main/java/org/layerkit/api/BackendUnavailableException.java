package org.layerkit.api;

/** A requested backend is not installed or cannot run here; the message says why and what is installed. */
public class BackendUnavailableException extends BackendException {
    private static final long serialVersionUID = 1L;

    public BackendUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
