package org.layerkit.models.examples;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.layerkit.api.Backend;
import org.layerkit.api.Backends;
import org.layerkit.models.data.DatasetSplits;
import org.layerkit.models.train.EpochEvent;
import org.layerkit.models.train.LossPoint;

/**
 * The two CS231N observations on Fashion-MNIST, as short runs that print Markdown tables for
 * {@code docs/results.md}:
 * <ol>
 *   <li>batch normalization: the same deep net (5 hidden layers of 100, Gaussian init with scale 2e-2), the same
 *       Adam schedule and data, with and without batch norm — the training loss falls faster with it;</li>
 *   <li>dropout: a wide net (one hidden layer of 500) on only 1000 training examples, keep 1 vs 0.5 vs 0.25 — the gap
 *       between train and validation accuracy shrinks with dropout.</li>
 * </ol>
 * Arguments ({@code --name=value}) are passed to every run after the experiment's own, e.g. {@code --data=DIR}.
 */
public final class Observations {
    private Observations() {
    }

    public static void main(String[] args) throws IOException {
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        try (Backend backend = Backends.select()) {
            System.out.println("backend " + backend.name() + " on " + backend.device().describe());

            String[] bnBase = {"--hidden=100,100,100,100,100", "--init=0.02", "--keep=1", "--optimizer=adam", "--lr=1e-3",
                    "--lr-decay=1", "--epochs=5", "--batch=100", "--train-size=10000", "--val=5000", "--seed=3"};
            System.out.println("\n### Batch normalization: mean training loss per epoch (10 000 training examples)\n");
            System.out.println("| normalization | mean loss, its 41–50 | mean loss, its 91–100 | epoch 1 | epoch 2 | epoch 3 | epoch 4 | epoch 5 | val acc (best) |");
            System.out.println("|---|---|---|---|---|---|---|---|---|");
            for (String norm : new String[] {"none", "batch"}) {
                FashionMnistTraining.Options o = FashionMnistTraining.Options.parse(concat(bnBase, args, "--norm=" + norm));
                DatasetSplits data = FashionMnistTraining.load(o);
                FashionMnistTraining.Result r = FashionMnistTraining.train(backend, data, o, quiet);
                StringBuilder row = new StringBuilder("| " + norm + " | ")
                        .append(fmt(window(r.history().losses(), 41, 50))).append(" | ")
                        .append(fmt(window(r.history().losses(), 91, 100))).append(" | ");
                for (EpochEvent e : r.history().epochs()) {
                    row.append(fmt(e.meanLoss())).append(" | ");
                }
                System.out.println(row.append(fmt(r.history().bestValAccuracy())).append(" |"));
            }

            String[] dropBase = {"--hidden=500", "--norm=none", "--init=he", "--optimizer=adam", "--lr=5e-4",
                    "--lr-decay=0.95", "--epochs=25", "--batch=100", "--train-size=1000", "--val=5000", "--seed=5"};
            System.out.println("\n### Dropout: train vs validation accuracy (1 000 training examples, 25 epochs)\n");
            System.out.println("| keep | final train acc | final val acc | gap | best val acc | test acc |");
            System.out.println("|---|---|---|---|---|---|");
            for (String keep : new String[] {"1", "0.5", "0.25"}) {
                FashionMnistTraining.Options o = FashionMnistTraining.Options.parse(
                        concat(dropBase, args, "--keep=" + keep));
                DatasetSplits data = FashionMnistTraining.load(o);
                // the last epoch's accuracies (the solver restores the best parameters, whose test accuracy we report)
                FashionMnistTraining.Result r = FashionMnistTraining.train(backend, data, o, quiet);
                EpochEvent last = r.history().epochs().get(r.history().epochs().size() - 1);
                System.out.printf(Locale.ROOT, "| %s | %.4f | %.4f | %.4f | %.4f | %.4f |%n", keep, last.trainAccuracy(),
                        last.valAccuracy(), last.trainAccuracy() - last.valAccuracy(), r.history().bestValAccuracy(),
                        r.testAccuracy());
            }
        }
    }

    private static double window(List<LossPoint> losses, long from, long to) {
        return losses.stream().filter(p -> p.iteration() >= from && p.iteration() <= to)
                .mapToDouble(LossPoint::loss).average().orElse(Double.NaN);
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    private static String[] concat(String[] base, String[] extra, String last) {
        List<String> l = new ArrayList<>(List.of(base));
        l.addAll(List.of(extra));
        l.add(last);
        return l.toArray(new String[0]);
    }
}
