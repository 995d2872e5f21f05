package org.layerkit.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.layerkit.models.data.Cifar10;
import org.layerkit.models.data.Dataset;
import org.layerkit.models.data.DatasetException;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.data.FashionMnist;
import org.layerkit.models.data.IdxFiles;

/**
 * Resolves {@code --dataset}/{@code --data-dir} to files and loads them with the models module's readers: the named
 * data sets (Fashion-MNIST, MNIST, CIFAR-10) in their default directories, or any directory holding IDX or CIFAR-10
 * binary files. A missing data set becomes a message that names the directory and says how to get the files.
 */
final class DataSets {
    /** The data sets known by name. */
    enum Kind {
        FASHION_MNIST("fashion-mnist", "Fashion-MNIST", FashionMnist.DEFAULT_DIR, Format.IDX,
                List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                        "Ankle boot"),
                "install it with `apt-get install dataset-fashion-mnist`, or put train-images-idx3-ubyte.gz, "
                        + "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
                        + "there (or in a directory given by --data-dir)"),
        MNIST("mnist", "MNIST", Path.of("/usr/share/datasets/mnist"), Format.IDX,
                List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
                "put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
                        + "t10k-labels-idx1-ubyte.gz there, or pass --data-dir"),
        CIFAR10("cifar10", "CIFAR-10", Path.of("/usr/share/datasets/cifar10"), Format.CIFAR,
                List.of("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
                "put the binary version's data_batch_1.bin … data_batch_5.bin and test_batch.bin there, "
                        + "or pass --data-dir");

        final String id;
        final String title;
        final Path defaultDir;
        final Format format;
        final List<String> classNames;
        final String howToGet;

        Kind(String id, String title, Path defaultDir, Format format, List<String> classNames, String howToGet) {
            this.id = id;
            this.title = title;
            this.defaultDir = defaultDir;
            this.format = format;
            this.classNames = classNames;
            this.howToGet = howToGet;
        }

        static Kind byName(String name) {
            String n = name.trim().toLowerCase(Locale.ROOT).replace("_", "-");
            for (Kind k : values()) {
                if (k.id.equals(n) || k.id.replace("-", "").equals(n.replace("-", ""))) {
                    return k;
                }
            }
            return null;
        }
    }

    /** File layouts the readers understand. */
    enum Format {
        IDX, CIFAR
    }

    /**
     * A loaded data set.
     *
     * @param id         the name given ({@code fashion-mnist}, …) or the directory path
     * @param title      for messages
     * @param dir        the absolute directory the files came from
     * @param splits     train, validation and test
     * @param classNames a name per class (indices when the data set is not known by name)
     */
    record Loaded(String id, String title, Path dir, DatasetSplits splits, List<String> classNames) {
        String className(int k) {
            return k < classNames.size() ? classNames.get(k) : Integer.toString(k);
        }

        String describe() {
            return String.format(Locale.ROOT, "%s (%d train / %d val / %d test, %d features, %d classes) from %s",
                    title, splits.train().size(), splits.validation().size(), splits.test().size(),
                    splits.train().featureCount(), splits.train().classes(), dir);
        }
    }

    private DataSets() {
    }

    /** The names accepted by {@code --dataset} besides a directory. */
    static String names() {
        StringBuilder b = new StringBuilder();
        for (Kind k : Kind.values()) {
            b.append(b.length() == 0 ? "" : ", ").append(k.id);
        }
        return b.toString();
    }

