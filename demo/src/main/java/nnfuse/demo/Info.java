package nnfuse.demo;

import java.io.PrintStream;
import nnfuse.Nnfuse;
import nnfuse.NnfuseException;

/** {@code ./nnfuse info}: what the library is and what it sees. */
final class Info {
    private Info() {}

    static void print(PrintStream out) {
        Nnfuse.Backend backend = Nnfuse.backend();
        row(out, "version", Nnfuse.version());
        row(out, "library", Nnfuse.libraryPath().toString());
        row(out, "loaded from", Nnfuse.librarySource());
        row(out, "cpu features", String.join(" ", Nnfuse.cpuFeatures()));
        row(out, "cpu level", cpuLevel());
        row(out, "threads", Integer.toString(Nnfuse.threads()));
        row(out, "cuda built", Nnfuse.cudaBuilt() ? "yes" : "no");
        row(out, "cuda device", Nnfuse.cudaBuilt() ? "not probed: no CUDA kernels yet" : "none (CUDA backend not built)");
        row(out, "backend", backend.name() + " (" + backend.reason() + ")");
        row(out, "java", Runtime.version() + " (" + System.getProperty("java.home") + ")");
    }

    /** The level and why; a level that cannot be met is reported here rather than failing the whole command. */
    private static String cpuLevel() {
        try {
            return Nnfuse.cpuLevel() + " (" + Nnfuse.cpuLevelReason() + ")";
        } catch (NnfuseException e) {
            return "unusable: " + e.getMessage();
        }
    }

    private static void row(PrintStream out, String key, String value) {
        out.printf("%-13s %s%n", key + ":", value);
    }
}
