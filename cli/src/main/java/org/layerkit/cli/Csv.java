package org.layerkit.cli;

import java.math.BigDecimal;
import java.math.MathContext;

/** Minimal RFC 4180 CSV formatting for the files the commands write. */
final class Csv {
    private Csv() {
    }

    /** One line, fields quoted where they contain a comma, quote or line break, ending in a newline. */
    static String row(Object... fields) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) {
                b.append(',');
            }
            String s = String.valueOf(fields[i]);
            if (s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0) {
                s = '"' + s.replace("\"", "\"\"") + '"';
            }
            b.append(s);
        }
        return b.append('\n').toString();
    }

    /** A number with up to 6 significant digits; NaN as an empty field. */
    static String num(double v) {
        if (Double.isNaN(v)) {
            return "";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "inf" : "-inf";
        }
        return new BigDecimal(v).round(new MathContext(6)).stripTrailingZeros().toPlainString();
    }
}
