package org.layerkit.models.checkpoint;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.CRC32;

import org.layerkit.api.Backend;
import org.layerkit.api.Parameter;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.FullyConnectedNetConfig;
import org.layerkit.models.MapFields;
import org.layerkit.models.NetSpec;
import org.layerkit.models.SequentialNet;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.Standardizer;
import org.layerkit.models.optim.Optimizer;
import org.layerkit.models.optim.OptimizerConfig;

/**
 * A trained {@link SequentialNet} (an MLP, a CNN, any spec) on the host: its {@link NetSpec}, weights, batch-norm
 * running statistics, layer counters, optionally the optimizer's configuration, state and step count (to resume
 * training), the input standardization, and free-form metadata such as {@code epochs_completed}. The file format is
 * described in {@code docs/checkpoint-format.md}; this code writes format {@value #VERSION} and reads formats 1 and 2
 * (format 1 held only MLPs, with CS231N's tensor names, which are mapped onto the net's by
 * {@link FullyConnectedNetConfig#legacyNames()}).
 *
 * <pre>{@code
 * Checkpoint.of(net, optimizer, Map.of("epochs_completed", "10")).save(path);   // atomic
 * Checkpoint c = Checkpoint.load(path);                                         // CRC-checked
 * try (SequentialNet restored = c.toNet(anyBackend)) { ... }
 * }</pre>
 *
 * @param spec      the architecture
 * @param tensors   parameters and buffers by net name ({@code 0.W}, {@code 1.running_mean}, …)
 * @param counters  layer counters by net name ({@code 1.batches_tracked}, {@code 3.offset})
 * @param optimizer    the optimizer's state, or null when the checkpoint is for inference only
 * @param standardizer the per-feature standardization the net was trained behind (apply it to raw inputs with
 *                     {@link #preprocess}), or null when it was trained on raw features
 * @param metadata     free-form string pairs
 */
