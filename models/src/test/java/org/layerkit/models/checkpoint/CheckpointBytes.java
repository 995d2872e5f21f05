package org.layerkit.models.checkpoint;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Edits a checkpoint file's bytes the way a hostile or buggy writer would, and seals them again with a valid CRC, so
 * that a test reaches the checks after the CRC (the format of docs/checkpoint-format.md, written out independently
 * of {@link Checkpoint}).
 */
final class CheckpointBytes {
    private CheckpointBytes() {
    }

    /** The file with {@code key} of the string map at the start of section {@code tag} set to {@code value}. */
    static byte[] withField(byte[] file, String tag, String key, String value) {
        Map<String, byte[]> sections = sections(file);
        ByteBuffer b = ByteBuffer.wrap(sections.get(tag));
        Map<String, String> m = new LinkedHashMap<>();
        int n = b.getInt();
        for (int i = 0; i < n; i++) {
            m.put(string(b), string(b));
        }
        m.put(key, value);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DataOutputStream d = new DataOutputStream(out)) {
            d.writeInt(m.size());
            for (Map.Entry<String, String> e : m.entrySet()) {
                writeString(d, e.getKey());
                writeString(d, e.getValue());
            }
            d.write(b.array(), b.position(), b.remaining()); // what follows the map (OPTM: step and state)
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        sections.put(tag, out.toByteArray());
        return assemble(sections);
    }

    /** The file with element {@code index} of tensor {@code name} (section TENS) set to {@code value}. */
    static byte[] withTensorValue(byte[] file, String name, int index, float value) {
        Map<String, byte[]> sections = sections(file);
        byte[] tens = sections.get("TENS").clone();
        ByteBuffer b = ByteBuffer.wrap(tens);
        int n = b.getInt();
        for (int i = 0; i < n; i++) {
            String t = string(b);
            int rank = b.get() & 0xff;
            long size = 1;
            for (int r = 0; r < rank; r++) {
                size *= b.getInt();
            }
            if (t.equals(name)) {
                b.putFloat(b.position() + 4 * index, value);
                sections.put("TENS", tens);
                return assemble(sections);
            }
            b.position((int) (b.position() + 4 * size));
        }
        throw new IllegalArgumentException("no tensor " + name);
    }

    static Map<String, byte[]> sections(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file, Checkpoint.HEADER_BYTES, file.length - Checkpoint.HEADER_BYTES);
        Map<String, byte[]> m = new LinkedHashMap<>();
        while (b.hasRemaining()) {
            byte[] tag = new byte[4];
            b.get(tag);
            byte[] body = new byte[b.getInt()];
            b.get(body);
            m.put(new String(tag, StandardCharsets.US_ASCII), body);
        }
        return m;
    }

    /** Header (magic, version 1, length, CRC32 of the payload) and the sections in order. */
    static byte[] assemble(Map<String, byte[]> sections) {
        ByteArrayOutputStream payload = new ByteArrayOutputStream();
        try (DataOutputStream d = new DataOutputStream(payload)) {
            for (Map.Entry<String, byte[]> e : sections.entrySet()) {
                d.write(e.getKey().getBytes(StandardCharsets.US_ASCII));
                d.writeInt(e.getValue().length);
                d.write(e.getValue());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] p = payload.toByteArray();
        CRC32 crc = new CRC32();
        crc.update(p);
        ByteBuffer all = ByteBuffer.allocate(Checkpoint.HEADER_BYTES + p.length);
        all.put(Checkpoint.MAGIC).putInt(Checkpoint.VERSION).putLong(p.length).putInt((int) crc.getValue()).put(p);
        return all.array();
    }

    private static String string(ByteBuffer b) {
        byte[] s = new byte[b.getInt()];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static void writeString(DataOutputStream d, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        d.writeInt(b.length);
        d.write(b);
    }
}
