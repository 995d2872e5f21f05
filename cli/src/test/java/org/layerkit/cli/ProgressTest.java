package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ProgressTest {
    @Test
    void barIsRedrawnInPlaceAndReplacedByTheSummary() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), Progress.Style.BAR, Long.MAX_VALUE);
        p.startEpoch(2, 5, 4, 100);
        for (int i = 1; i <= 4; i++) {
            p.update(i, 1.0);
        }
        p.endEpoch("epoch 2/5 summary");
        String out = s.toString();
        assertTrue(out.startsWith("\repoch 2/5 ["), out);
        assertTrue(out.contains("100% loss 1.0000") && out.contains("ex/s ETA 0:00"), out);
        // the summary overwrites the bar: carriage return, blanks, carriage return, summary on its own line
        assertTrue(out.matches("(?s).*\r +\repoch 2/5 summary\n"), out);
        assertEquals(1, out.chars().filter(c -> c == '\n').count(), out);
    }

    @Test
    void plainStyleWritesWholeLinesAndNoCarriageReturns() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), Progress.Style.PLAIN, 0);
        p.startEpoch(1, 1, 3, 10);
        p.update(1, 2.0);
        p.update(2, 1.0);
        p.update(3, 0.5);
        p.endEpoch("done");
        String out = s.toString();
        assertFalse(out.contains("\r"), out);
        assertTrue(out.contains("epoch 1/1  33% (iteration 1/3) loss 2.0000"), out);
        assertTrue(out.contains("(iteration 2/3) loss 1.9000"), "smoothed loss expected\n" + out);
        assertTrue(out.endsWith("done\n"), out);
    }

    @Test
    void noneShowsOnlySummariesAndDurationsRead() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), Progress.Style.NONE, 0);
        p.startEpoch(1, 1, 2, 10);
        p.update(1, 1.0);
        p.endEpoch("only this");
        assertEquals("only this\n", s.toString().replace(System.lineSeparator(), "\n"));
        assertEquals("0:07", Progress.duration(7.2));
        assertEquals("12:34", Progress.duration(754));
        assertEquals("1:02:03", Progress.duration(3723));
    }

    @Test
    void csvQuotesAndRoundsNumbers() {
        assertEquals("a,\"b,c\",\"say \"\"hi\"\"\"\n", Csv.row("a", "b,c", "say \"hi\""));
        assertEquals("0.123457", Csv.num(0.1234567));
        assertEquals("1500", Csv.num(1500.0));
        assertEquals("", Csv.num(Double.NaN));
    }
}
