package org.layerkit.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * docs/tolerances.md derives every bound the code names: each name given to {@link Tolerance#derived} or
 * {@link Tolerance#ofSum} (with its _WIDE_MEAN variant where the code appends one), to NormBounds.runningTolerance or
 * to a Tolerance constructor, and each name a test's assertion message or comment gives a bound ("outside NAME",
 * "(NAME)", "// NAME:"), in any module's sources, has a heading there.
 */
class ToleranceDocsTest {
    private static final String NAME = "([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)";
    private static final Pattern[] USES = {
        Pattern.compile("derived\\(\"" + NAME + "\"( \\+ suffix)?"),
        Pattern.compile("ofSum\\(\"" + NAME + "\""),
        Pattern.compile("runningTolerance\\(\"" + NAME + "\""),
        Pattern.compile("new Tolerance\\(\"" + NAME + "\""),
        Pattern.compile("outside " + NAME + "[\"\\s)]"),
        Pattern.compile("\\(" + NAME + "\\)\""),
        Pattern.compile("// " + NAME + ":"),
    };

    @Test
    void everyBoundNamedInTheCodeIsDerivedInTheDocs() throws IOException {
        Path root = Path.of("").toAbsolutePath().getParent();
        String docs = Files.readString(root.resolve("docs/tolerances.md"));
        Set<String> headings = new TreeSet<>();
        Matcher h = Pattern.compile("(?m)^### (.+)$").matcher(docs);
        while (h.find()) {
            for (String n : h.group(1).split(",\\s*")) {
                headings.add(n.trim());
            }
        }
        Set<String> used = new TreeSet<>();
        try (Stream<Path> files = Files.walk(root)) {
            files.filter(p -> p.toString().endsWith(".java") && p.toString().contains("/src/")
                    && !p.toString().contains("/target/")).forEach(p -> {
                        String src;
                        try {
                            src = Files.readString(p);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                        for (Pattern pattern : USES) {
                            Matcher m = pattern.matcher(src);
                            while (m.find()) {
                                String name = m.group(1);
                                if (name.contains("_") || name.equals("EXACT") || name.equals("GEMM")
                                        || name.equals("AXPY")) {
                                    used.add(name);
                                    if (m.groupCount() > 1 && m.group(2) != null) {
                                        used.add(name + "_WIDE_MEAN");
                                    }
                                }
                            }
                        }
                    });
        }
        assertTrue(used.size() > 20, "found only " + used + "; is the scan looking at the sources?");
        Set<String> missing = new TreeSet<>(used);
        missing.removeAll(headings);
        assertTrue(missing.isEmpty(), "bounds named in the code without an entry (### NAME) in docs/tolerances.md: "
                + missing + "; entries: " + headings);
    }
}
