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
        row(out, "cuda built", !Nnfuse.cudaBuilt() ? "no"
                : Nnfuse.cudaEmulated() ? "yes, kernels run on the CPU harness (a test build)" : "yes");
        row(out, "cuda devices", cudaDevices());
        row(out, "backend", backend.device() + " (" + backend.reason() + ")");
        row(out, "java", Runtime.version() + " (" + System.getProperty("java.home") + ")");
    }

    private static String cudaDevices() {
        int count = Nnfuse.cudaDeviceCount();
        if (count == 0) {
            return "none (" + Nnfuse.cudaUnavailableReason() + ")";
        }
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < count; i++) {
            text.append(i == 0 ? "" : ", ").append("cuda:").append(i).append(' ').append(Nnfuse.cudaDeviceName(i));
        }
        return text.toString();
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
