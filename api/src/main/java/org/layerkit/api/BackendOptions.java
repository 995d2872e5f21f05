package org.layerkit.api;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * String options handed to {@link BackendProvider#create}, such as {@code device=1} or {@code device=H100}.
 * A key absent here may be read by the provider from the system property {@code layerkit.<backend>.<key>}.
 */
public final class BackendOptions {
    private static final BackendOptions NONE = new BackendOptions(Map.of());
    private final Map<String, String> values;

    private BackendOptions(Map<String, String> values) {
        this.values = Map.copyOf(values);
    }

    public static BackendOptions none() {
        return NONE;
    }

    public static BackendOptions of(Map<String, String> values) {
        return new BackendOptions(values);
    }

    public static BackendOptions of(String key, String value) {
        return new BackendOptions(Map.of(key, value));
    }

    /** The value for {@code key}, else the system property {@code layerkit.<backend>.<key>}, else empty. */
    public Optional<String> get(String backend, String key) {
        String v = values.get(key);
        if (v == null) {
            v = System.getProperty("layerkit." + backend + "." + key);
        }
        return Optional.ofNullable(v).filter(s -> !s.isBlank());
    }

    public Map<String, String> asMap() {
        return values;
    }

    @Override
    public String toString() {
        return new TreeMap<>(values).toString();
    }
}
