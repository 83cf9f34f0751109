package nnfuse.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/** A one-line description of the machine a run measured, from Linux's {@code /proc}. */
final class Machine {
    /** The instruction-set extensions the kernels can use, as {@code /proc/cpuinfo} names them. */
    private static final List<String> FEATURES = List.of("avx2", "fma", "avx512f");

    private Machine() {}

    /** E.g. {@code AMD EPYC, 2 logical CPUs, avx2 fma (no avx512f), L2 1024 KB, 23.4 GiB}. */
    static String describe() {
        List<String> cpuinfo = lines(Path.of("/proc/cpuinfo"));
        String model = field(cpuinfo, "model name").orElse(System.getProperty("os.arch"));
        Set<String> flags = field(cpuinfo, "flags").map(f -> Set.of(f.split("\\s+"))).orElse(Set.of());
        String present = FEATURES.stream().filter(flags::contains).collect(Collectors.joining(" "));
        String absent = FEATURES.stream().filter(f -> !flags.contains(f)).collect(Collectors.joining(" "));
        StringBuilder s = new StringBuilder(model).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" logical CPUs, ")
                .append(present.isEmpty() ? "none of " + absent : present)
                .append(absent.isEmpty() || present.isEmpty() ? "" : " (no " + absent + ")");
        cache("index2").ifPresent(size -> s.append(", L2 ").append(size).append(" per core"));
        cache("index3").ifPresent(size -> s.append(", L3 ").append(size));
        field(lines(Path.of("/proc/meminfo")), "MemTotal").ifPresent(kb -> s.append(String.format(Locale.ROOT,
                ", %.1f GiB", Long.parseLong(kb.replaceAll("[^0-9]", "")) / (1024.0 * 1024.0))));
        return s.toString();
    }

    private static Optional<String> cache(String index) {
        List<String> size = lines(Path.of("/sys/devices/system/cpu/cpu0/cache", index, "size"));
        return size.isEmpty() ? Optional.empty() : Optional.of(size.getFirst().strip());
    }

    private static Optional<String> field(List<String> lines, String name) {
        return lines.stream()
                .filter(l -> l.startsWith(name) && l.indexOf(':') > 0
                        && l.substring(0, l.indexOf(':')).strip().equals(name))
                .map(l -> l.substring(l.indexOf(':') + 1).strip())
                .findFirst();
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            return List.of();
        }
    }
}
