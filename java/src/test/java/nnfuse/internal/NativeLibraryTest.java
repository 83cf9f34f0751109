package nnfuse.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import nnfuse.NnfuseException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLibraryTest {
    @Test
    void wrongPathGivesAClearMessage(@TempDir Path dir) {
        Path missing = dir.resolve("nowhere/libnnfuse.so");
        NnfuseException e = assertThrows(NnfuseException.class, () -> NativeLibrary.locate(missing.toString()));
        assertTrue(e.getMessage().contains("not found at " + missing), e.getMessage());
        assertTrue(e.getMessage().contains(NativeLibrary.PATH_PROPERTY), e.getMessage());
    }

    @Test
    void directoryOfTheBuildIsAccepted() {
        Path buildDir = Path.of(System.getProperty("nnfuse.test.nativeBuildDir"));
        NativeLibrary.Origin origin = NativeLibrary.locate(buildDir.toString());
        assertEquals(buildDir.resolve(System.mapLibraryName("nnfuse")).toAbsolutePath(), origin.path());
    }

    @Test
    void packagedLibraryIsExtracted() {
        NativeLibrary.Origin origin = NativeLibrary.locate(null);
        assertTrue(Files.isRegularFile(origin.path()));
        assertTrue(origin.source().contains("/nnfuse/native/" + NativeLibrary.platform() + "/"), origin.source());
    }

    @Test
    void libraryLoadsAndAnswers() {
        NativeLibrary.ensureLoaded();
        assertTrue(NativeLibrary.lookup().find("nf_layernorm_fwd_f32").isPresent());
        assertTrue(NativeLibrary.lookup().find("nf_fail").isEmpty(), "internal symbols must stay hidden");
    }
}
