package org.layerkit.conformance;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Every conformance case, in a fixed order: normalizations, dropout and Philox, training ops, convolution and pooling,
 * spatial dropout, bad arguments, calls from several threads, then the lifecycle of a backend.
 * Cases are data (see {@link ConformanceCase}); expected values are computed from {@link Reference} when a case runs.
 */
public final class Catalogue {
    private Catalogue() {
    }

    /** All cases; names are unique. */
    public static List<ConformanceCase> all() {
        List<ConformanceCase> cases = new ArrayList<>();
        cases.addAll(NormCases.all());
        cases.addAll(BatchNormPartsCases.all());
        cases.addAll(DropoutCases.all());
        cases.addAll(TrainingCases.all());
        cases.addAll(ConvCases.all());
        cases.addAll(PoolCases.all());
        cases.addAll(SpatialDropoutCases.all());
        cases.addAll(ErrorCases.all());
        cases.addAll(ConvErrorCases.all());
        cases.addAll(BatchNormPartsErrorCases.all());
        cases.addAll(ConcurrencyCases.all());
        cases.addAll(LifecycleCases.all());
        cases.addAll(ReshapeCases.all());
        Set<String> names = new HashSet<>();
        for (ConformanceCase c : cases) {
            if (!names.add(c.name())) {
                throw new IllegalStateException("Catalogue: case names expected unique, got '" + c.name()
                        + "' twice");
            }
        }
        return List.copyOf(cases);
    }

    /**
     * The cases whose name contains a match of {@code include} (all when null or blank) and none of {@code exclude}
     * (none when null or blank); both are {@link Pattern} regexes searched with {@code find()}.
     */
    public static List<ConformanceCase> select(String include, String exclude) {
        Pattern in = include == null || include.isBlank() ? null : Pattern.compile(include);
        Pattern ex = exclude == null || exclude.isBlank() ? null : Pattern.compile(exclude);
        List<ConformanceCase> out = new ArrayList<>();
        for (ConformanceCase c : all()) {
            if ((in == null || in.matcher(c.name()).find()) && (ex == null || !ex.matcher(c.name()).find())) {
                out.add(c);
            }
        }
        return out;
    }
}
