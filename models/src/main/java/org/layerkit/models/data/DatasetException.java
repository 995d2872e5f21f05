package org.layerkit.models.data;

import java.io.IOException;
import java.nio.file.Path;

/** A data-set file is missing, truncated or not what it claims to be; the message names the file and what was wrong. */
public class DatasetException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    public DatasetException(Path file, String message) {
        this(file, message, null);
    }

    public DatasetException(Path file, String message, Throwable cause) {
        super(file + ": " + message, cause);
        this.file = file;
    }

    /** The offending file. */
    public Path file() {
        return file;
    }
}
