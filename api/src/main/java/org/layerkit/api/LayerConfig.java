package org.layerkit.api;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The string-keyed settings of a layer (e.g. {@code in=784}, {@code out=256}, {@code eps=1e-5}). Immutable;
 * serializable (a net's spec travels to Spark executors).
 */
public final class LayerConfig implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final Map<String, String> values;

    private LayerConfig(Map<String, String> values) {
        this.values = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    public static LayerConfig of(Map<String, ?> values) {
        Map<String, String> m = new LinkedHashMap<>();
        values.forEach((k, v) -> m.put(k, String.valueOf(v)));
        return new LayerConfig(m);
    }

    /** Pairs of key and value: {@code LayerConfig.of("in", 784, "out", 256)}. */
    public static LayerConfig of(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("LayerConfig.of: expected key/value pairs, got an odd count "
                    + keysAndValues.length);
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put(String.valueOf(keysAndValues[i]), String.valueOf(keysAndValues[i + 1]));
        }
        return new LayerConfig(m);
    }

    public Map<String, String> asMap() {
        return values;
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public String getString(String key) {
        String v = values.get(key);
        if (v == null) {
            throw new IllegalArgumentException("layer config: missing required key '" + key + "' (have " + values.keySet() + ")");
        }
        return v;
    }

    public String getString(String key, String def) {
        return values.getOrDefault(key, def);
    }

    public int getInt(String key) {
        return parse(key, getString(key), "an integer", Integer::parseInt);
    }

    public int getInt(String key, int def) {
        return has(key) ? getInt(key) : def;
    }

    public long getLong(String key, long def) {
        return has(key) ? parse(key, getString(key), "an integer", Long::parseLong) : def;
    }

    public double getDouble(String key) {
        return parse(key, getString(key), "a number", Double::parseDouble);
    }

    public double getDouble(String key, double def) {
        return has(key) ? getDouble(key) : def;
    }

    public boolean getBoolean(String key, boolean def) {
        if (!has(key)) {
            return def;
        }
        String v = getString(key);
        if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return Boolean.parseBoolean(v);
        }
        throw new IllegalArgumentException("layer config: key '" + key + "' expected true or false, got '" + v + "'");
    }

    private static <T> T parse(String key, String v, String what, java.util.function.Function<String, T> f) {
        try {
            return f.apply(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("layer config: key '" + key + "' expected " + what + ", got '" + v + "'", e);
        }
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
