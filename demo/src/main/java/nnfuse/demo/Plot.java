package nnfuse.demo;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The training curves of an {@link Experiment} as a PNG (JFreeChart, drawn
 * headless): accuracy per epoch on top (training solid, test dashed, one
 * colour per lambda) and the training objective below on a log scale.
 */
final class Plot {
    private static final int WIDTH = 1000;
    private static final int HEIGHT = 750;
    /** Colours that stay distinct for the colour-blind (Okabe and Ito, 2008). */
    private static final Color[] COLOURS = {new Color(0, 114, 178), new Color(213, 94, 0), new Color(0, 158, 115),
        new Color(204, 121, 167), new Color(230, 159, 0), new Color(86, 180, 233), Color.BLACK};
    private static final BasicStroke SOLID = new BasicStroke(2f);
    private static final BasicStroke DASHED = new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
            new float[] {7f, 5f}, 0f);
    /** Losses are drawn on a log axis, so an exact 0 is shown at this floor. */
    private static final double LOSS_FLOOR = 1e-6;

    private Plot() {}

    /** Writes the curves of {@code runs} to {@code png}, creating its directory. */
    static void write(Path png, String title, List<Experiment.Run> runs) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        NumberAxis epochs = new NumberAxis("epoch");
        epochs.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        epochs.setRange(1, Math.max(2, runs.stream().mapToInt(r -> r.curve().size()).max().orElse(2)));
        CombinedDomainXYPlot plot = new CombinedDomainXYPlot(epochs);
        plot.setGap(12);
        plot.add(accuracy(runs), 3);
        plot.add(loss(runs), 2);
        JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 16), plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(png.toFile(), chart, WIDTH, HEIGHT);
    }

    private static XYPlot accuracy(List<Experiment.Run> runs) {
        XYSeriesCollection data = new XYSeriesCollection();
        XYLineAndShapeRenderer renderer = renderer();
        for (int i = 0; i < runs.size(); i++) {
            Experiment.Run r = runs.get(i);
            XYSeries train = new XYSeries("lambda " + Experiment.format(r.lambda()) + " train");
            XYSeries test = new XYSeries("lambda " + Experiment.format(r.lambda()) + " test");
            for (Experiment.Epoch e : r.curve()) {
                train.add(e.epoch(), 100 * e.trainAccuracy());
                test.add(e.epoch(), 100 * e.testAccuracy());
            }
            style(renderer, data.getSeriesCount(), i, SOLID, true);
            data.addSeries(train);
            style(renderer, data.getSeriesCount(), i, DASHED, true);
            data.addSeries(test);
        }
        NumberAxis axis = new NumberAxis("accuracy (%): train solid, test dashed");
        axis.setRange(0, 100);
        return panel(data, axis, renderer);
    }

    private static XYPlot loss(List<Experiment.Run> runs) {
        XYSeriesCollection data = new XYSeriesCollection();
        XYLineAndShapeRenderer renderer = renderer();
        for (int i = 0; i < runs.size(); i++) {
            Experiment.Run r = runs.get(i);
            XYSeries loss = new XYSeries("lambda " + Experiment.format(r.lambda()) + " loss");
            for (Experiment.Epoch e : r.curve()) {
                loss.add(e.epoch(), Math.max(LOSS_FLOOR, e.trainLoss()));
            }
            style(renderer, data.getSeriesCount(), i, SOLID, false);
            data.addSeries(loss);
        }
        LogAxis axis = new LogAxis("training objective (log)");
        axis.setSmallestValue(LOSS_FLOOR);
        axis.setTickUnit(new NumberTickUnit(1));
        return panel(data, axis, renderer);
    }

    private static XYLineAndShapeRenderer renderer() {
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, false);
        renderer.setDrawSeriesLineAsPath(true);
        return renderer;
    }

    private static void style(XYLineAndShapeRenderer renderer, int series, int run, BasicStroke stroke,
            boolean inLegend) {
        renderer.setSeriesPaint(series, COLOURS[run % COLOURS.length]);
        renderer.setSeriesStroke(series, stroke);
        renderer.setSeriesVisibleInLegend(series, inLegend);
    }

    private static XYPlot panel(XYSeriesCollection data, ValueAxis axis, XYLineAndShapeRenderer renderer) {
        XYPlot plot = new XYPlot(data, null, axis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        return plot;
    }
}
