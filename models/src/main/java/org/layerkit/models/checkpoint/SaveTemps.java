package org.layerkit.models.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32;

/**
 * The temporary files of {@link Checkpoint#save}, named after the process that writes them, and the removal of
 * those whose writer is gone (a save killed mid-write).
 *
 * <p>A save writes {@code .<name>.<host>-<pid>-<start>.<random>.tmp} next to the target, where {@code host} is 8 hex
 * digits of a hash of the host name and the PID namespace, {@code pid} the writer's process id and {@code start} its
 * start time in epoch milliseconds. Before each save, the temporary files of the same target are examined, and one
 * is deleted only when its writer is certainly gone:
 * <ul>
 *   <li>same {@code host} key (so the PID means the same process table), and
 *   <li>no process with that PID exists, or the one that does started at another time (the PID was reused).
 * </ul>
 * Everything else is left alone: this process's own files (another thread of it may be writing — Java file locks
 * are per process, which is why liveness is judged by process identity rather than by locks), files of live
 * processes (two processes saving to the same path at once each keep their own file; the last rename wins and the
 * target is always complete), files written on another host or in another PID namespace (a shared volume: their
 * PIDs mean nothing here), and files of a process whose start time cannot be read.
 *
 * <p>Temporary files in the older format without a writer ({@code .<name>.<random>.tmp}, from versions before
 * this scheme) are deleted once they have not been modified for {@link #LEGACY_AGE}: a save writes its file in one
 * go within seconds, so a file untouched for a day has no live writer.
 *
 * <p>Identity needs Linux's {@code /proc} and {@link ProcessHandle.Info#startInstant()}; where either is missing,
 * files are named without a writer and never judged by process (only the age rule applies to them).
 */
final class SaveTemps {
    /** How long an ownerless temporary file must be untouched before it counts as an orphan. */
    static final Duration LEGACY_AGE = Duration.ofHours(24);

    private static final System.Logger LOG = System.getLogger(SaveTemps.class.getName());
    private static final String OWNER = owner();

    private SaveTemps() {
    }

    /** Creates an empty temporary file for {@code target} in its directory, named after this process. */
    static Path create(Path target) throws IOException {
        String prefix = "." + target.getFileName() + "." + (OWNER == null ? "" : OWNER + ".");
        return Files.createTempFile(target.getParent(), prefix, ".tmp");
    }

    /**
     * Deletes the temporary files of {@code target} whose writer is gone; returns how many. Best effort: a file that
     * cannot be examined or deleted is left, and nothing here fails a save.
     */
    static int removeOrphans(Path target) {
        Path dir = target.getParent();
        String name = target.getFileName().toString();
        Pattern owned = Pattern.compile(
                "\\." + Pattern.quote(name) + "\\.([0-9a-f]{8})-([0-9]+)-([0-9]+)\\.[0-9]+\\.tmp");
        Pattern ownerless = Pattern.compile("\\." + Pattern.quote(name) + "\\.[0-9]+\\.tmp");
        int removed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "." + globQuote(name) + ".*.tmp")) {
            for (Path f : files) {
                String fn = f.getFileName().toString();
                Matcher m = owned.matcher(fn);
                boolean orphan;
                if (m.matches()) {
                    orphan = writerGone(m.group(1), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)));
                } else if (ownerless.matcher(fn).matches()) {
                    orphan = untouchedFor(f, LEGACY_AGE);
                } else {
                    orphan = false;
                }
                if (orphan && Files.deleteIfExists(f)) {
                    removed++;
                    LOG.log(System.Logger.Level.DEBUG, "removed {0}, left by a save that did not finish", f);
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "could not look for orphaned temporary files of " + target, e);
        }
        return removed;
    }

    /** Whether the process that named a file {@code host-pid-start} has certainly exited. */
    static boolean writerGone(String host, long pid, long startMillis) {
        if (OWNER == null || !OWNER.startsWith(host + "-")) {
            return false; // another host or PID namespace: its PIDs say nothing here
        }
        if (pid == ProcessHandle.current().pid()) {
            return false; // this process: another thread may be writing it
        }
        Optional<ProcessHandle> p = ProcessHandle.of(pid);
        if (p.isEmpty()) {
            return true;
        }
        Optional<Instant> started = p.get().info().startInstant();
        return started.isPresent() && started.get().toEpochMilli() != startMillis;
    }

    /** {@code <host>-<pid>-<start ms>} of this process, or null where it cannot be established. */
    static String owner() {
        return owner(ProcessHandle.current());
    }

    /** {@code <host>-<pid>-<start ms>} of {@code p} (a process of this host and namespace), or null. */
    static String owner(ProcessHandle p) {
        String host = hostKey();
        Optional<Instant> start = p.info().startInstant();
        if (host == null || start.isEmpty()) {
            return null;
        }
        return host + "-" + p.pid() + "-" + start.get().toEpochMilli();
    }

    /** 8 hex digits of CRC32(host name, PID namespace), or null without Linux's /proc. */
    private static String hostKey() {
        try {
            String host = Files.readString(Path.of("/proc/sys/kernel/hostname"), StandardCharsets.UTF_8).strip();
            String pidns = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
            CRC32 c = new CRC32();
            c.update((host + "\n" + pidns).getBytes(StandardCharsets.UTF_8));
            return String.format("%08x", c.getValue());
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static boolean untouchedFor(Path f, Duration age) throws IOException {
        FileTime t = Files.getLastModifiedTime(f);
        return t.toInstant().plus(age).isBefore(Instant.now());
    }

    /** {@code name} with the glob metacharacters escaped. */
    private static String globQuote(String name) {
        StringBuilder b = new StringBuilder();
        for (char c : name.toCharArray()) {
            if ("*?[]{}\\".indexOf(c) >= 0) {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }
}
