package org.layerkit.models;

import java.util.Locale;
import java.util.Map;

/**
 * Typed reads of the string maps that configurations are stored as (checkpoint sections {@code CONF}, {@code OPTM},
 * {@code META}): a missing or malformed value is an {@link IllegalArgumentException} naming the field, what was
 * expected and what was found — {@code field 'input_dim': expected an integer, got 'abc'} — which the checkpoint
 * reader prefixes with the file and section.
 */
public final class MapFields {
    private MapFields() {
    }

    /** The value of {@code key}; missing is an error listing the keys present. */
    public static String string(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) {
            throw new IllegalArgumentException("field '" + key + "' is missing (have " + m.keySet() + ")");
        }
        return v;
    }

    public static int integer(Map<String, String> m, String key) {
        String v = string(m, key);
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw malformed(key, "an integer", v);
        }
    }

    public static long int64(Map<String, String> m, String key) {
        String v = string(m, key);
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw malformed(key, "an integer", v);
        }
    }

    public static double real(Map<String, String> m, String key) {
        String v = string(m, key);
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw malformed(key, "a number", v);
        }
    }

    /** {@code key}'s number, or {@code fallback} when the key is absent. */
    public static double real(Map<String, String> m, String key, double fallback) {
        return m.containsKey(key) ? real(m, key) : fallback;
    }

    public static float float32(Map<String, String> m, String key) {
        String v = string(m, key);
        try {
            return Float.parseFloat(v.trim());
        } catch (NumberFormatException e) {
            throw malformed(key, "a number", v);
        }
    }

    /** {@code true} or {@code false} (any case); anything else is an error, not {@code false}. */
    public static boolean bool(Map<String, String> m, String key) {
        String v = string(m, key);
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw malformed(key, "true or false", v);
        };
    }

    /** An error naming the field, what it should hold and the value found. */
    public static IllegalArgumentException malformed(String key, String expected, String found) {
        return new IllegalArgumentException("field '" + key + "': expected " + expected + ", got '" + found + "'");
    }
}
