package nnfuse.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The largest error seen per compared quantity during a test run, written when
 * the test JVM exits to the file named by the system property
 * {@code nnfuse.test.errorReport} (./nnfuse test prints it). Thread-safe.
 */
public final class ErrorReport {
    private record Entry(double worst, double worstRatio, Tolerance tolerance) {}

    private static final Map<String, Entry> WORST = new ConcurrentSkipListMap<>();

    static {
        String file = System.getProperty("nnfuse.test.errorReport");
        if (file != null) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> write(Path.of(file))));
        }
    }

    private ErrorReport() {}

    /**
     * Records a comparison's largest absolute error and its largest ratio of
     * error to allowed error (above 1 fails); shapes in brackets are dropped
     * from {@code what} so that one quantity is one row.
     */
    static void record(String what, double absError, double ratio, Tolerance tolerance) {
        String key = what.replaceAll("\\[.*?]", "").replaceAll("\\s+", " ").trim();
        WORST.merge(key, new Entry(absError, ratio, tolerance),
                (a, b) -> new Entry(Math.max(a.worst, b.worst), Math.max(a.worstRatio, b.worstRatio),
                        a.worstRatio >= b.worstRatio ? a.tolerance : b.tolerance));
    }

    private static void write(Path file) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "%-44s %11s %9s  %s", "quantity", "max |error|", "of allowed", "tolerance"));
        WORST.forEach((k, v) -> lines.add(String.format(Locale.ROOT, "%-44s %11.2e %8.1f%%  %s", k, v.worst,
                100 * v.worstRatio,
                v.tolerance == null ? "exact" : String.format(Locale.ROOT, "atol %.1e + rtol %.1e*|ref|",
                        v.tolerance.atol(), v.tolerance.rtol()))));
        try {
            Files.createDirectories(file.getParent());
            Files.write(file, lines);
        } catch (IOException e) {
            System.err.println("cannot write error report " + file + ": " + e.getMessage());
        }
    }
}
