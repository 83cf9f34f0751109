package nnfuse.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import nnfuse.nn.Datasets;

/**
 * {@code ./nnfuse train --csv FILE [--epochs N] [--lambda a,b,c] [--plot FILE]}:
 * the experiment of section 5 ({@link Regularization}) on real data. The
 * model is the worksheet's architecture with the CSV's feature count as input
 * width and {@code max label + 1} classes; a seeded shuffle
 * ({@link Datasets#trainTestSplit}) holds out {@value #TEST_PERCENT}% of the
 * rows as the test set; training uses the demo's settings
 * ({@link Regularization#TRAINING}) but for the options given.
 */
final class TrainCommand {
    static final int TEST_PERCENT = 20;
    /** The shuffle of the train/test split. */
    static final long SPLIT_SEED = 2026;
    static final Path DEFAULT_PLOT = Path.of("target", "train.png");

    private TrainCommand() {}

    /** The parsed command line. */
    record Options(Path csv, Experiment.Config config, Path plot) {}

    /** Parses {@code args} (after the word {@code train}); throws {@link IllegalArgumentException} with the usage. */
    static Options parse(String[] args) {
        Path csv = null;
        Experiment.Config config = Regularization.TRAINING;
        Path plot = DEFAULT_PLOT;
        for (int i = 0; i < args.length; i++) {
            String option = args[i];
            if (!List.of("--csv", "--epochs", "--lambda", "--plot").contains(option)) {
                throw usage("unknown option '" + option + "'");
            }
            if (i + 1 >= args.length) {
                throw usage(option + " needs a value");
            }
            String value = args[++i];
            switch (option) {
                case "--csv" -> csv = Path.of(value);
                case "--epochs" -> config = config.withEpochs(positive(option, value));
                case "--lambda" -> config = config.withLambdas(Experiment.parseLambdas(value));
                default -> plot = Path.of(value);
            }
        }
        if (csv == null) {
            throw usage("--csv FILE is required");
        }
        return new Options(csv, config, plot);
    }

    /** Runs the command: reads and splits the CSV, trains, prints the table and verdicts, writes the plot. */
    static void run(String[] args, PrintStream out, Progress progress) throws IOException {
        Options options = parse(args);
        try (Csv.Data csv = Csv.read(options.csv());
                Datasets.Split data = Datasets.trainTestSplit(csv.features(), csv.labels(), TEST_PERCENT / 100.0,
                        SPLIT_SEED)) {
            out.printf(Locale.ROOT, "%s: %d rows, %d features, %d classes (largest label + 1); a seeded shuffle"
                    + " keeps %d rows for training and %d for the test set.%n", options.csv(),
                    csv.labels().numel(), data.features(), data.classes(), data.trainSize(), data.testSize());
            Regularization.experiment(out, data, options.config(), progress, options.plot(),
                    "nnfuse train: " + options.csv().getFileName());
        }
    }

    private static int positive(String option, String value) {
        try {
            int n = Integer.parseInt(value);
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below with the option's name
        }
        throw usage(option + " takes an integer >= 1, got '" + value + "'");
    }

    private static IllegalArgumentException usage(String problem) {
        return new IllegalArgumentException(problem + "\nusage: nnfuse train --csv FILE [--epochs N]"
                + " [--lambda a,b,c] [--plot FILE.png]");
    }
}
