package nnfuse.internal;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import nnfuse.NnfuseException;

/**
 * Finds and opens libnnfuse once, on first use.
 *
 * <p>The system property {@value #PATH_PROPERTY} names the library file, or a
 * directory holding it (a CMake build directory); otherwise the copy packaged
 * in the jar under {@code nnfuse/native/<platform>/} is extracted to a temporary
 * file. The library is opened with {@link SymbolLookup#libraryLookup(Path, Arena)}
 * in the global arena and stays loaded for the life of the JVM. Thread-safe.
 */
public final class NativeLibrary {
    /** System property naming the library file or the directory that holds it. */
    public static final String PATH_PROPERTY = "nnfuse.library.path";

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
     * Loads the library if needed and throws {@link NnfuseException} with the
     * reason when it cannot be loaded. Every op calls this before its first
     * downcall; once loaded it costs a constant-folded field read.
     */
    public static void ensureLoaded() {
        if (Holder.FAILURE != null) {
            throw new NnfuseException(Holder.FAILURE.getMessage(), Holder.FAILURE);
        }
    }

    /** The library's symbols; loads the library on first call. */
    public static SymbolLookup lookup() {
        ensureLoaded();
        return Holder.LOOKUP;
    }

    /** Where the library was loaded from; loads it on first call. */
    public static Origin origin() {
        ensureLoaded();
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
