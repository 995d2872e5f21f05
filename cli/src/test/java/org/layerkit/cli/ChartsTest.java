package org.layerkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.XYChart;

class ChartsTest {
    @TempDir
    Path tmp;

    private static XYChart lossChart(double... extraX) {
        XYChart c = Charts.chart("Training loss", "iteration", "loss");
        double[] x = new double[600];
        double[] y = new double[600];
        for (int i = 0; i < x.length; i++) {
            x[i] = 10 * (i + 1);   // read every 10 iterations: equally spaced
            y[i] = 1.0 / (1 + i);
        }
        Charts.dots(c, "minibatch loss", x, y);
        if (extraX.length > 0) {
            Charts.line(c, "epoch mean", extraX, new double[extraX.length], true);
        }
        return c;
    }

    @Test
    void equallySpacedIterationsGetVerticalTickLabelsSoTheyDoNotRunTogether() {
        XYChart c = lossChart();
        Charts.keepTickLabelsApart(c);
        assertEquals(90, c.getStyler().getXAxisLabelRotation());
    }

    @Test
    void fifteenEpochsKeepHorizontalLabels() {
        XYChart c = Charts.chart("Accuracy", "epoch", "accuracy");
        double[] x = new double[15];
        for (int i = 0; i < x.length; i++) {
            x[i] = i + 1;
        }
        Charts.line(c, "train", x, new double[15], true);
        Charts.keepTickLabelsApart(c);
        assertEquals(0, c.getStyler().getXAxisLabelRotation());
    }

    @Test
    void epochPointsOffTheReadGridLetXChartPickItsOwnTicks() {
        XYChart c = lossChart(429, 858, 1287);
        Charts.keepTickLabelsApart(c);
        assertEquals(0, c.getStyler().getXAxisLabelRotation());
    }

    @Test
    void aLongCaptionIsWrappedToTheImageWidthAboveTheCharts() throws Exception {
        String caption = "fashion [1,28,28] conv3x3x32-pool2-conv3x3x64-pool2-flatten-fc256-10 batch conv-keep=0.8 "
                + "keep=0.5 init=he reg=0.0001 and more words to make it longer than one line of a 900 pixel image";
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = probe.createGraphics();
        FontMetrics fm = g.getFontMetrics(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        List<String> lines = Charts.wrap(caption, fm, 880);
        g.dispose();
        assertTrue(lines.size() >= 2, lines::toString);
        for (String l : lines) {
            assertTrue(fm.stringWidth(l) <= 880, () -> "too wide: " + l);
        }
        assertEquals(caption, String.join(" ", lines));

        Path png = tmp.resolve("curves.png");
        Charts.savePng(png, List.of(lossChart(), lossChart()), caption, "--plot");
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(Charts.WIDTH, img.getWidth());
        assertTrue(img.getHeight() > 2 * Charts.HEIGHT, "the caption adds rows above the charts: " + img.getHeight());
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of(png), files.toList(), "only the plot, no temporary file left behind");
        }
    }
}
