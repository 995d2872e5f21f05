package org.layerkit.cli;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
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
     * Renders the charts one below the other into a single PNG at {@code file}; a failure is a {@link CliException}
     * naming {@code option} and the operating system's reason.
     */
    static void savePng(Path file, List<XYChart> charts, String option) {
        int height = 0;
        int width = 0;
        BufferedImage[] parts = new BufferedImage[charts.size()];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = BitmapEncoder.getBufferedImage(charts.get(i));
            height += parts[i].getHeight();
            width = Math.max(width, parts[i].getWidth());
        }
        BufferedImage all = new BufferedImage(width, Math.max(1, height), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = all.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            int y = 0;
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
        try (OutputStream os = Files.newOutputStream(file)) {
            if (!ImageIO.write(all, "png", os)) {
                throw new CliException(option + ": cannot write the plot to " + file
                        + ": no PNG writer in this Java runtime");
            }
        } catch (IOException e) {
            throw Files2.cannotWrite(option, "the plot", file, e);
        }
    }
}
