package nnfuse.testing;

import nnfuse.LinearOps;
import nnfuse.Nnfuse;
import nnfuse.NnfuseException;
import nnfuse.Tensor;

/**
 * The main class {@code CpuLevelTest} starts in a JVM of its own, with an environment variable or a system
 * property that the test's JVM cannot change: prints the CPU level and its reason, or the error, on one line,
 * and on a second line whether an op with per-level code runs ({@code op ok}) or the error it throws.
 */
public final class PrintCpuLevel {
    private PrintCpuLevel() {}

    public static void main(String[] args) {
        try {
            System.out.println(Nnfuse.cpuLevel() + " (" + Nnfuse.cpuLevelReason() + ")");
        } catch (NnfuseException e) {
            System.out.println("error: " + e.getMessage());
        }
        try (Tensor x = Tensor.zeros(2, 3); Tensor w = Tensor.zeros(4, 3); Tensor y = LinearOps.forward(x, w, null)) {
            System.out.println("op ok");
        } catch (NnfuseException e) {
            System.out.println("op error: " + e.getMessage());
        }
    }
}
