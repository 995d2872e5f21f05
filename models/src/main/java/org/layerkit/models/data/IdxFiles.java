package org.layerkit.models.data;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads IDX files (the MNIST / Fashion-MNIST format: big-endian magic {@code 0x0000 08 nd}, nd big-endian
 * dimensions, then unsigned bytes), gzipped or not — detected from the gzip magic {@code 1f 8b}, not the name.
 */
public final class IdxFiles {
    /** Magic of an unsigned-byte IDX file with 3 dimensions (images N×rows×cols). */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** Magic of an unsigned-byte IDX file with 1 dimension (labels N). */
    public static final int LABELS_MAGIC = 0x00000801;

    private IdxFiles() {
    }

    /**
     * An IDX file's contents.
     *
     * @param dims the dimensions from the header
     * @param data the unsigned bytes, row-major
     */
    public record Idx(int[] dims, byte[] data) {
        public int count() {
            return dims[0];
        }
    }

    /** {@code dir/name} if it exists, else {@code dir/name.gz}, else a DatasetException naming both. */
    public static Path locate(Path dir, String name) throws DatasetException {
        Path plain = dir.resolve(name);
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        Path gz = dir.resolve(name + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        throw new DatasetException(plain, "not found (looked for " + plain + " and " + gz + ")"
                + (Files.isDirectory(dir) ? "" : "; directory " + dir + " does not exist"));
    }

    /** Reads an image file: magic 0x00000803, dimensions N, rows, cols. */
    public static Idx readImages(Path file) throws DatasetException {
        return read(file, IMAGES_MAGIC, "images (idx3-ubyte)");
    }

    /** Reads a label file: magic 0x00000801, dimension N. */
    public static Idx readLabels(Path file) throws DatasetException {
        return read(file, LABELS_MAGIC, "labels (idx1-ubyte)");
    }

    /** Reads an IDX file whose magic must be {@code expectedMagic}; every defect names the file. */
    public static Idx read(Path file, int expectedMagic, String what) throws DatasetException {
        byte[] bytes = decompressed(file);
        if (bytes.length < 4) {
            throw new DatasetException(file, "truncated: expected an IDX header of at least 4 bytes for " + what
                    + ", found " + bytes.length + " bytes");
        }
        int magic = readInt(bytes, 0);
        if (magic != expectedMagic) {
            throw new DatasetException(file, String.format("wrong magic: expected 0x%08x (%s), found 0x%08x", expectedMagic,
                    what, magic));
        }
        int nd = expectedMagic & 0xff;
        int header = 4 + 4 * nd;
        if (bytes.length < header) {
            throw new DatasetException(file, "truncated: expected a header of " + header + " bytes, found "
                    + bytes.length + " bytes");
        }
        int[] dims = new int[nd];
        long size = 1;
        for (int i = 0; i < nd; i++) {
            dims[i] = readInt(bytes, 4 + 4 * i);
            if (dims[i] < 0) {
                throw new DatasetException(file, "corrupt header: dimension " + i + " is " + dims[i]);
            }
            size *= dims[i];
        }
        long expected = header + size;
        if (bytes.length != expected) {
            throw new DatasetException(file, (bytes.length < expected ? "truncated" : "unexpected trailing data")
                    + ": expected " + expected + " bytes (header " + header + " + " + size + " data for dimensions "
                    + java.util.Arrays.toString(dims) + "), found " + bytes.length);
        }
        byte[] data = java.util.Arrays.copyOfRange(bytes, header, bytes.length);
        return new Idx(dims, data);
    }

    /** The file's bytes, gunzipped when they start with the gzip magic. */
    static byte[] decompressed(Path file) throws DatasetException {
        byte[] raw;
        try {
            raw = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new DatasetException(file, "not found", e);
        } catch (IOException e) {
            throw new DatasetException(file, "cannot be read: " + e, e);
        }
        if (raw.length >= 2 && (raw[0] & 0xff) == 0x1f && (raw[1] & 0xff) == 0x8b) {
            try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(raw))) {
                return in.readAllBytes();
            } catch (EOFException e) {
                throw new DatasetException(file, "truncated: the gzip stream ends early (" + raw.length
                        + " compressed bytes)", e);
            } catch (ZipException e) {
                throw new DatasetException(file, "corrupt gzip stream: " + e.getMessage(), e);
            } catch (IOException e) {
                throw new DatasetException(file, "cannot be decompressed: " + e, e);
            }
        }
        return raw;
    }

    private static int readInt(byte[] b, int at) {
        return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
    }

    /**
     * Reads an image file and its label file into a data set with pixels scaled to [0,1], D = rows·cols and examples
     * of shape {@code [1,rows,cols]} (one grey channel). The counts must agree and every label must be below
     * {@code classes}.
     */
    public static Dataset readDataset(String name, Path images, Path labels, int classes) throws DatasetException {
        Idx img = readImages(images);
        Idx lab = readLabels(labels);
        if (img.count() != lab.count()) {
            throw new DatasetException(labels, "expected " + img.count() + " labels (the image count of " + images
                    + "), found " + lab.count());
        }
        int n = img.count();
        int d = img.dims()[1] * img.dims()[2];
        float[] x = new float[n * d];
        byte[] px = img.data();
        for (int i = 0; i < x.length; i++) {
            x[i] = (px[i] & 0xff) / 255f;
        }
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = lab.data()[i] & 0xff;
            if (y[i] >= classes) {
                throw new DatasetException(labels, "label " + i + ": expected 0.." + (classes - 1) + ", found " + y[i]);
            }
        }
        if (d < 1) {
            return new Dataset(name, x, y, d, classes); // refused there, naming the data set
        }
        return new Dataset(name, x, y, org.layerkit.api.Shape.of(1, img.dims()[1], img.dims()[2]), classes);
    }
}
