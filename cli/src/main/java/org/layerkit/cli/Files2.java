package org.layerkit.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Output files of the commands: checked before long work starts, so that a typo in {@code --save} fails in a second
 * rather than after an hour of training, and every I/O problem becomes a one-line message naming the option.
 */
final class Files2 {
    private Files2() {
    }

    /** Creates the parent directories of {@code file} and checks that {@code file} can be written. */
    static void requireWritableFile(Path file, String option) {
        Path abs = file.toAbsolutePath().normalize();
        if (Files.isDirectory(abs)) {
            throw new CliException(option + " " + file + ": is a directory, expected a file name");
        }
        Path parent = abs.getParent();
        if (parent != null) {
            requireDirectory(parent, option + " " + file);
        }
        if (Files.exists(abs) ? !Files.isWritable(abs) : parent != null && !Files.isWritable(parent)) {
            throw new CliException(option + " " + file + ": cannot write here (permission denied)");
        }
    }

    /** Creates {@code dir} (and parents) if needed and checks it is a writable directory. */
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
        if (!Files.isWritable(abs)) {
            throw new CliException(what + ": directory " + abs + " is not writable");
        }
        return abs;
    }

    /** Writes text (UTF-8), replacing the file; failures become a message naming the option. */
    static void write(Path file, String text, String option) {
        requireWritableFile(file, option);
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CliException(option + " " + file + ": cannot write: " + describe(e), e);
        }
    }

    /** An IOException as a short phrase: NoSuchFileException and friends carry only the path as message. */
    static String describe(IOException e) {
        String kind = e.getClass().getSimpleName().replace("Exception", "");
        if (e instanceof NoSuchFileException) {
            return "no such file or directory: " + e.getMessage();
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied: " + e.getMessage();
        }
        return e.getMessage() == null ? kind : kind + ": " + e.getMessage();
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
