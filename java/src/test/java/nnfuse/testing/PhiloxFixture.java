package nnfuse.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The draws of {@code /philox/draws_seed42.txt}, written by {@code make_fixture.py} beside it: a numpy
 * Philox written independently of nnfuse, driven by a port of cuRAND's curand_init / skipahead / curand
 * state machine. Each block starts with "# seed=S offset=O count=N" and lists N draws in decimal.
 */
public final class PhiloxFixture {
    /** The fixture file on the test classpath. */
    public static final String RESOURCE = "/philox/draws_seed42.txt";

    /**
     * Draws {@code offset}, {@code offset + 1}, ... of the stream {@code curand_init(seed, 0, 0)} starts.
     *
     * @param values the draws, unsigned 32-bit values in longs
     */
    public record Block(long seed, long offset, int count, List<Long> values) {}

    private PhiloxFixture() {}

    /** Every block of the fixture, in file order. */
    public static List<Block> read() throws IOException {
        List<Block> blocks = new ArrayList<>();
        try (InputStream in = PhiloxFixture.class.getResourceAsStream(RESOURCE)) {
            assertNotNull(in, RESOURCE + " not on the test classpath");
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            List<Long> values = null;
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                line = line.strip();
                if (line.isEmpty()) {
                    continue;
                }
                if (line.startsWith("#")) {
                    values = new ArrayList<>();
                    blocks.add(header(line, values));
                } else {
                    assertNotNull(values, "draw before the first '#' header in " + RESOURCE);
                    values.add(Long.parseLong(line));
                }
            }
        }
        for (Block block : blocks) {
            assertEquals(block.count(), block.values().size(), "block seed=" + block.seed() + " in " + RESOURCE);
        }
        return blocks;
    }

    private static Block header(String line, List<Long> values) throws IOException {
        long seed = 0;
        long offset = 0;
        int count = -1;
        for (String field : line.substring(1).strip().split("\\s+")) {
            String[] kv = field.split("=", 2);
            switch (kv[0]) {
                case "seed" -> seed = Long.parseUnsignedLong(kv[1]);
                case "offset" -> offset = Long.parseUnsignedLong(kv[1]);
                case "count" -> count = Integer.parseInt(kv[1]);
                default -> throw new IOException("unknown field in " + line);
            }
        }
        return new Block(seed, offset, count, values);
    }
}
