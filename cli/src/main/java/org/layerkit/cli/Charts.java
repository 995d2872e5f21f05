package org.layerkit.cli;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Line charts rendered headless to PNG with XChart's {@link BitmapEncoder}; several charts stack into one image,
 * like the panels of a matplotlib figure in the CS231N notebooks.
 */
final class Charts {
    static final int WIDTH = 900;
    static final int HEIGHT = 380;
    /** Equally spaced x values up to this many keep horizontal tick labels. */
    static final int FEW_POINTS = 20;

    private Charts() {
    }

    /** An empty line chart with titles, legend inside, white background. */
    static XYChart chart(String title, String xTitle, String yTitle) {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xTitle)
                .yAxisTitle(yTitle).build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        c.getStyler().setXAxisTickMarkSpacingHint(90);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setPlotGridLinesVisible(true);
        c.getStyler().setDecimalPattern("#0.###");
        return c;
    }

    /** Adds a line; {@code points} marks each point (for per-epoch series), otherwise a plain line. */
    static void line(XYChart c, String name, double[] x, double[] y, boolean points) {
        if (x.length == 0) {
            return;
        }
        XYSeries s = c.addSeries(name, x, y);
        s.setMarker(points ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
        s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    }

    /** Adds a scatter of small dots (e.g. the training loss of each iteration). */
    static void dots(XYChart c, String name, double[] x, double[] y) {
        if (x.length == 0) {
            return;
        }
        XYSeries s = c.addSeries(name, x, y);
        s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        s.setMarker(SeriesMarkers.CIRCLE);
        c.getStyler().setMarkerSize(3);
    }

    /**
     * XChart places x ticks at the data points when all x values of a chart are equally spaced (minibatch losses read
     * every k iterations) and then ignores the tick spacing hint, so hundreds of points give labels that run into each
     * other (knowm/XChart#731). Such a chart with more than {@link #FEW_POINTS} x values gets vertical x labels,
     * which fit at any spacing XChart picks (up to that many, e.g. epochs 1–15, its labels fit as they are).
     */
    static void keepTickLabelsApart(XYChart c) {
        List<Double> xs = new ArrayList<>();
        c.getSeriesMap().values().forEach(s -> Arrays.stream(s.getXData()).forEach(xs::add));
        double[] v = xs.stream().mapToDouble(Double::doubleValue).sorted().distinct().toArray();
        if (v.length <= FEW_POINTS) {
            return;
        }
        double step = v[1] - v[0];
        for (int i = 2; i < v.length; i++) {
            if (Math.abs((v[i] - v[i - 1]) - step) > 1e-9 * Math.max(1, Math.abs(step))) {
                return;
            }
        }
        c.getStyler().setXAxisLabelRotation(90);
    }

    /** {@link #savePng(Path, List, String, String)} without a caption. */
    static void savePng(Path file, List<XYChart> charts, String option) {
        savePng(file, charts, null, option);
    }

    /**
     * Renders the charts one below the other into a single PNG at {@code file}, under {@code caption} (wrapped to the
     * image's width; null for none) — a net's full description is longer than a chart title, which XChart cuts off.
     * The file is written whole or not at all (a temporary file moved into place); a failure is a
     * {@link CliException} naming {@code option} and the operating system's reason.
     */
    static void savePng(Path file, List<XYChart> charts, String caption, String option) {
        charts.forEach(Charts::keepTickLabelsApart);
        int height = 0;
        int width = 0;
        BufferedImage[] parts = new BufferedImage[charts.size()];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = BitmapEncoder.getBufferedImage(charts.get(i));
            height += parts[i].getHeight();
            width = Math.max(width, parts[i].getWidth());
        }
        Font font = new Font(Font.SANS_SERIF, Font.BOLD, 14);
        List<String> lines = new ArrayList<>();
        int lineHeight = 0;
        if (caption != null && !caption.isBlank()) {
            BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
            Graphics2D pg = probe.createGraphics();
            try {
                FontMetrics fm = pg.getFontMetrics(font);
                lines = wrap(caption, fm, Math.max(100, width - 20));
                lineHeight = fm.getHeight();
            } finally {
                pg.dispose();
            }
        }
        int top = lines.isEmpty() ? 0 : lines.size() * lineHeight + 10;
        BufferedImage all = new BufferedImage(width, Math.max(1, top + height), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = all.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, top + height);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.BLACK);
            g.setFont(font);
            FontMetrics fm = g.getFontMetrics();
            for (int i = 0; i < lines.size(); i++) {
                g.drawString(lines.get(i), (width - fm.stringWidth(lines.get(i))) / 2, 5 + fm.getAscent()
                        + i * lineHeight);
            }
            int y = top;
            for (BufferedImage p : parts) {
                g.drawImage(p, 0, y, null);
                y += p.getHeight();
            }
        } finally {
            g.dispose();
        }
        // our own stream, so that an unwritable path is an IOException with its reason here; ImageIO.write(File)
        // prints the FileNotFoundException's stack trace itself and throws "Can't create an ImageOutputStream!".
        // No cache file: ImageIO would otherwise put one in java.io.tmpdir.
        ImageIO.setUseCache(false);
        Path abs = file.toAbsolutePath();
        // a regular file (or none yet) is replaced whole: a temporary file beside it, moved into place; anything else
        // (a pipe, /dev/stdout) is written as it is
        boolean replace = Files.isRegularFile(abs) || !Files.exists(abs);
        Path tmp = null;
        try {
            Path target = abs;
            if (replace) {
                tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".", ".tmp");
                target = tmp;
            }
            try (OutputStream os = Files.newOutputStream(target)) {
                if (!ImageIO.write(all, "png", os)) {
                    throw new CliException(option + ": cannot write the plot to " + file
                            + ": no PNG writer in this Java runtime");
                }
            }
            if (replace) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                tmp = null;
            }
        } catch (IOException e) {
            throw Files2.cannotWrite(option, "the plot", file, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the write already failed; that is the error reported
                }
            }
        }
    }

    /** {@code text} in lines no wider than {@code width} pixels, broken at spaces (a longer word on its own line). */
    static List<String> wrap(String text, FontMetrics fm, int width) {
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.trim().split("\\s+")) {
            if (line.length() > 0 && fm.stringWidth(line + " " + word) > width) {
                lines.add(line.toString());
                line.setLength(0);
            }
            if (line.length() > 0) {
                line.append(' ');
            }
            line.append(word);
        }
        if (line.length() > 0) {
            lines.add(line.toString());
        }
        return lines;
    }
}