public record Checkpoint(NetSpec spec, Map<String, HostTensor> tensors,
                         Map<String, Long> counters, OptimizerState optimizer, Standardizer standardizer,
                         Map<String, String> metadata) {
    /** The first 8 bytes of every checkpoint: {@code 89 'L' 'K' 'C' 'K' 'P' 'T' 0A}. */
    static final byte[] MAGIC = {(byte) 0x89, 'L', 'K', 'C', 'K', 'P', 'T', '\n'};
    /** The format version this code writes; it reads this one and {@link #LEGACY_VERSION}. */
    public static final int VERSION = 2;
    /** The first format, whose CONF section is a {@code FullyConnectedNetConfig} and whose names are CS231N's. */
    public static final int LEGACY_VERSION = 1;
    static final int HEADER_BYTES = 8 + 4 + 8 + 4;

    /** Metadata key for the number of completed training epochs (what {@code Solver.resumeAfter} takes). */
    public static final String EPOCHS_COMPLETED = "epochs_completed";

    /**
     * An optimizer's state.
     *
     * @param config its rule and hyper-parameters, with the current learning rate
     * @param step   the step count t
     * @param state  state tensors by {@code <parameter>.<slot>}
     */
    public record OptimizerState(OptimizerConfig config, long step, Map<String, HostTensor> state) {
        public OptimizerState {
            state = Collections.unmodifiableMap(new LinkedHashMap<>(state));
        }
    }

    public Checkpoint {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        counters = Collections.unmodifiableMap(new LinkedHashMap<>(counters));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** Copies the net's parameters, buffers and counters (and the optimizer's state, if given) to the host. */
    public static Checkpoint of(SequentialNet net, Optimizer optimizer, Map<String, String> metadata) {
        return of(net, optimizer, null, metadata);
    }

    /**
     * Like {@link #of(SequentialNet, Optimizer, Map)}, also keeping the input standardization (e.g.
     * {@code splits.standardizer()}) so that the saved model applies to raw data.
     */
    public static Checkpoint of(SequentialNet net, Optimizer optimizer, Standardizer standardizer,
                                Map<String, String> metadata) {
        Map<String, HostTensor> t = new LinkedHashMap<>();
        net.parameters().forEach((name, p) -> t.put(name, HostTensor.of(p.value())));
        net.buffers().forEach((name, b) -> t.put(name, HostTensor.of(b)));
        OptimizerState os = null;
        if (optimizer != null) {
            Map<String, HostTensor> s = new LinkedHashMap<>();
            optimizer.state().forEach((name, b) -> s.put(name, HostTensor.of(b)));
            os = new OptimizerState(optimizer.config(), optimizer.stepCount(), s);
        }
        return new Checkpoint(net.spec(), t, net.counters(), os, standardizer, metadata);
    }

    /** {@code raw} standardized as the training data was (unchanged when there is no standardizer). */
    public Dataset preprocess(Dataset raw) {
        return standardizer == null ? raw : standardizer.apply(raw);
    }

    /** Whether the checkpoint can resume training (it holds optimizer state). */
    public boolean hasOptimizer() {
        return optimizer != null;
    }

    /** {@code epochs_completed} from the metadata, 0 when absent. */
    public int epochsCompleted() {
        return Integer.parseInt(metadata.getOrDefault(EPOCHS_COMPLETED, "0"));
    }

    /**
     * A new net on {@code backend} with this checkpoint's spec, weights, statistics and counters. A spec whose layers
     * cannot be built (an unknown layer type, a malformed setting) is an IllegalArgumentException naming section
     * {@code CONF}, the layer and the setting: {@link #load} reads the spec as data and leaves the layers' own
     * settings to their factories.
     */
    public SequentialNet toNet(Backend backend) {
        SequentialNet net;
        try {
            net = new SequentialNet(backend, spec);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("checkpoint section CONF: " + e.getMessage(), e);
        }
        try {
            Map<String, Tensor> targets = new LinkedHashMap<>();
            net.parameters().forEach((name, p) -> targets.put(name, p.value()));
            targets.putAll(net.buffers());
            requireSameNames("tensors", targets.keySet(), tensors.keySet());
            targets.forEach((name, target) -> {
                HostTensor h = tensors.get(name);
                if (!h.shape().equals(target.shape())) {
                    throw new IllegalArgumentException("checkpoint tensor " + name + ": expected shape " + target.shape()
                            + " for " + spec + ", found " + h.shape());
                }
                h.copyInto(target);
            });
            Set<String> have = net.counters().keySet();
            requireSameNames("counters", have, counters.keySet());
            counters.forEach(net::setCounter);
            return net;
        } catch (RuntimeException e) {
            net.close();
            throw e;
        }
    }

    /** An optimizer for {@code net}'s parameters with the saved rule, learning rate, state and step count. */
    public Optimizer toOptimizer(SequentialNet net) {
        if (optimizer == null) {
            throw new IllegalStateException("checkpoint has no optimizer state (it was saved for inference only)");
        }
        Map<String, Parameter> params = net.parameters();
        Optimizer o = optimizer.config().create(params);
        try {
            requireSameNames("optimizer state", o.state().keySet(), optimizer.state().keySet());
            o.state().forEach((name, target) -> {
                HostTensor h = optimizer.state().get(name);
                if (!h.shape().equals(target.shape())) {
                    throw new IllegalArgumentException("checkpoint optimizer state " + name + ": expected shape "
                            + target.shape() + ", found " + h.shape());
                }
                h.copyInto(target);
            });
            o.setStepCount(optimizer.step());
            return o;
        } catch (RuntimeException e) {
            o.close();
            throw e;
        }
    }

    private static void requireSameNames(String what, Set<String> expected, Set<String> found) {
        if (!expected.equals(found)) {
            Set<String> missing = new TreeSet<>(expected);
            missing.removeAll(found);
            Set<String> extra = new TreeSet<>(found);
            extra.removeAll(expected);
            throw new IllegalArgumentException("checkpoint " + what + " do not fit the model: missing " + missing
                    + ", unexpected " + extra);
        }
    }

    // ------------------------------------------------------------------ writing

    /**
     * Writes the checkpoint atomically: to a temporary file in the same directory, forced to disk, then renamed over
     * {@code file} with {@link StandardCopyOption#ATOMIC_MOVE}, so a crash leaves either the old file or the new one.
     * Temporary files of earlier saves to {@code file} whose writing process is gone (killed mid-write) are deleted
     * first; those of live writers are left alone ({@link SaveTemps}; the steps are {@link AtomicFile}'s). A NaN or infinite value in any tensor is refused
     * before anything is written, since {@link #load} would refuse the file.
     */
    public void save(Path file) throws IOException {
        String bad = firstNonFinite();
        if (bad != null) {
            throw new CheckpointException(file, "refusing to save " + bad + "; the file is left as it was");
        }
        byte[] payload = payload();
        ByteBuffer header = header(payload);
        try {
            AtomicFile.write(file, header, ByteBuffer.wrap(payload));
        } catch (AtomicMoveNotSupportedException e) {
            throw new CheckpointException(file.toAbsolutePath(), "the file system cannot rename atomically; refusing a "
                    + "non-atomic write", e);
        }
    }

    /**
     * The bytes {@link #save} would write — header, CRC and payload — for a checkpoint made where no file should be
     * written (a Spark executor sending its model to the driver); {@link #read} takes them back. A NaN or infinite
     * value is refused as {@link #save} refuses it ({@code name} names the checkpoint in that error).
     */
    public byte[] toBytes(Path name) throws CheckpointException {
        String bad = firstNonFinite();
        if (bad != null) {
            throw new CheckpointException(name, "refusing to write " + bad);
        }
        try {
            byte[] payload = payload();
            ByteBuffer header = header(payload);
            byte[] all = new byte[HEADER_BYTES + payload.length];
            header.get(all, 0, HEADER_BYTES);
            System.arraycopy(payload, 0, all, HEADER_BYTES, payload.length);
            return all;
        } catch (IOException e) {   // in-memory streams do not fail
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static ByteBuffer header(byte[] payload) {
        CRC32 crc = new CRC32();
        crc.update(payload);
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
        header.put(MAGIC).putInt(VERSION).putLong(payload.length).putInt((int) crc.getValue()).flip();
        return header;
    }

    private byte[] payload() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        section(bytes, "CONF", out -> writeStrings(out, spec.toMap()));
        section(bytes, "TENS", out -> writeTensors(out, tensors));
        section(bytes, "CNTR", out -> {
            out.writeInt(counters.size());
            for (Map.Entry<String, Long> e : counters.entrySet()) {
                writeString(out, e.getKey());
                out.writeLong(e.getValue());
            }
        });
        if (optimizer != null) {
            section(bytes, "OPTM", out -> {
                writeStrings(out, optimizer.config().toMap());
                out.writeLong(optimizer.step());
                writeTensors(out, optimizer.state());
            });
        }
        if (standardizer != null) {
            section(bytes, "STDZ", out -> {
                float[] mean = standardizer.mean();
                float[] std = standardizer.std();
                out.writeInt(mean.length);
                for (float v : mean) {
                    out.writeFloat(v);
                }
                for (float v : std) {
                    out.writeFloat(v);
                }
            });
        }
        section(bytes, "META", out -> writeStrings(out, metadata));
        return bytes.toByteArray();
    }

    private interface Body {
        void write(DataOutputStream out) throws IOException;
    }

    private static void section(ByteArrayOutputStream target, String tag, Body body) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(b)) {
            body.write(out);
        }
        DataOutputStream t = new DataOutputStream(target);
        t.write(tag.getBytes(StandardCharsets.US_ASCII));
        t.writeInt(b.size());
        b.writeTo(t);
        t.flush();
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static void writeStrings(DataOutputStream out, Map<String, String> m) throws IOException {
        out.writeInt(m.size());
        for (Map.Entry<String, String> e : m.entrySet()) {
            writeString(out, e.getKey());
            writeString(out, e.getValue());
        }
    }

    private static void writeTensors(DataOutputStream out, Map<String, HostTensor> m) throws IOException {
        out.writeInt(m.size());
        for (Map.Entry<String, HostTensor> e : m.entrySet()) {
            writeString(out, e.getKey());
            int[] dims = e.getValue().shape().dims();
            out.writeByte(dims.length);
            for (int d : dims) {
                out.writeInt(d);
            }
            ByteBuffer bb = ByteBuffer.allocate(4 * e.getValue().data().length);
            bb.asFloatBuffer().put(e.getValue().data());
            out.write(bb.array());
        }
    }

    // ------------------------------------------------------------------ reading

    /**
     * Reads and verifies a checkpoint: magic, version, payload length and CRC32 are checked before anything is
     * parsed; a foreign, truncated or corrupt file is a {@link CheckpointException} naming the file.
     */
    public static Checkpoint load(Path file) throws IOException {
        byte[] all;
        try {
            all = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, "not found", e);
        }
        return read(all, file);
    }

    /**
     * Reads and verifies a checkpoint from the bytes of a checkpoint file (one shipped to a Spark executor, say) with
     * the checks of {@link #load}; {@code file} names it in errors.
     */
    public static Checkpoint read(byte[] all, Path file) throws CheckpointException {
        if (all.length < MAGIC.length || !Arrays.equals(Arrays.copyOf(all, MAGIC.length), MAGIC)) {
            throw new CheckpointException(file, "not a layerkit checkpoint: expected magic " + hex(MAGIC) + ", found "
                    + hex(Arrays.copyOf(all, Math.min(all.length, MAGIC.length))));
        }
        if (all.length < HEADER_BYTES) {
            throw new CheckpointException(file, "truncated: expected a " + HEADER_BYTES + "-byte header, found "
                    + all.length + " bytes");
        }
        ByteBuffer h = ByteBuffer.wrap(all, MAGIC.length, HEADER_BYTES - MAGIC.length);
        int version = h.getInt();
        long length = h.getLong();
        int crc = h.getInt();
        if (version != VERSION && version != LEGACY_VERSION) {
            throw new CheckpointException(file, "unsupported format version " + version + " (this build reads versions "
                    + LEGACY_VERSION + " and " + VERSION + ")");
        }
        long actual = all.length - HEADER_BYTES;
        if (actual != length) {
            throw new CheckpointException(file, (actual < length ? "truncated" : "trailing data") + ": header says "
                    + length + " payload bytes, found " + actual);
        }
        CRC32 c = new CRC32();
        c.update(all, HEADER_BYTES, (int) length);
        if ((int) c.getValue() != crc) {
            throw new CheckpointException(file, String.format("corrupt: CRC32 of the payload is %08x, header says %08x",
                    (int) c.getValue(), crc));
        }
        Checkpoint checkpoint;
        try {
            checkpoint = parse(ByteBuffer.wrap(all, HEADER_BYTES, (int) length).slice(), version);
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            throw new CheckpointException(file, "malformed payload despite a valid CRC: " + e.getMessage(), e);
        } catch (BufferUnderflowException e) {
            throw new CheckpointException(file, "malformed payload despite a valid CRC: a section header is cut short",
                    e);
        }
        String bad = checkpoint.firstNonFinite();
        if (bad != null) {
            throw new CheckpointException(file, bad + ": refusing to load a model with NaN or infinite values (it "
                    + "would give wrong predictions without an error)");
        }
        return checkpoint;
    }

    /** The first tensor (parameters, statistics, optimizer state, standardization) holding a NaN or ±∞, or null. */
    private String firstNonFinite() {
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            String where = e.getValue().describeFirstNonFinite();
            if (where != null) {
                return "tensor " + e.getKey() + " holds " + where;
            }
        }
        if (optimizer != null) {
            for (Map.Entry<String, HostTensor> e : optimizer.state().entrySet()) {
                String where = e.getValue().describeFirstNonFinite();
                if (where != null) {
                    return "optimizer state " + e.getKey() + " holds " + where;
                }
            }
        }
        if (standardizer != null) {
            float[] mean = standardizer.mean();
            String where = new HostTensor(Shape.of(mean.length), mean).describeFirstNonFinite();
            if (where != null) {
                return "the input standardization's mean (section STDZ) holds " + where;
            }
        }
        return null;
    }

    private static Checkpoint parse(ByteBuffer p, int version) {
        Map<String, String> conf = null;
        NetSpec config = null;
        Map<String, String> legacyNames = null;
        Map<String, HostTensor> tensors = null;
        Map<String, Long> counters = new LinkedHashMap<>();
        OptimizerState opt = null;
        Standardizer std = null;
        Map<String, String> meta = new LinkedHashMap<>();
        Set<String> seen = new TreeSet<>();
        while (p.hasRemaining()) {
            byte[] tagBytes = new byte[4];
            p.get(tagBytes);
            String tag = new String(tagBytes, StandardCharsets.US_ASCII);
            int len = p.getInt();
            if (len < 0 || len > p.remaining()) {
                throw new IllegalArgumentException("section " + tag + " claims " + len + " bytes, " + p.remaining()
                        + " remain");
            }
            ByteBuffer s = p.slice();
            s.limit(len);
            p.position(p.position() + len);
            if (!seen.add(tag)) {
                throw new IllegalArgumentException("section " + tag + " appears twice");
            }
            try {
                switch (tag) {
                    case "CONF" -> conf = readStrings(s);
                    case "TENS" -> tensors = readTensors(s);
                    case "CNTR" -> {
                        int n = count(s);
                        for (int i = 0; i < n; i++) {
                            counters.put(readString(s), s.getLong());
                        }
                    }
                    case "OPTM" -> {
                        OptimizerConfig oc = OptimizerConfig.fromMap(readStrings(s));
                        long step = s.getLong();
                        opt = new OptimizerState(oc, step, readTensors(s));
                    }
                    case "STDZ" -> {
                        int d = s.getInt();
                        if (d < 1 || (long) d * 8 != s.remaining()) {
                            throw new IllegalArgumentException(d + " features do not fit " + s.remaining() + " bytes");
                        }
                        float[] mean = new float[d];
                        float[] sd = new float[d];
                        s.asFloatBuffer().get(mean).get(sd);
                        std = Standardizer.of(mean, sd);
                    }
                    case "META" -> meta = readMetadata(readStrings(s));
                    default -> { } // unknown sections of later minor revisions are skipped
                }
                if (tag.equals("CONF")) {
                    if (version == LEGACY_VERSION) {
                        FullyConnectedNetConfig mlp = FullyConnectedNetConfig.fromMap(conf);
                        config = mlp.spec();
                        legacyNames = mlp.legacyNames();
                    } else {
                        config = NetSpec.fromMap(conf);
                    }
                }
            } catch (BufferUnderflowException e) {
                throw new IllegalArgumentException("section " + tag + " ends before its last field", e);
            } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
                throw new IllegalArgumentException("section " + tag + ", " + e.getMessage(), e);
            }
        }
        if (conf == null || tensors == null) {
            throw new IllegalArgumentException("required sections CONF and TENS expected, found " + seen);
        }
        if (legacyNames != null) {
            tensors = renamed(tensors, legacyNames);
            counters = renamed(counters, legacyNames);
            if (opt != null) {
                opt = new OptimizerState(opt.config(), opt.step(), renamedState(opt.state(), legacyNames));
            }
        }
        return new Checkpoint(config, tensors, counters, opt, std, meta);
    }

    /** Format 1's CS231N names ({@code W1}, {@code batchnorm1.batches_tracked}) as the net's; unknown ones kept. */
    private static <T> Map<String, T> renamed(Map<String, T> m, Map<String, String> names) {
        Map<String, T> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(names.getOrDefault(k, k), v));
        return out;
    }

    /** Optimizer state {@code <parameter>.<slot>} of format 1 ({@code W1.m}) as the net's ({@code 0.W.m}). */
    private static Map<String, HostTensor> renamedState(Map<String, HostTensor> m, Map<String, String> names) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        m.forEach((k, v) -> {
            int dot = k.indexOf('.');
            String param = dot < 0 ? k : k.substring(0, dot);
            String mapped = names.get(param);
            out.put(mapped == null ? k : mapped + k.substring(dot < 0 ? k.length() : dot), v);
        });
        return out;
    }

    /** The metadata keys this format defines must hold what they say; the others are free-form. */
    private static Map<String, String> readMetadata(Map<String, String> m) {
        for (String key : new String[] {EPOCHS_COMPLETED, "epochs_planned"}) {
            if (m.containsKey(key) && MapFields.integer(m, key) < 0) {
                throw MapFields.malformed(key, "an integer >= 0", m.get(key));
            }
        }
        if (m.containsKey("best_val_accuracy")) {
            MapFields.real(m, "best_val_accuracy");
        }
        return m;
    }

    private static int count(ByteBuffer b) {
        int n = b.getInt();
        if (n < 0 || n > b.remaining()) {
            throw new IllegalArgumentException("implausible entry count " + n);
        }
        return n;
    }

    private static String readString(ByteBuffer b) {
        int n = count(b);
        byte[] s = new byte[n];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static Map<String, String> readStrings(ByteBuffer b) {
        int n = count(b);
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            m.put(readString(b), readString(b));
        }
        return m;
    }

    private static Map<String, HostTensor> readTensors(ByteBuffer b) {
        int n = count(b);
        Map<String, HostTensor> m = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            String name = readString(b);
            int rank = b.get() & 0xff;
            int[] dims = new int[rank];
            for (int r = 0; r < rank; r++) {
                dims[r] = b.getInt();
            }
            Shape shape = Shape.of(dims);
            if ((long) shape.size() * 4 > b.remaining()) {
                throw new IllegalArgumentException("tensor " + name + " of shape " + shape + " needs "
                        + (long) shape.size() * 4 + " bytes, " + b.remaining() + " remain");
            }
            float[] data = new float[shape.size()];
            b.asFloatBuffer().get(data);
            b.position(b.position() + 4 * data.length);
            m.put(name, new HostTensor(shape, data));
        }
        return m;
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x & 0xff));
        }
        return s.length() == 0 ? "(empty file)" : s.toString();
    }
}
