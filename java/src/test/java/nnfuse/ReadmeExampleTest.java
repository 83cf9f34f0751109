package nnfuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.spi.ToolProvider;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every Java block of the README is a complete program that compiles against the library and runs. */
class ReadmeExampleTest {
    private static final Pattern BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern CLASS_NAME = Pattern.compile("public class (\\w+)");

    @Test
    void layerNormExamplePrintsTheNormalizedRows(@TempDir Path dir) throws Exception {
        String printed = run(dir, "Example");
        List<String> values = List.of(printed.replaceAll("[\\[\\]]", "").split(",\\s*"));
        assertEquals(8, values.size(), printed);
        // Row [4, 4, 8, 8] normalizes to [-1, -1, 1, 1] (eps 1e-5 changes the fifth decimal).
        assertEquals(-1.0, Double.parseDouble(values.get(0)), 1e-5, printed);
        assertEquals(4.0, Double.parseDouble(values.get(3)), 1e-4, printed);
    }

    @Test
    void deviceExampleRunsWhereTheDeviceIs(@TempDir Path dir) throws Exception {
        String printed = run(dir, "DeviceExample").strip();
        String device = Nnfuse.cudaDeviceCount() > 0 ? "cuda:0" : "cpu";
        assertTrue(printed.startsWith(device + " ["), printed);
        List<String> values = List.of(printed.substring(printed.indexOf('[') + 1, printed.length() - 1).split(", "));
        assertEquals(8, values.size(), printed);
        assertEquals(0.0, Double.parseDouble(values.get(0)), 0.0, printed);
        assertEquals(1.0, Double.parseDouble(values.get(3)), 1e-5, printed);
    }

    @Test
    void trainingExampleRunsThreeEpochs(@TempDir Path dir) throws Exception {
        String printed = run(dir, "TrainingExample");
        assertEquals(3, printed.lines().count(), printed);
        assertTrue(printed.lines().allMatch(l -> l.startsWith("EpochStats[")), printed);
    }

    /** Compiles every README block into {@code dir} and runs the one declaring {@code className}; returns its output. */
    private String run(Path dir, String className) throws Exception {
        List<Path> sources = new ArrayList<>();
        for (String block : blocks()) {
            Matcher name = CLASS_NAME.matcher(block);
            assertTrue(name.find(), () -> "README block without a public class:\n" + block);
            Path source = dir.resolve(name.group(1) + ".java");
            Files.writeString(source, block);
            sources.add(source);
        }
        List<String> args = new ArrayList<>(List.of("-d", dir.toString(), "-cp", System.getProperty("java.class.path")));
        sources.forEach(s -> args.add(s.toString()));
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        PrintStream sink = new PrintStream(diagnostics, true, StandardCharsets.UTF_8);
        int rc = ToolProvider.findFirst("javac").orElseThrow().run(sink, sink, args.toArray(String[]::new));
        assertEquals(0, rc, () -> "README examples do not compile:\n" + diagnostics.toString(StandardCharsets.UTF_8));

        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            loader.loadClass(className).getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(stdout);
        }
        return captured.toString(StandardCharsets.UTF_8).trim();
    }

    private static List<String> blocks() throws IOException {
        String readme = Files.readString(Path.of(System.getProperty("nnfuse.test.root"), "README.md"));
        List<String> blocks = new ArrayList<>();
        Matcher m = BLOCK.matcher(readme);
        while (m.find()) {
            blocks.add(m.group(1));
        }
        assertTrue(blocks.size() >= 2, "README.md has its Java examples");
        return blocks;
    }
}
