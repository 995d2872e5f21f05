package org.layerkit.api;

/**
 * A collective call that cannot complete: another rank failed or aborted, the ranks made different calls, or one did
 * not arrive within the timeout. The message names the call, the ranks and what each did.
 */
public class CollectiveException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CollectiveException(String message) {
        super(message);
    }

    public CollectiveException(String message, Throwable cause) {
        super(message, cause);
    }
}
