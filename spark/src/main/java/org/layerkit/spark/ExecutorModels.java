package org.layerkit.spark;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.checkpoint.Checkpoint;
import org.layerkit.models.checkpoint.CheckpointException;

/**
 * The models of this JVM (a Spark executor, or the driver in local mode): each checkpoint parsed once, keyed by its
 * content hash and backend, and its nets pooled — a net is confined to one thread, and an executor runs several tasks
 * at once, so each concurrent task borrows its own net, built from the cached checkpoint, and gives it back for the next
 * partition. Backends are created once per JVM by name and live as long as it. At most {@link #MAX_MODELS} models are
 * kept; the least recently used one is dropped (its idle nets closed, borrowed ones when they come back).
 */
final class ExecutorModels {
    static final int MAX_MODELS = 4;

    private static final Map<String, Backend> BACKENDS = new ConcurrentHashMap<>();
    private static final LinkedHashMap<String, Entry> MODELS = new LinkedHashMap<>(16, 0.75f, true);
    private static final AtomicLong LOADS = new AtomicLong();

    private ExecutorModels() {
    }

    /** A cached model and its idle nets. */
    static final class Entry {
        final Checkpoint checkpoint;
        final Backend backend;
        final ArrayDeque<SequentialNet> idle = new ArrayDeque<>();
        boolean dropped;

        Entry(Checkpoint checkpoint, Backend backend) {
            this.checkpoint = checkpoint;
            this.backend = backend;
        }
    }

    /** A net borrowed for one partition; closing gives it back. */
    static final class Lease implements AutoCloseable {
        final Entry entry;
        final SequentialNet net;

        Lease(Entry entry, SequentialNet net) {
            this.entry = entry;
            this.net = net;
        }

        Checkpoint checkpoint() {
            return entry.checkpoint;
        }

        @Override
        public void close() {
            synchronized (ExecutorModels.class) {
                if (!entry.dropped) {
                    entry.idle.push(net);
                    return;
                }
            }
            net.close();
        }
    }

    /**
     * A net of the model whose bytes hash to {@code hash}, on this JVM's backend {@code backendName}; the bytes are
     * fetched ({@code bytes}, e.g. a broadcast's value) and parsed only on this JVM's first use of the model.
     */
    static Lease borrow(String hash, String name, String backendName, Supplier<byte[]> bytes) {
        String key = hash + "@" + backendName;
        Entry entry;
        synchronized (ExecutorModels.class) {
            entry = MODELS.get(key);
            if (entry == null) {
                Checkpoint checkpoint;
                try {
                    checkpoint = Checkpoint.read(bytes.get(), Path.of(name));
                } catch (CheckpointException e) {
                    throw new IllegalArgumentException("layerkit-spark: " + e.getMessage(), e);
                }
                LOADS.incrementAndGet();
                entry = new Entry(checkpoint, backend(backendName));
                MODELS.put(key, entry);
                dropEldest();
            }
            SequentialNet idle = entry.idle.poll();
            if (idle != null) {
                return new Lease(entry, idle);
            }
        }
        return new Lease(entry, entry.checkpoint.toNet(entry.backend));   // outside the lock: copies the weights
    }

    /** How many checkpoints this JVM has parsed (a test's proof that each model is loaded once per JVM). */
    static long loads() {
        return LOADS.get();
    }

    private static Backend backend(String name) {
        return BACKENDS.computeIfAbsent(name, Backends::get);
    }

    private static void dropEldest() {
        Iterator<Entry> it = MODELS.values().iterator();
        while (MODELS.size() > MAX_MODELS && it.hasNext()) {
            Entry e = it.next();
            it.remove();
            e.dropped = true;
            for (SequentialNet net : e.idle) {
                net.close();
            }
            e.idle.clear();
        }
    }
}
