package org.layerkit.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Output files of the commands: checked before long work starts, so that a typo in {@code --save} fails in a second
 * rather than after an hour of training, and every I/O problem becomes a one-line message naming the option and the
 * operating system's reason ({@code --plot: cannot write the plot to /sys/x.png: Permission denied}).
 *
 * <p>The checks try the real operation instead of asking {@link Files#isWritable}, which answers yes to root for any
 * path, and know nothing of read-only or pseudo file systems: a file that does not exist yet is created and deleted
 * again, an existing regular file is opened for writing without changing it, and a directory gets a temporary file.
 */
final class Files2 {
    private Files2() {
    }

    /**
     * Creates the parent directories of {@code file} and checks that {@code file} can be written in place;
     * {@code what} names the content in messages ("the plot").
     */
    static void requireWritableFile(Path file, String option, String what) {
        Path abs = parentReady(file, option);
        try {
            if (Files.isRegularFile(abs)) {
                Files.newByteChannel(abs, StandardOpenOption.WRITE).close(); // no truncation, no change
            } else if (!Files.exists(abs)) {
                Files.newByteChannel(abs, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW).close();
                Files.delete(abs);
            } // a device or pipe: opening it could block or have effects; the write reports its own failure
        } catch (IOException e) {
            throw cannotWrite(option, what, file, e);
        }
    }

    /**
     * Creates the parent directories of {@code file} and checks that a file can be created next to it and renamed
     * over it (how checkpoints are saved: the target itself is never opened).
     */
    static void requireReplaceableFile(Path file, String option, String what) {
        Path abs = parentReady(file, option);
        try {
            Path probe = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".probe-", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            throw cannotWrite(option, what, file, e);
        }
    }

    /** Creates {@code dir} (and parents) if needed and checks that files can be created in it. */
    static Path requireDirectory(Path dir, String what) {
        Path abs = dir.toAbsolutePath().normalize();
        try {
            Files.createDirectories(abs);
        } catch (FileAlreadyExistsException e) {
            throw new CliException(what + ": cannot create directory " + abs + ": "
                    + firstNonDirectory(abs) + " exists and is not a directory", e);
        } catch (IOException e) {
            throw new CliException(what + ": cannot create directory " + abs + ": " + describe(e), e);
        }
        try {
            Files.delete(Files.createTempFile(abs, ".layerkit-probe-", ".tmp"));
        } catch (IOException e) {
            throw new CliException(what + ": cannot write in directory " + abs + ": " + describe(e), e);
        }
        return abs;
    }

    /** Writes text (UTF-8), replacing the file; failures become a message naming the option. */
    static void write(Path file, String text, String option, String what) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw cannotWrite(option, what, file, e);
        }
    }

    /** {@code --plot: cannot write the plot to FILE: REASON}. */
    static CliException cannotWrite(String option, String what, Path file, Throwable e) {
        return new CliException(option + ": cannot write " + what + " to " + file + ": " + describe(e), e);
    }

    /**
     * The operating system's reason for a failed file operation, as {@code strerror} says it ("Permission denied",
     * "No such file or directory", "Read-only file system"), found along the cause chain (image writers wrap it).
     */
    static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof AccessDeniedException) {
                return "Permission denied";
            }
            if (t instanceof NoSuchFileException) {
                return "No such file or directory";
            }
            if (t instanceof NotDirectoryException) {
                return "Not a directory";
            }
            if (t instanceof FileSystemException f && f.getReason() != null) {
                return f.getReason();
            }
        }
        // java.io reports the reason in parentheses after the path: "/x/y.png (Permission denied)"
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage();
        if (m != null && m.endsWith(")") && m.lastIndexOf(" (") > 0) {
            return m.substring(m.lastIndexOf(" (") + 2, m.length() - 1);
        }
        return m == null || m.isBlank() ? root.getClass().getSimpleName() : m;
    }

    private static Path parentReady(Path file, String option) {
        Path abs = file.toAbsolutePath().normalize();
        if (Files.isDirectory(abs)) {
            throw new CliException(option + " " + file + ": is a directory, expected a file name");
        }
        Path parent = abs.getParent();
        if (parent != null) {
            Path p = parent;
            try {
                Files.createDirectories(p);
            } catch (FileAlreadyExistsException e) {
                throw new CliException(option + " " + file + ": cannot create directory " + p + ": "
                        + firstNonDirectory(p) + " exists and is not a directory", e);
            } catch (IOException e) {
                throw new CliException(option + " " + file + ": cannot create directory " + p + ": " + describe(e), e);
            }
        }
        return abs;
    }

    private static Path firstNonDirectory(Path abs) {
        Path p = abs.getRoot();
        for (Path part : abs) {
            p = p == null ? part : p.resolve(part);
            if (Files.exists(p) && !Files.isDirectory(p)) {
                return p;
            }
        }
        return abs;
    }
}
