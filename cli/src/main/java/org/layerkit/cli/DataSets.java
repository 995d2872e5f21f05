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
     * How to cut a data set's training files into training and validation splits.
     *
     * @param valSize        the validation size asked for, or null for the data set's usual one
     * @param valSource      what asked for it, for messages: {@code --val-size 5000}, or the model file's metadata
     * @param valIfItFits    true when {@code valSize} is only a preference (a setting read from a model for a split
     *                       that does not depend on it): where it does not fit, the usual size is used instead
     * @param trainSize      keep only the first this many training examples (0: all)
     * @param trainSizeGiven whether {@code trainSize} was given by the user (then it must fit; a default is clamped)
     * @param needTrain      whether the training split is used (at least 2 examples needed); false when only the
     *                       test split is, which then works with no training examples at all
     */
    record Sizes(Integer valSize, String valSource, boolean valIfItFits, int trainSize, boolean trainSizeGiven,
                 boolean needTrain) {
        Sizes(Integer valSize, String valSource, int trainSize, boolean trainSizeGiven, boolean needTrain) {
            this(valSize, valSource, false, trainSize, trainSizeGiven, needTrain);
        }
    }

    /**
     * Loads {@code dataset} (a name or a directory) from {@code dataDir} (null: the default directory of the named
     * data set). {@code valSize} null picks the data set's usual validation split, shrunk to a tenth of a small
     * training set; {@code trainSize} &gt; 0 keeps only that many training examples.
     */
    static Loaded load(String dataset, Path dataDir, Integer valSize, int trainSize) {
        return load(dataset, dataDir, new Sizes(valSize, "--val-size " + valSize, trainSize, false, true));
    }

    /** Loads {@code dataset} from {@code dataDir} and cuts it as {@code sizes} says. */
    static Loaded load(String dataset, Path dataDir, Sizes sizes) {
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
        List<String> names = kind != null ? kind.classNames : guessNames(dir, format);
        String id = kind != null ? kind.id : dir.toString();
        int n = train.size();
        if (sizes.needTrain() && n < 2) {
            throw new CliException((kind != null ? title : "the data set") + " in " + dir
                    + (n == 0 ? " is empty: its training files hold no examples" : " has only 1 training example")
                    + "; training needs at least 2");
        }
        if (n == 0) {
            // only the test split is wanted: empty training and validation splits
            return new Loaded(id, title, dir, new DatasetSplits(train, train, test), names);
        }
        // validation takes at most what leaves the training split its minimum (2 to train on, else 1)
        int maxVal = sizes.needTrain() ? n - 2 : n - 1;
        Integer asked = sizes.valSize();
        if (asked != null && asked > maxVal && sizes.valIfItFits()) {
            asked = null; // a preference that does not apply to this data
        }
        int val = asked != null ? asked : Math.min(defaultValidation(format, n), maxVal);
        if (val < 0 || val > maxVal) {
            throw new CliException(sizes.valSource() + ": expected 0.." + maxVal + " for the " + n
                    + " training examples of " + title + (sizes.needTrain() ? " (at least 2 must remain to train on)"
                    : ""));
        }
        DatasetSplits splits = DatasetSplits.of(train, test, val);
        int left = splits.train().size();
        if (sizes.trainSizeGiven() && sizes.trainSize() > left) {
            throw new CliException("--train-size " + sizes.trainSize() + ": only " + left + " training examples of "
                    + title + " remain after the " + val + " held out for validation");
        }
        if (sizes.trainSize() > 0) {
            splits = splits.withTrainSize(sizes.trainSize());
        }
        return new Loaded(id, title, dir, splits, names);
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
