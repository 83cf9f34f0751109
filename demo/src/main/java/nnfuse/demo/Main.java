package nnfuse.demo;

import java.io.PrintStream;
import nnfuse.NnfuseException;

/**
 * Entry point of {@code ./nnfuse demo} and {@code ./nnfuse info}. Failures print
 * one clear line and exit with status 1; a stack trace only with {@code -Dnnfuse.debug=true}.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        PrintStream out = System.out;
        String command = args.length == 0 ? "help" : args[0];
        try {
            switch (command) {
                case "demo" -> Discussion04.run(out);
                case "info" -> Info.print(out);
                case "help", "-h", "--help" -> usage(out);
                default -> {
                    System.err.println("nnfuse: unknown command '" + command + "'");
                    usage(System.err);
                    System.exit(2);
                }
            }
        } catch (NnfuseException | IllegalArgumentException | IllegalStateException e) {
            System.err.println("nnfuse: error: " + e.getMessage());
            if (Boolean.getBoolean("nnfuse.debug")) {
                e.printStackTrace();
            }
            System.exit(1);
        }
    }

    private static void usage(PrintStream out) {
        out.println("usage: nnfuse <command>");
        out.println("  demo   walk through Discussion 04 with the library");
        out.println("  info   library version and path, CPU features, threads, CUDA");
    }
}
