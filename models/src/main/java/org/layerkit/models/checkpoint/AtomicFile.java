package org.layerkit.models.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Replaces a file atomically, as {@link Checkpoint#save} does: the whole content goes to a temporary file in the
 * target's directory (named after this process, {@link SaveTemps}), is forced to disk, and is renamed over the
 * target with {@link StandardCopyOption#ATOMIC_MOVE}; then the directory is synced where the OS allows. A crash leaves
 * the old file or the new one, never a mix; a failure leaves the target untouched and deletes the temporary file.
 * Temporary files of earlier writes to the same target whose process is gone are removed first. Shared by the
 * checkpoints and the ONNX export, so that every file layerkit writes for a user is replaced the same way.
 */
public final class AtomicFile {
    private AtomicFile() {
    }

    /**
     * Writes {@code chunks}, in order, as the new content of {@code target} (created with its parent directories if
     * missing). A file system that cannot rename atomically is an {@link AtomicMoveNotSupportedException}, never a
     * silent non-atomic write.
     */
    public static void write(Path target, ByteBuffer... chunks) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        SaveTemps.removeOrphans(abs);
        Path tmp = SaveTemps.create(abs);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                for (ByteBuffer b : chunks) {
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                }
                ch.force(true);
            }
            readableByAll(tmp);
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        fsyncDirectory(dir);
    }

    /** Temporary files are created owner-only; the written file gets the usual rw-r--r-- where POSIX applies. */
    private static void readableByAll(Path tmp) throws IOException {
        try {
            Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: keep the default permissions
        }
    }

    /** Makes the rename durable where the platform allows opening a directory (Linux does). */
    private static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Not every OS can fsync a directory; the file itself is already on disk.
        }
    }
}
