package nnfuse.demo;

import java.io.PrintStream;
import java.util.function.Consumer;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Where a training run reports its steps: a progress bar on standard error
 * (me.tongfei:progressbar), or nothing. Standard output keeps only the
 * results, so piping or capturing it is not disturbed by the bar.
 */
@FunctionalInterface
interface Progress {
    /** Milliseconds between plain-text lines when standard error is not a terminal. */
    int PLAIN_INTERVAL_MILLIS = 5_000;
    /** The width of a plain-text line. */
    int PLAIN_WIDTH = 110;

    /** One bar: {@link #step} after each unit of work, with the figures to show beside it. */
    interface Bar extends AutoCloseable {
        void step(String message);

        @Override
        void close();
    }

    /** Starts a bar named {@code task} that will take {@code steps} steps. */
    Bar start(String task, int steps);

    /** Reports nothing (tests). */
    static Progress none() {
        return (task, steps) -> new Bar() {
            @Override
            public void step(String message) {}

            @Override
            public void close() {}
        };
    }

    /**
     * A bar on standard error: redrawn in place when it is a terminal; else
     * (CI, a pipe) plain lines without carriage returns or escape codes, one
     * when the bar starts, then at most one every
     * {@link #PLAIN_INTERVAL_MILLIS} ms while it advances, and the final one.
     */
    static Progress console() {
        boolean terminal = System.console() != null && System.console().isTerminal();
        PrintStream err = System.err;
        return (task, steps) -> {
            ProgressBarBuilder builder = new ProgressBarBuilder().setTaskName(task).setInitialMax(steps)
                    .setUnit(" epochs", 1);
            if (terminal) {
                builder.setStyle(ProgressBarStyle.UNICODE_BLOCK).setConsumer(new ConsoleProgressBarConsumer(err));
            } else {
                builder.setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(PLAIN_INTERVAL_MILLIS)
                        .setConsumer(new DelegatingProgressBarConsumer(distinctLines(err), PLAIN_WIDTH));
            }
            ProgressBar bar = builder.build();
            return new Bar() {
                @Override
                public void step(String message) {
                    bar.setExtraMessage(" " + message);
                    bar.step();
                }

                @Override
                public void close() {
                    bar.close();
                }
            };
        };
    }

    /**
     * Prints each rendering as a line unless it repeats the previous one
     * (closing a bar renders its final state twice).
     */
    private static Consumer<String> distinctLines(PrintStream err) {
        String[] last = {null};
        return line -> {
            if (!line.equals(last[0])) {
                err.println(line);
                last[0] = line;
            }
        };
    }
}
