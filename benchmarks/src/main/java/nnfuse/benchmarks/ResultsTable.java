package nnfuse.benchmarks;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import nnfuse.Nnfuse;

/**
 * The table of ratios {@code ./nnfuse bench} prints: reads JMH's JSON results and compares each op with its
 * ceiling or its alternative measured in the same run (ratios, not absolute times: the machines are shared
 * and noisy). With a second argument it also rewrites, in that Markdown file (benchmarks/RESULTS.md), the
 * part between {@value #BEGIN} and {@value #END}: the machine, the JDK, the threads, OpenBLAS's kernel, the
 * table with each goal and whether it is met, and every score; text outside the markers is kept.
 *
 * <p>A ratio's {@code ±} combines the two scores' JMH errors (99.9% confidence half-widths) as relative
 * errors in quadrature. A measure whose benchmarks were not run reads "not measured".
 */
public final class ResultsTable {
    static final String BEGIN = "<!-- bench:begin -->";
    static final String END = "<!-- bench:end -->";
    /** Set by the launcher: OpenBLAS's kernel under the machine's OPENBLAS_* settings, which the run removed. */
    static final String PINNED_PROPERTY = "nnfuse.bench.pinnedKernel";

    private static final String LINEAR = "LinearLnReluBenchmark.";
    private static final String LARGE = "4096x1024x1024";
    private static final List<String> SEED_LAYERS = List.of("4x52x128", "4x128x256", "4x256x20");
    private static final List<String> BATCHES = List.of("4", "4096");
    private static final String NONE = "-";

    /** One benchmark's result: {@code Class.method}, its parameters, and the average time of one operation. */
    record Score(String benchmark, Map<String, String> params, double score, double error, String unit,
            double seconds) {
        /** JMH's error relative to the score; NaN when JMH had too few iterations to give one. */
        double relativeError() {
            return error / score;
        }
    }

    private static final String CUDA = "CudaBenchmark.";

    /** One line of the table. */
    record Row(String measure, String result, String goal, String verdict) {}

    private final List<Score> scores;

