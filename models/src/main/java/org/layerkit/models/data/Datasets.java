package org.layerkit.models.data;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** Loads a data set by name — {@code fashion-mnist}, {@code mnist} or {@code cifar10} — for tools such as the CLI. */
public final class Datasets {
    /** The names {@link #load} accepts. */
    public static final List<String> NAMES = List.of("fashion-mnist", "mnist", "cifar10");

    private Datasets() {
    }

    /**
     * Where the data set usually lives: {@code /usr/share/datasets/<name>} (Debian's {@code dataset-<name>}
     * packages).
     */
    public static Path defaultDir(String name) {
        return Path.of("/usr/share/datasets", canonical(name));
    }

    /** The usual validation split: 5 000 for (Fashion-)MNIST, 1 000 for CIFAR-10 (CS231N). */
    public static int defaultValidation(String name) {
        return canonical(name).equals("cifar10") ? Cifar10.DEFAULT_VALIDATION : FashionMnist.DEFAULT_VALIDATION;
    }

    /** Train, validation (the last {@code validationSize} training examples) and test splits, unstandardized. */
    public static DatasetSplits load(String name, Path dir, int validationSize) throws DatasetException {
        return switch (canonical(name)) {
            case "cifar10" -> Cifar10.load(dir, validationSize);
            default -> FashionMnist.load(dir, validationSize); // MNIST uses the same IDX file names
        };
    }

    private static String canonical(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        return switch (n) {
            case "fashion-mnist", "fashionmnist" -> "fashion-mnist";
            case "mnist" -> "mnist";
            case "cifar10", "cifar-10" -> "cifar10";
            default -> throw new IllegalArgumentException("data set: expected one of " + NAMES + ", got '" + name + "'");
        };
    }
}
