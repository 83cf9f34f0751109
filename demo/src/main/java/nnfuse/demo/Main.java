package nnfuse.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import nnfuse.NnfuseException;

/**
 * Entry point of {@code ./nnfuse demo}, {@code train} and {@code info}. Failures
 * print one clear message and exit with status 1; a stack trace only with
 * {@code -Dnnfuse.debug=true}. Progress bars go to standard error.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        PrintStream out = System.out;
        String command = args.length == 0 ? "help" : args[0];
        String[] rest = Arrays.copyOfRange(args, Math.min(1, args.length), args.length);
        try {
            switch (command) {
                case "demo" -> {
                    Discussion04.run(out);
                    Regularization.run(out, Progress.console());
                }
                case "train" -> TrainCommand.run(rest, out, Progress.console());
                case "info" -> Info.print(out);
                case "help", "-h", "--help" -> usage(out);
                default -> {
                    System.err.println("nnfuse: unknown command '" + command + "'");
                    usage(System.err);
                    System.exit(2);
                }
            }
        } catch (NnfuseException | IllegalArgumentException | IllegalStateException | IOException e) {
            System.err.println("nnfuse: error: " + message(e));
            if (Boolean.getBoolean("nnfuse.debug")) {
                e.printStackTrace();
            }
            System.exit(1);
        }
    }

    /** The message; for an I/O error, whose message may be only a path, its kind too. */
    private static String message(Exception e) {
        if (e instanceof NoSuchFileException missing) {
            return "no such file: " + missing.getFile();
        }
        return e instanceof IOException ? e.getClass().getSimpleName() + ": " + e.getMessage() : e.getMessage();
    }

    private static void usage(PrintStream out) {
        out.println("usage: nnfuse <command>");
        out.println("  demo   walk through Discussion 04 with the library, with the section-5 training experiment");
        out.println("  train  --csv FILE [--epochs N] [--lambda a,b,c] [--plot FILE.png]: the section-5 experiment"
                + " on a CSV (features, then an integer label in the last column)");
        out.println("  info   library version and path, CPU features, threads, CUDA");
    }
}
