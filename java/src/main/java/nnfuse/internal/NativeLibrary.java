package nnfuse.internal;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import nnfuse.NnfuseException;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Finds and opens libnnfuse once, on first use.
 *
 * <p>The system property {@value #PATH_PROPERTY} names the library file, or a
 * directory holding it (a CMake build directory); otherwise the copy packaged
 * in the jar under {@code nnfuse/native/<platform>/} is extracted to a temporary
 * file. The library is opened with {@link SymbolLookup#libraryLookup(Path, Arena)}
 * in the global arena and stays loaded for the life of the JVM.
 *
 * <p>Once loaded, the CPU level named by the system property
 * {@value #CPU_LEVEL_PROPERTY}, if any, is applied before the first op runs;
 * a name that is no level, or a level this CPU lacks, fails every op as a
 * library that cannot be loaded does. Thread-safe.
 */
public final class NativeLibrary {
    /** System property naming the library file or the directory that holds it. */
    public static final String PATH_PROPERTY = "nnfuse.library.path";

    /** System property naming the CPU level the kernels run at: {@code scalar}, {@code avx2} or {@code avx512}. */
    public static final String CPU_LEVEL_PROPERTY = "nnfuse.cpu.level";

    private static final String FILE_NAME = System.mapLibraryName("nnfuse");

    private NativeLibrary() {}

    /** How the library was found. */
    public record Origin(Path path, String source) {}

    /**
     * Loads on first use. A failure is kept rather than thrown from the class
     * initializer, so that every later call gets the same clear exception
     * instead of a NoClassDefFoundError.
     */
    private static final class Holder {
        static final Origin ORIGIN;
        static final SymbolLookup LOOKUP;
        static final NnfuseException FAILURE;

        static {
            Origin origin = null;
            SymbolLookup lookup = null;
            NnfuseException failure = null;
            try {
                origin = locate(System.getProperty(PATH_PROPERTY));
                lookup = SymbolLookup.libraryLookup(origin.path(), Arena.global());
            } catch (NnfuseException e) {
                failure = e;
            } catch (IllegalArgumentException e) {
                failure = new NnfuseException("cannot load the native library " + origin.path() + " ("
                        + origin.source() + "): " + e.getMessage(), e);
            }
            ORIGIN = origin;
            LOOKUP = lookup;
            FAILURE = failure;
        }
    }

    /**
     * Applies {@value #CPU_LEVEL_PROPERTY} once the library is loaded, keeping
     * a failure as {@link Holder} does. Apart from Holder so that the downcall
     * it makes can find its symbol through {@link #lookup()}.
     */
    private static final class CpuLevelProperty {
        static final String APPLIED;
        static final NnfuseException FAILURE;

        static {
            String value = System.getProperty(CPU_LEVEL_PROPERTY);
            String applied = null;
            NnfuseException failure = null;
            if (value != null && !value.isBlank()) {
                int level = List.of("scalar", "avx2", "avx512").indexOf(value.trim().toLowerCase(Locale.ROOT));
                if (level < 0) {
                    failure = new NnfuseException(0, "-D" + CPU_LEVEL_PROPERTY + "=" + value
                            + " is not a CPU level; expected scalar, avx2 or avx512");
                } else if (nnfuse_h.nf_set_cpu_level(level) != 0) {
                    failure = new NnfuseException(0, "-D" + CPU_LEVEL_PROPERTY + "=" + value + ": "
                            + nnfuse_h.nf_last_error().getString(0));
                } else {
                    applied = value.trim();
                }
            }
            APPLIED = applied;
            FAILURE = failure;
        }
    }

    /**
     * Loads the library if needed and throws {@link NnfuseException} with the
     * reason when it cannot be loaded or the CPU level of
     * {@value #CPU_LEVEL_PROPERTY} cannot be met. Every op calls this before
     * its first downcall; once loaded it costs two constant-folded field reads.
     */
    public static void ensureLoaded() {
        ensureOpened();
        if (CpuLevelProperty.FAILURE != null) {
            throw new NnfuseException(CpuLevelProperty.FAILURE.getMessage(), CpuLevelProperty.FAILURE);
        }
    }

    /** The value of {@value #CPU_LEVEL_PROPERTY} that set the CPU level, or null when it is not set. */
    public static String appliedCpuLevelProperty() {
        ensureLoaded();
        return CpuLevelProperty.APPLIED;
    }

    /**
     * Loads the library if needed and throws {@link NnfuseException} when it
     * cannot be loaded, without applying {@value #CPU_LEVEL_PROPERTY}: for the
     * facts about the library, which stay readable when that level cannot be met.
     */
    public static void ensureOpened() {
        if (Holder.FAILURE != null) {
            throw new NnfuseException(Holder.FAILURE.getMessage(), Holder.FAILURE);
        }
    }

    /** The library's symbols; loads the library on first call. */
    public static SymbolLookup lookup() {
        ensureOpened();
        return Holder.LOOKUP;
    }

    /** Where the library was loaded from; loads it on first call. */
    public static Origin origin() {
        ensureOpened();
        return Holder.ORIGIN;
    }

    /** The platform directory name inside the jar, e.g. {@code linux-x86_64}. */
    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osPart = os.startsWith("linux") ? "linux" : os.startsWith("mac") ? "macos" : os.replace(' ', '_');
        String archPart = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return osPart + "-" + archPart;
    }

    /** Finds the library file: {@code configured} (the system property's value, may be null) or the jar's copy. */
    static Origin locate(String configured) {
        if (configured != null && !configured.isBlank()) {
            Path path = Path.of(configured);
            if (Files.isDirectory(path)) {
                path = path.resolve(FILE_NAME);
            }
            if (!Files.isRegularFile(path)) {
                throw new NnfuseException(0, "native library not found at " + path + " (from -D" + PATH_PROPERTY
                        + "=" + configured + ")");
            }
            return new Origin(path.toAbsolutePath(), "system property " + PATH_PROPERTY);
        }
        String resource = "/nnfuse/native/" + platform() + "/" + FILE_NAME;
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new NnfuseException(0, "this jar has no native library for " + platform() + " (looked for "
                        + resource + "); build one with CMake and point -D" + PATH_PROPERTY + " at it");
            }
            Path file = Files.createTempFile("nnfuse-", "-" + FILE_NAME);
            file.toFile().deleteOnExit();
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            return new Origin(file, "extracted from the jar resource " + resource);
        } catch (IOException e) {
            throw new NnfuseException("cannot extract the native library " + resource + ": " + e.getMessage(), e);
        }
    }
}
