package nnfuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's Java example compiles against the library and runs. */
class ReadmeExampleTest {
    @Test
    void readmeExampleCompilesAndRuns(@TempDir Path dir) throws Exception {
        String readme = Files.readString(Path.of(System.getProperty("nnfuse.test.root"), "README.md"));
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README.md has a ```java block");
        Path source = dir.resolve("Example.java");
        Files.writeString(source, m.group(1));

        ToolProvider javac = ToolProvider.findFirst("javac").orElseThrow();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        PrintStream sink = new PrintStream(diagnostics, true, StandardCharsets.UTF_8);
        int rc = javac.run(sink, sink, "-d", dir.toString(),
                "-cp", System.getProperty("java.class.path"), source.toString());
        assertEquals(0, rc, () -> "README example does not compile:\n" + diagnostics.toString(StandardCharsets.UTF_8));

        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            loader.loadClass("Example").getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(stdout);
        }
        String printed = captured.toString(StandardCharsets.UTF_8).trim();
        List<String> values = List.of(printed.replaceAll("[\\[\\]]", "").split(",\\s*"));
        assertEquals(8, values.size(), printed);
        // Row [4, 4, 8, 8] normalizes to [-1, -1, 1, 1] (eps 1e-5 changes the fifth decimal).
        assertEquals(-1.0, Double.parseDouble(values.get(0)), 1e-5, printed);
        assertEquals(4.0, Double.parseDouble(values.get(3)), 1e-4, printed);
    }
}
