package org.layerkit.models.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/** A checkpoint file is missing, foreign, truncated, corrupt, or does not fit the model; the message names the file. */
public class CheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    public CheckpointException(Path file, String message) {
        this(file, message, null);
    }

    public CheckpointException(Path file, String message, Throwable cause) {
        super(file + ": " + message, cause);
        this.file = file;
    }

    public Path file() {
        return file;
    }
}
