package nnfuse.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Test resources under nn/, conversions, and a numpy subprocess for checking what the library writes. */
final class Fixtures {
    private Fixtures() {}

    /** A file of src/test/resources/nn (written by make_fixture.py). */
    static Path resource(String name) {
        URL url = Fixtures.class.getResource("/nn/" + name);
        assertTrue(url != null, "missing test resource nn/" + name + "; run make_fixture.py");
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The values widened to double, as expected values for {@link nnfuse.testing.Tolerance}. */
    static double[] toDoubles(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    /** The lines python3 prints running {@code script} with {@code args}; skips the test without numpy. */
    static List<String> python(String script, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("python3", "-c", script));
        command.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException missing) {
            Assumptions.abort("python3 is not installed");
            throw missing;
        }
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python3 timed out");
        Assumptions.assumeFalse(output.contains("No module named 'numpy'"), "numpy is not installed");
        assertEquals(0, p.exitValue(), output);
        return output.lines().toList();
    }
}