    /**
     * Loads {@code dataset} (a name or a directory) from {@code dataDir} (null: the default directory of the named
     * data set). {@code valSize} null picks the data set's usual validation split, shrunk to a tenth of a small
     * training set; {@code trainSize} &gt; 0 keeps only that many training examples.
     */
    static Loaded load(String dataset, Path dataDir, Integer valSize, int trainSize) {
        Kind kind = Kind.byName(dataset);
        Path dir;
        Format format;
        String title;
        if (kind != null) {
            dir = dataDir != null ? dataDir : kind.defaultDir;
            format = kind.format;
            title = kind.title;
        } else {
            if (dataDir != null) {
                throw new CliException("--dataset " + dataset + " is not one of " + names()
                        + "; give either a name with --data-dir, or a directory as --dataset");
            }
            dir = Path.of(dataset);
            if (!Files.isDirectory(dir)) {
                throw new CliException("--dataset " + dataset + ": expected one of " + names()
                        + " or a directory with IDX or CIFAR-10 files, but " + dir.toAbsolutePath()
                        + " is not a directory");
            }
            format = detect(dir);
            title = dir.toAbsolutePath().normalize().toString();
        }
        dir = dir.toAbsolutePath().normalize();
        Dataset train;
        Dataset test;
        try {
            if (format == Format.IDX) {
                train = FashionMnist.train(dir);
                test = FashionMnist.test(dir);
            } else {
                Path[] batches = new Path[5];
                for (int i = 0; i < batches.length; i++) {
                    batches[i] = IdxFiles.locate(dir, "data_batch_" + (i + 1) + ".bin");
                }
                train = Cifar10.read(dir.getFileName() + "/train", batches);
                test = Cifar10.read(dir.getFileName() + "/test", IdxFiles.locate(dir, "test_batch.bin"));
            }
        } catch (DatasetException e) {
            throw missing(kind, title, dir, e);
        }
        int n = train.size();
        int val = valSize != null ? valSize : defaultValidation(format, n);
        if (val < 0 || val >= n) {
            throw new CliException("--val-size " + val + ": expected 0.." + (n - 1) + " for the " + n
                    + " training examples of " + title);
        }
        DatasetSplits splits = DatasetSplits.of(train, test, val);
        if (trainSize > 0) {
            splits = splits.withTrainSize(trainSize);
        }
        List<String> names = kind != null ? kind.classNames : guessNames(dir, format);
        return new Loaded(kind != null ? kind.id : dir.toString(), title, dir, splits, names);
    }

    /** The usual validation size (Fashion-MNIST 5000, CIFAR-10 1000), a tenth of small training sets. */
    static int defaultValidation(Format format, int n) {
        int usual = format == Format.IDX ? FashionMnist.DEFAULT_VALIDATION : Cifar10.DEFAULT_VALIDATION;
        return usual * 4 <= n ? usual : Math.max(1, n / 10);
    }

    private static Format detect(Path dir) {
        if (exists(dir, "train-images-idx3-ubyte")) {
            return Format.IDX;
        }
        if (exists(dir, "data_batch_1.bin")) {
            return Format.CIFAR;
        }
        throw new CliException("--dataset " + dir + ": no data set found there: expected IDX files "
                + "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
                + "t10k-labels-idx1-ubyte[.gz]) or CIFAR-10 binary batches (data_batch_1.bin … test_batch.bin)");
    }

    private static boolean exists(Path dir, String name) {
        return Files.isRegularFile(dir.resolve(name)) || Files.isRegularFile(dir.resolve(name + ".gz"));
    }

    private static List<String> guessNames(Path dir, Format format) {
        String n = dir.getFileName() == null ? "" : dir.getFileName().toString().toLowerCase(Locale.ROOT);
        if (format == Format.CIFAR) {
            return Kind.CIFAR10.classNames;
        }
        return n.contains("fashion") ? Kind.FASHION_MNIST.classNames : List.of();
    }

    private static CliException missing(Kind kind, String title, Path dir, DatasetException e) {
        boolean notFound = e.getMessage() != null && e.getMessage().contains("not found");
        if (notFound && kind != null) {
            return new CliException(title + " not found in " + dir + ": " + kind.howToGet + " (" + e.getMessage()
                    + ")", e);
        }
        if (notFound) {
            return new CliException("data set files not found in " + dir + ": " + e.getMessage(), e);
        }
        return new CliException("cannot read " + title + " from " + dir + ": " + e.getMessage(), e);
    }
}
