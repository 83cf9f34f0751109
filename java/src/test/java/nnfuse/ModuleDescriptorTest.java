package nnfuse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The JPMS module exports the public packages and nothing internal. */
class ModuleDescriptorTest {
    @Test
    void exportsOnlyPublicPackages() throws IOException {
        Path classes = Path.of(Tensor.class.getProtectionDomain().getCodeSource().getLocation().getPath());
        try (InputStream in = Files.newInputStream(classes.resolve("module-info.class"))) {
            ModuleDescriptor module = ModuleDescriptor.read(in);
            assertEquals("nnfuse", module.name());
            Set<String> exported = new TreeSet<>();
            module.exports().forEach(e -> {
                assertEquals(Set.of(), e.targets(), "qualified export " + e);
                exported.add(e.source());
            });
            assertEquals(new TreeSet<>(Set.of("nnfuse", "nnfuse.nn", "nnfuse.random", "nnfuse.reference")), exported);
            assertEquals(Set.of("java.base"),
                    module.requires().stream().map(ModuleDescriptor.Requires::name).collect(java.util.stream.Collectors.toSet()),
                    "the library depends on nothing but java.base");
        }
    }
}
