package org.layerkit.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;
import org.layerkit.api.BackendUnavailableException;
import org.layerkit.models.train.TrainingDivergedException;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every subcommand shares: captured output streams, {@code -v}, and the translation of failures into a message
 * and exit code 1. Usage errors ({@link CommandLine.ParameterException}) pass through so picocli reports them with
 * exit code 2. Doing this here rather than in an execution-exception handler keeps the behaviour the same however
 * the {@link CommandLine} was built (the launcher, the tests, an embedding program).
 */
public abstract class CommandBase implements Callable<Integer> {
    @Spec
    protected CommandSpec spec;

    @Mixin
    protected VerboseMixin verboseMixin = new VerboseMixin();

    /** Does the work; returns the exit code (0 on success). */
    protected abstract int execute() throws Exception;

    @Override
    public final Integer call() {
        // the api logs backend selection at INFO: part of the story with -v, noise without it
        java.util.logging.Logger.getLogger("").setLevel(verbose() ? java.util.logging.Level.INFO
                : java.util.logging.Level.WARNING);
        try {
            return execute();
        } catch (CommandLine.ParameterException e) {
            throw e;
        } catch (Exception | LinkageError | OutOfMemoryError e) {
            return fail(e);
        } finally {
            out().flush();
            err().flush();
        }
    }

    protected PrintWriter out() {
        return spec.commandLine().getOut();
    }

    protected PrintWriter err() {
        return spec.commandLine().getErr();
    }

    protected boolean verbose() {
        return verboseMixin.isVerbose();
    }

    /** A usage error (exit 2) found after parsing, e.g. an option value that is well-formed but not allowed. */
    protected CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    private int fail(Throwable e) {
        PrintWriter err = err();
        err.println("layerkit " + spec.name() + ": error: " + message(e));
        if (verbose()) {
            StringWriter sw = new StringWriter();
            e.printStackTrace(new PrintWriter(sw));
            err.print(sw);
        } else if (!expected(e)) {
            err.println("(run with -v for the stack trace)");
        }
        return 1;
    }

    /** Failures whose message says it all: the user's input or environment, not a bug. */
    static boolean expected(Throwable t) {
        return t instanceof CliException || t instanceof BackendUnavailableException
                || t instanceof IllegalArgumentException || t instanceof TrainingDivergedException;
    }

    /** The message of e; unexpected exception types are named, and a cause adds its own message. */
    static String message(Throwable e) {
        Throwable t = e instanceof UncheckedIOException && e.getCause() != null ? e.getCause() : e;
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            m = t.getClass().getSimpleName();
        } else if (!expected(t)) {
            m = t.getClass().getSimpleName() + ": " + m;
        }
        if (t instanceof OutOfMemoryError) {
            m += " (give Java more memory, e.g. JAVA_TOOL_OPTIONS=-Xmx8g, or use smaller batches/shapes)";
        }
        return m;
    }
}
