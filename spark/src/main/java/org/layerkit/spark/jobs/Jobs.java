package org.layerkit.spark.jobs;

import java.io.IOException;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.layerkit.api.CollectiveException;
import org.layerkit.spark.BarrierCollective;
import org.layerkit.spark.SparkTrainingException;

/**
 * What the jobs share: the session {@code main} builds from spark-submit's configuration, and the one-line reports of
 * a bad command line (exit status 2) or a failed run (exit status 1).
 */
final class Jobs {
    /** The sync timeout a training job sets when spark-submit gave none (Spark's own default is 365 days). */
    static final String DEFAULT_SYNC_TIMEOUT = "300s";

    private Jobs() {
    }

    /** A run that failed for a reason the user can act on (data unreadable, a Spark job failed): one line, exit 1. */
    static final class JobFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        JobFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A job's body: parses its arguments, runs, returns the exit status. */
    @FunctionalInterface
    interface Body {
        int run() throws IOException;
    }

    /** A job's body, given its parsed command line: runs, returns the exit status. */
    @FunctionalInterface
    interface ArgsBody {
        int run(JobArgs args) throws IOException;
    }

    /**
     * A job's command line: parses {@code args} ({@code valued} options, and {@code --help}, which prints
     * {@code usage} and {@code help} and returns 0), then runs {@code body} through {@link #execute}.
     */
    static int run(String job, String usage, Supplier<String> help, List<String> valued, String[] args,
                   PrintStream out, PrintStream err, ArgsBody body) {
        return execute(job, usage, err, () -> {
            JobArgs a = JobArgs.parse(args, valued, HELP_FLAG);
            if (a.flag("--help")) {
                out.println(usage);
                out.println(help.get());
                return 0;
            }
            return body.run(a);
        });
    }

    /** The flags every job takes. */
    private static final List<String> HELP_FLAG = List.of("--help");

    /** Ends a {@code main} with {@code status} when it is not 0. */
    static void exitOnFailure(int status) {
        if (status != 0) {
            System.exit(status);
        }
    }

    /**
     * Runs {@code body}, turning a {@link JobArgs.UsageException} into its line plus {@code usage} on {@code err}
     * (status 2) and a failure the user can act on into one line (status 1). Anything else is a bug and propagates
     * with its stack trace.
     */
    static int execute(String job, String usage, PrintStream err, Body body) {
        try {
            return body.run();
        } catch (JobArgs.UsageException e) {
            err.println(job + ": " + e.getMessage());
            err.println(usage);
            return 2;
        } catch (JobFailure | SparkTrainingException | CollectiveException e) {
            err.println(job + ": error: " + e.getMessage());
            return 1;
        } catch (IOException e) {   // DatasetException, CheckpointException: their messages start with the file
            err.println(job + ": error: " + e.getMessage());
            return 1;
        } catch (RuntimeException e) {
            if (e.getClass().getName().startsWith("org.apache.spark.")) {
                // a failed Spark job: its first line names the stage, task and the task's exception
                String m = String.valueOf(e.getMessage());
                int nl = m.indexOf('\n');
                err.println(job + ": error: the Spark job failed: " + (nl < 0 ? m : m.substring(0, nl)));
                return 1;
            }
            throw e;
        }
    }

    /**
     * The session of a job started by spark-submit, whose {@code --master} and {@code --conf} settings arrive as
     * {@code spark.*} system properties; {@code barrier} jobs get {@value #DEFAULT_SYNC_TIMEOUT} as
     * {@code spark.barrier.sync.timeout} when none was given.
     */
    static Supplier<SparkSession> submitted(String app, boolean barrier, PrintStream out) {
        return () -> {
            SparkConf conf = new SparkConf();
            if (!conf.contains("spark.master")) {
                throw new JobArgs.UsageException("no Spark master: expected the job to be started by spark-submit "
                        + "--master URL (--master local[2] on one machine), or java -Dspark.master=local[2], got "
                        + "neither");
            }
            SparkSession.Builder b = SparkSession.builder();
            if (!conf.contains("spark.app.name")) {
                b.appName(app);
            }
            if (barrier && !conf.contains(BarrierCollective.TIMEOUT_CONF)) {
                out.println("spark:   " + BarrierCollective.TIMEOUT_CONF + " not set: using " + DEFAULT_SYNC_TIMEOUT
                        + " (the longest a replica may wait for the others at a collective call; --conf "
                        + BarrierCollective.TIMEOUT_CONF + "=… to change it)");
                b.config(BarrierCollective.TIMEOUT_CONF, DEFAULT_SYNC_TIMEOUT);
            }
            return b.getOrCreate();
        };
    }

    private static final Pattern LOCAL = Pattern.compile("local\\[(\\d+|\\*)(,\\d+)?]");

    /** The task slots of a {@code local}, {@code local[N]} or {@code local[*]} master; -1 for a cluster. */
    static int localSlots(String master) {
        String m = master.trim().toLowerCase(Locale.ROOT);
        if (m.equals("local")) {
            return 1;
        }
        Matcher x = LOCAL.matcher(m);
        if (x.matches()) {
            return x.group(1).equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(x.group(1));
        }
        return -1;
    }
}
