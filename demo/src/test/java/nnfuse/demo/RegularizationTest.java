package nnfuse.demo;

import static nnfuse.demo.ReportTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The section-5 experiment's structure on a reduced configuration (4 classes,
 * 3 epochs), so it runs in about a second: the table has a row per lambda,
 * every claim gets a verdict line, and the PNG is written. The numbers of so
 * short a run are not the demo's and are not checked; the verdict rules are
 * checked in {@link ReportTest}.
 */
class RegularizationTest {
    private static final Regularization.Data DATA = new Regularization.Data(4, 20, 10, 2f, 0.2f, 3);
    private static final Experiment.Config CONFIG = new Experiment.Config(3, 16, 0.005f, 0.9f, 1, 2,
            new double[] {0, 1e-7, 0.07, 1});
    private static final Pattern VERDICT = Pattern.compile(": (confirmed|not confirmed by this run) \\(");

    @TempDir
    static Path dir;
    private static String output;
    private static Path plot;

    @BeforeAll
    static void runReduced() throws IOException {
        plot = dir.resolve("curves").resolve("section5.png");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Regularization.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), DATA, CONFIG, Progress.none(), plot,
                null);
        output = bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void describesTheDataAndTheTraining() {
        assertContains(output, "== 5. L2 Regularization ==",
                "Datasets.synthetic(classes=4, trainPerClass=20, testPerClass=10, features=52, noise=2.0,"
                        + " labelNoise=0.2, seed=3)",
                "Models.discussion04(fused=true, seed=1) with 52 inputs and 4 classes",
                "SGD(lr=0.005 cosine-annealed to 0, momentum=0.9), batches of 16, 3 epochs per lambda",
                "4 runs on 80 training and 40 test samples");
    }

    @Test
    void tableHasARowPerLambda() {
        List<String> lines = output.lines().toList();
        int header = lines.indexOf(lines.stream().filter(l -> l.contains("||theta||_2   train acc")).findFirst()
                .orElseThrow());
        String[] lambdas = {"0", "1e-07", "0.07", "1"};
        for (int i = 0; i < lambdas.length; i++) {
            String[] cells = lines.get(header + 1 + i).strip().split("\\s+");
            assertEquals(5, cells.length, lines.get(header + 1 + i));
            assertEquals(lambdas[i], cells[0]);
            assertTrue(cells[2].endsWith("%") && cells[3].endsWith("%"), lines.get(header + 1 + i));
        }
    }

    @Test
    void everyClaimHasAVerdict() {
        List<String> verdicts = output.lines().filter(l -> VERDICT.matcher(l).find()).toList();
        assertEquals(5, verdicts.size(), output);
        assertTrue(verdicts.get(0).startsWith("(a) a very large lambda (1)"), output);
        assertTrue(verdicts.get(1).startsWith("(b) a tiny lambda (1e-07)"), output);
        assertTrue(verdicts.get(2).strip().startsWith("i."), output);
        assertTrue(verdicts.get(3).strip().startsWith("ii."), output);
        assertTrue(verdicts.get(4).strip().startsWith("iii."), output);
    }

    @Test
    void writesThePlot() throws IOException {
        assertContains(output, "Training curves (accuracy, loss) per lambda: " + plot.toAbsolutePath());
        BufferedImage image = ImageIO.read(plot.toFile());
        assertEquals(1000, image.getWidth());
        assertEquals(750, image.getHeight());
    }
}
