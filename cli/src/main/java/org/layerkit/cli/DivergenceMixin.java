package org.layerkit.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;
import org.layerkit.models.train.SolverConfig;
import org.layerkit.models.train.TrainingDivergedException;
import picocli.CommandLine.Option;

/**
 * {@code --divergence-factor} and {@code --no-divergence-check}, for the commands that train: when a minibatch loss
 * climbs above F × max(the first iteration's loss, ln K) for K classes, training stops as it does on a NaN loss
 * (exit 1, a message, no file written). See {@code docs/reliability.md} for how the default was chosen.
 */
public final class DivergenceMixin {
    @Option(names = "--divergence-factor", paramLabel = "F",
            description = "Stop training when a loss read exceeds F x max(first loss, ln K classes), as on a NaN "
                    + "loss: exit 1, nothing saved (default: 100; healthy runs stay below 5).")
    Double factor;

    @Option(names = "--no-divergence-check",
            description = "Do not stop on a finite blow-up of the loss (a NaN or infinite loss still stops training).")
    boolean off;

    /** Throws the usage error {@code usage} makes of a message for a factor that is not > 1. */
    void validate(Function<String, ? extends RuntimeException> usage) {
        if (factor != null && off) {
            throw usage.apply("--divergence-factor and --no-divergence-check exclude each other");
        }
        if (factor != null && !(factor > 1)) {
            throw usage.apply("--divergence-factor must be > 1 (a loss F times above where it started), got " + factor);
        }
    }

    /**
     * A {@link TrainingDivergedException} for the user: {@code prefix} (e.g. an experiment's run), the message, the
     * options that change the rule where it was the finite threshold, and that no model was written (the Solver
     * stops before anything is saved; {@code save} may be null).
     */
    static CliException diverged(TrainingDivergedException e, String prefix, Path save) {
        StringBuilder m = new StringBuilder(prefix).append(e.getMessage());
        if (e.reason() == TrainingDivergedException.Cause.LOSS_ABOVE_THRESHOLD) {
            m.append("; --divergence-factor F or --no-divergence-check change this rule");
        }
        if (save != null) {
            m.append("; nothing was saved (").append(save)
                    .append(Files.exists(save) ? " is left as it was)" : " was not created)");
        }
        return new CliException(m.toString(), e);
    }

    /** Applies the options to a solver configuration. */
    SolverConfig.Builder apply(SolverConfig.Builder b) {
        if (off) {
            return b.noDivergenceCheck();
        }
        return b.divergenceFactor(factor != null ? factor : SolverConfig.DEFAULT_DIVERGENCE_FACTOR);
    }
}