    ResultsTable(List<Score> scores) {
        this.scores = scores;
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: ResultsTable JMH_RESULT_JSON [RESULTS_MD]");
            System.exit(2);
        }
        Path json = Path.of(args[0]);
        List<Score> scores = read(json);
        String context = context(json);
        String table = markdown(new ResultsTable(scores).rows());
        System.out.println();
        System.out.println(context);
        System.out.println(table);
        if (args.length == 2) {
            Path results = Path.of(args[1]);
            update(results, section(json, scores, context + '\n' + table));
            System.out.println("Updated " + results);
        }
    }

    /** The measures, in its order. */
    List<Row> rows() {
        List<Row> rows = new ArrayList<>();
        rows.add(againstOpenBlas(LARGE));
        for (String shape : concat(List.of(LARGE), SEED_LAYERS)) {
            rows.add(speedup("Speedup of fused over unfused (Linear, LayerNorm, ReLU), " + layer(shape),
                    "fused", find(LINEAR + "fused", shape), "unfused", find(LINEAR + "unfused", shape)));
        }
        rows.add(bandwidth("LayerNorm (training form)", "LayerNormBenchmark", "layerNorm", LayerNormBenchmark.BYTES));
        rows.add(bandwidth("BatchNorm (training, running stats)", "BatchNormBenchmark", "batchNormTraining",
                BatchNormBenchmark.BYTES));
        rows.add(bandwidth("Dropout (p = 0.5, inverted)", "DropoutBenchmark", "dropout", DropoutBenchmark.BYTES));
        rows.add(latency("Downcall with nothing to do (nf_noop)", find("DowncallBenchmark.generatedBinding", null),
                "< 50 ns", 50));
        rows.add(latency("Seed's first layer at batch 4 (" + layer(SEED_LAYERS.getFirst()) + ", fused)",
                find("DowncallBenchmark.seedFirstLayer", null), "< 2 us", 2000));
        rows.add(latency("Seed's first layer at batch 4 (" + layer(SEED_LAYERS.getFirst())
                + ", fused, weight packed once)", find("DowncallBenchmark.seedFirstLayerPacked", null), "< 2 us",
                2000));
        for (String step : List.of("forward", "trainStep")) {
            String what = step.equals("forward") ? "the seed MLP's forward" : "one training step of the seed MLP";
            for (String batch : BATCHES) {
                Optional<Score> fused = find("ModelBenchmark." + step + "Fused", batch);
                String measure = "Speedup of " + what + ", batch " + batch + ": ";
                rows.add(speedup(measure + "native over pure-Java reference", "native", fused, "reference",
                        find("ModelBenchmark." + step + "Reference", batch)));
                rows.add(speedup(measure + "fused over unfused modules", "fused", fused, "unfused",
                        find("ModelBenchmark." + step + "Unfused", batch)));
            }
        }
        if (scores.stream().anyMatch(s -> s.benchmark().startsWith(CUDA))) {
            rows.addAll(cudaRows());
        }
        return rows;
    }

    /** The GPU measures of {@link CudaBenchmark}, present when a run had a CUDA device. */
    private List<Row> cudaRows() {
        String on = " on [" + CudaBenchmark.ROWS + ", " + CudaBenchmark.COLS + "] vs a device copy (GB/s)";
        List<Row> rows = new ArrayList<>();
        rows.add(bandwidth("CUDA LayerNorm" + on, CUDA + "layerNorm", CUDA + "copy", CudaBenchmark.BYTES,
                CudaBenchmark.BYTES));
        rows.add(bandwidth("CUDA BatchNorm (training, running stats)" + on, CUDA + "batchNormTraining",
                CUDA + "copy", CudaBenchmark.BYTES, CudaBenchmark.BYTES));
        rows.add(bandwidth("CUDA Dropout (p = 0.5, inverted)" + on, CUDA + "dropout", CUDA + "copy",
                CudaBenchmark.BYTES, CudaBenchmark.BYTES));
        rows.add(speedup("CUDA fused Linear+LayerNorm+ReLU against the plain product (nnfuse's Linear), "
                + CudaBenchmark.BATCH + "x" + CudaBenchmark.IN + " -> " + CudaBenchmark.OUT, "fused",
                find(CUDA + "linearLnReluFused", null), "product", find(CUDA + "linear", null)));
        return rows;
    }

    /** The fused op's throughput against OpenBLAS's product alone, both counted as the product's flops. */
    private Row againstOpenBlas(String shape) {
        String measure = "Fused Linear+LayerNorm+ReLU vs OpenBLAS sgemm alone, " + layer(shape) + " (GFLOP/s)";
        String goal = ">= 0.9x";
        Optional<Score> peer = find(LINEAR + "openblasSgemm", shape);
        Optional<Score> fused = find(LINEAR + "fused", shape);
        if (peer.isEmpty() || fused.isEmpty()) {
            return notMeasured(measure, goal);
        }
        double r = peer.get().seconds() / fused.get().seconds();
        String result = String.format(Locale.ROOT, "%s (%.1f vs %.1f GFLOP/s)", times(r, peer.get(), fused.get()),
                flops(shape) / fused.get().seconds() / 1e9, flops(shape) / peer.get().seconds() / 1e9);
        return new Row(measure, result, goal, r >= 0.9 ? "met" : "not met");
    }

    /** How many times faster {@code fast} is than {@code slow} (below 1: slower); no goal. */
    private static Row speedup(String measure, String fastName, Optional<Score> fast, String slowName,
            Optional<Score> slow) {
        if (slow.isEmpty() || fast.isEmpty()) {
            return notMeasured(measure, NONE);
        }
        double r = slow.get().seconds() / fast.get().seconds();
        String result = String.format(Locale.ROOT, "%s (%s %s, %s %s)", times(r, slow.get(), fast.get()),
                fastName, duration(fast.get().seconds()), slowName, duration(slow.get().seconds()));
        return new Row(measure, result, NONE, NONE);
    }

    /** Achieved bytes per second of an op against the copy of the same class and run. */
    private Row bandwidth(String op, String benchmarkClass, String method, long bytes) {
        return bandwidth(op + " on 4096x1024 vs a native copy (GB/s)", benchmarkClass + "." + method,
                benchmarkClass + ".copy", bytes, MemoryBoundBenchmark.COPY_BYTES);
    }

    /** Achieved bytes per second of benchmark {@code op} against benchmark {@code copy} of the same run. */
    private Row bandwidth(String measure, String op, String copyBenchmark, long bytes, long copyBytes) {
        Optional<Score> copy = find(copyBenchmark, null);
        Optional<Score> run = find(op, null);
        if (copy.isEmpty() || run.isEmpty()) {
            return notMeasured(measure, ">= 0.8x");
        }
        double opRate = bytes / run.get().seconds();
        double copyRate = copyBytes / copy.get().seconds();
        double r = opRate / copyRate;
        String result = String.format(Locale.ROOT, "%s (%.1f vs %.1f GB/s)", times(r, copy.get(), run.get()),
                opRate / 1e9, copyRate / 1e9);
        return new Row(measure, result, ">= 0.8x", r >= 0.8 ? "met" : "not met");
    }

    private static Row latency(String measure, Optional<Score> score, String goal, double limitNanos) {
        if (score.isEmpty()) {
            return notMeasured(measure, goal);
        }
        double ns = score.get().seconds() * 1e9;
        String result = String.format(Locale.ROOT, "%.1f", ns) + plusMinus(ns * score.get().relativeError(), "%.1f")
                + " ns";
        return new Row(measure, result, goal, ns < limitNanos ? "met" : "not met");
    }

    private static Row notMeasured(String measure, String goal) {
        return new Row(measure, "not measured", goal, NONE);
    }

    private static String times(double ratio, Score a, Score b) {
        return String.format(Locale.ROOT, "%.2fx", ratio) + plusMinus(ratio * Math.hypot(a.relativeError(),
                b.relativeError()), "%.2f");
    }

    /** {@code " ± error"}, or nothing when the error is unknown. */
    private static String plusMinus(double error, String format) {
        return Double.isFinite(error) ? " ± " + String.format(Locale.ROOT, format, error) : "";
    }

    private static String duration(double seconds) {
        if (seconds >= 1e-3) {
            return String.format(Locale.ROOT, "%.2f ms", seconds * 1e3);
        }
        if (seconds >= 1e-6) {
            return String.format(Locale.ROOT, "%.2f us", seconds * 1e6);
        }
        return String.format(Locale.ROOT, "%.1f ns", seconds * 1e9);
    }

    /** {@code 4096x1024 -> 1024} for the parameter {@code 4096x1024x1024}. */
    private static String layer(String shape) {
        int[] d = LinearLnReluBenchmark.dims(shape);
        return d[0] + "x" + d[1] + " -> " + d[2];
    }

    /** Floating-point operations of the product {@code [rows, in] x [in, out]}: {@code 2 rows in out}. */
    private static double flops(String shape) {
        int[] d = LinearLnReluBenchmark.dims(shape);
        return 2.0 * d[0] * d[1] * d[2];
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** The score of {@code Class.method} whose only parameter has {@code param} as its value (null: none). */
    private Optional<Score> find(String benchmark, String param) {
        return scores.stream()
                .filter(s -> s.benchmark().equals(benchmark))
                .filter(s -> param == null ? s.params().isEmpty() : s.params().containsValue(param))
                .findFirst();
    }

    static String markdown(List<Row> rows) {
        StringBuilder s = new StringBuilder("| measure | result | goal | |\n| --- | --- | --- | --- |\n");
        for (Row r : rows) {
            s.append("| ").append(r.measure()).append(" | ").append(r.result()).append(" | ").append(r.goal())
                    .append(" | ").append(r.verdict()).append(" |\n");
        }
        return s.toString();
    }

    /** JMH's JSON results (its {@code -rf json} format), each score converted to seconds per operation. */
    static List<Score> read(Path json) throws IOException {
        List<Score> scores = new ArrayList<>();
        try (Reader reader = Files.newBufferedReader(json)) {
            for (JsonElement e : JsonParser.parseReader(reader).getAsJsonArray()) {
                JsonObject run = e.getAsJsonObject();
                JsonObject metric = run.getAsJsonObject("primaryMetric");
                Map<String, String> params = new LinkedHashMap<>();
                if (run.has("params")) {
                    run.getAsJsonObject("params").entrySet()
                            .forEach(p -> params.put(p.getKey(), p.getValue().getAsString()));
                }
                String name = run.get("benchmark").getAsString();
                String unit = metric.get("scoreUnit").getAsString();
                double score = metric.get("score").getAsDouble();
                scores.add(new Score(name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1),
                        Map.copyOf(params), score, metric.get("scoreError").getAsDouble(), unit,
                        secondsPerOp(score, unit)));
            }
        }
        return scores;
    }

    /** Seconds per operation from a JMH score in {@code s/op}, {@code ms/op}, ... or {@code ops/s}, .... */
    static double secondsPerOp(double score, String unit) {
        String[] parts = unit.split("/");
        if (parts.length != 2) {
            throw new IllegalArgumentException("unknown JMH score unit " + unit);
        }
        if (parts[1].equals("op")) {
            return score * seconds(parts[0], unit);
        }
        if (parts[0].equals("ops")) {
            return seconds(parts[1], unit) / score;
        }
        throw new IllegalArgumentException("unknown JMH score unit " + unit);
    }

    private static double seconds(String timeUnit, String unit) {
        return switch (timeUnit) {
            case "s" -> 1;
            case "ms" -> 1e-3;
            case "us" -> 1e-6;
            case "ns" -> 1e-9;
            default -> throw new IllegalArgumentException("unknown time unit in JMH score unit " + unit);
        };
    }

    /** What was measured, on what, and how: a Markdown list. */
    private static String context(Path json) throws IOException {
        String pinned = System.getProperty(PINNED_PROPERTY, "");
        return "- Machine: " + Machine.describe() + "\n"
                + "- JDK: " + System.getProperty("java.vm.name") + " " + Runtime.version() + "\n"
                + "- Threads: " + Nnfuse.threads() + ", for nnfuse and OpenBLAS alike\n"
                + "- OpenBLAS kernel: " + OpenBlas.coreName() + " (" + OpenBlas.config() + ")"
                + (pinned.isEmpty() ? "" : "; " + pinned) + "\n"
                + "- JMH: " + settings(json) + "\n";
    }

    /** The generated part of RESULTS.md: when, the context and table, and every score. */
    private static String section(Path json, List<Score> scores, String tables) throws IOException {
        String when = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'", Locale.ROOT)
                .format(Files.getLastModifiedTime(json).toInstant().atOffset(ZoneOffset.UTC));
        StringBuilder s = new StringBuilder(BEGIN).append('\n')
                .append("## Latest run: ").append(when).append("\n\n")
                .append(tables).append('\n')
                .append("### Every score\n\n")
                .append("| benchmark | parameters | score | error (99.9%) | unit |\n| --- | --- | --- | --- | --- |\n");
        for (Score sc : scores) {
            s.append(String.format(Locale.ROOT, "| %s | %s | %.3f | %.3f | %s |%n", sc.benchmark(),
                    sc.params().isEmpty() ? NONE : sc.params().toString(), sc.score(), sc.error(), sc.unit()));
        }
        return s.append(END).append('\n').toString();
    }

    /** The run's JMH settings, from its first benchmark (every benchmark of the suite has the same). */
    private static String settings(Path json) throws IOException {
        try (Reader reader = Files.newBufferedReader(json)) {
            JsonObject first = JsonParser.parseReader(reader).getAsJsonArray().get(0).getAsJsonObject();
            return String.format(Locale.ROOT, "%d fork, %d warmup iterations of %s, %d measured of %s, "
                    + "average time per operation", first.get("forks").getAsInt(),
                    first.get("warmupIterations").getAsInt(), first.get("warmupTime").getAsString(),
                    first.get("measurementIterations").getAsInt(), first.get("measurementTime").getAsString());
        }
    }

    /** Replaces the generated part of {@code file}, or appends it when the file has none. */
    private static void update(Path file, String section) throws IOException {
        String text = Files.exists(file) ? Files.readString(file) : "# Benchmark results\n\n";
        int begin = text.indexOf(BEGIN);
        int end = text.indexOf(END);
        String updated = begin >= 0 && end > begin
                ? text.substring(0, begin) + section + text.substring(end + END.length()).replaceFirst("^\n", "")
                : text + (text.endsWith("\n") ? "\n" : "\n\n") + section;
        Files.writeString(file, updated);
    }
}
