package org.layerkit.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.layerkit.api.Backend;
import org.layerkit.conformance.ConformanceCase;
import org.layerkit.conformance.ConformanceReport;
import org.layerkit.conformance.ConformanceRunner;
import org.layerkit.conformance.Outcome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code layerkit conformance}: runs the conformance kit's cases (selected by {@link ConformanceRunner}) against a
 * backend, printing each case as it finishes, then the summary {@code N passed, N failed, N unsupported}. Exits 1 when
 * any case failed; unsupported cases are reported but are not failures.
 */
@Command(name = "conformance", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
                "Check a backend against the float64 reference, case by case (the conformance kit).",
                "Exits 1 if any case fails; UNSUPPORTED cases (ops the backend declares it lacks) are not failures."})
public final class ConformanceCommand extends CommandBase {
    @Mixin
    BackendMixin backendMixin = new BackendMixin();

    @Option(names = "--include", paramLabel = "REGEX",
            description = "Only cases whose name contains a match, e.g. 'batchnorm\\.backward' or 'relu.*'.")
    String include;

    @Option(names = "--exclude", paramLabel = "REGEX", description = "Skip cases whose name contains a match.")
    String exclude;

    @Option(names = "--list", description = "List the selected case names without running them.")
    boolean list;

    @Option(names = "--failures-only",
            description = "Print only FAILED and UNSUPPORTED cases (and the summary).")
    boolean failuresOnly;

    @Override
    protected int execute() {
        checkRegex("--include", include);
        checkRegex("--exclude", exclude);
        PrintWriter out = out();
        if (list) {
            // listing needs no backend: the catalogue is data
            List<ConformanceCase> cases = selection(null);
            cases.forEach(c -> out.println(c.name()));
            out.println(cases.size() + " cases");
            return 0;
        }
        try (Backend backend = backendMixin.open()) {
            List<ConformanceCase> cases = selection(backend);
            if (cases.isEmpty()) {
                throw new CliException("no conformance case matches --include " + quote(include) + " --exclude "
                        + quote(exclude) + " (see `layerkit conformance --list`)");
            }
            out.println("conformance of backend '" + backend.name() + "' on " + backend.device().describe() + ": "
                    + cases.size() + " cases");
            out.flush();
            List<ConformanceReport.Entry> entries = new ArrayList<>();
            for (ConformanceCase c : cases) {
                long start = System.nanoTime();
                // the lifecycle cases (*.backend_closed) close a second instance: the same backend and device again
                Outcome o = c.run(backend, () -> backendMixin.open(backend.name()));
                ConformanceReport.Entry e = new ConformanceReport.Entry(c.name(), o,
                        Duration.ofNanos(System.nanoTime() - start));
                entries.add(e);
                print(out, e);
            }
            ConformanceReport report = new ConformanceReport(backend.name() + " on " + backend.device().name(),
                    entries);
            out.println(report.summary());
            return report.ok() ? 0 : 1;
        }
    }

    /** The cases the conformance module's runner selects with these filters (the backend only scopes the runner). */
    private List<ConformanceCase> selection(Backend backend) {
        if (backend == null) {
            return org.layerkit.conformance.Catalogue.select(include, exclude);
        }
        return new ConformanceRunner(backend).include(include).exclude(exclude).cases();
    }

    private void print(PrintWriter out, ConformanceReport.Entry e) {
        if (failuresOnly && e.status() == Outcome.Status.PASSED) {
            return;
        }
        out.printf(Locale.ROOT, "%-11s %s (%d ms)%n", e.status(), e.name(), e.time().toMillis());
        if (!e.message().isEmpty()) {
            for (String line : e.message().split("\n")) {
                out.println("            " + line);
            }
        }
        out.flush();
    }

    private void checkRegex(String option, String regex) {
        if (regex == null) {
            return;
        }
        try {
            Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw usage(option + ": not a valid regular expression: " + e.getDescription() + " in '" + regex + "'");
        }
    }

    private static String quote(String s) {
        return s == null ? "(none)" : "'" + s + "'";
    }
}
