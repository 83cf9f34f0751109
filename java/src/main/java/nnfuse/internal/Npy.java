package nnfuse.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import nnfuse.DType;

/**
 * Reads and writes NumPy {@code .npy} files and {@code .npz} archives of
 * float32 and int64 arrays, in pure Java.
 *
 * <p>Reading accepts format versions 1.0, 2.0 and 3.0 (as written by
 * {@code numpy.save} and {@code numpy.lib.format.write_array}), C-order data
 * with descr {@code '<f4'}, {@code '<f8'} or {@code '<i8'}; float64 data is
 * rounded to the nearest float32, as {@code astype(np.float32)} does, and int64
 * data (PyTorch's {@code num_batches_tracked}, labels) stays int64. The header dictionary is
 * parsed as a Python literal: keys in any order, either quote style, any
 * whitespace, trailing commas. Anything else is rejected with an
 * {@link IOException} whose message names the file and the offending field:
 * a bad magic string or version, an unparsable header, missing or unknown
 * keys, big-endian or other descrs ({@code '>f4'}, {@code '<i4'},
 * {@code '<f2'}, structured or object dtypes), {@code fortran_order: True},
 * negative or non-integer dimensions, and data shorter than the shape needs.
 *
 * <p>Writing produces what {@code numpy.save} produces for a C-order float32
 * or int64 array, byte for byte: a version 1.0 header (2.0 only when the header
 * exceeds 65535 bytes), padded so the data starts on a 64-byte boundary.
 * {@code .npz} archives are read with stored or deflated entries (as
 * {@code numpy.savez} and {@code numpy.savez_compressed} write them) and
 * written with deflated entries.
 *
 * <p>Data is float32 or int64 in little-endian order, row-major. Large arrays are
 * streamed in chunks straight into a segment allocated from the caller's
 * arena with 64-byte alignment; no heap array of the full size is made.
 *
 * <p>The class is stateless: its methods may be called from any number of
 * threads at once, provided each thread can access the segments and arenas it
 * passes in.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy format.py: MAGIC_LEN, the magic string plus the two version bytes. */
    private static final int MAGIC_LEN = MAGIC.length + 2;
    /** numpy format.py: ARRAY_ALIGN, data starts on a multiple of this offset. */
    private static final int ARRAY_ALIGN = 64;
    /** numpy format.py: GROWTH_AXIS_MAX_DIGITS, spare header room for growing the first axis. */
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;
    private static final int MAX_HEADER_BYTES = 1 << 20;
    private static final int CHUNK_BYTES = 1 << 20;
    private static final long SEGMENT_ALIGN = 64;
    private static final Set<String> EXPECTED_KEYS = Set.of("descr", "fortran_order", "shape");
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64_LE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Npy() {
    }

    /**
     * An array: its shape, its data, little-endian, row-major, exactly
     * {@code product(shape) * dtype.byteSize()} bytes, and its element type.
     * A shape of length 0 is a scalar with one element.
     *
     * @param shape the dimensions, each non-negative; copied
     * @param data the elements
     * @param dtype the element type
     */
    public record Array(long[] shape, MemorySegment data, DType dtype) {
        /**
         * @throws IllegalArgumentException if a dimension is negative or the
         *     data size does not match the shape
         */
        public Array {
            shape = shape.clone();
            long bytes = Math.multiplyExact(elementCount(shape), dtype.byteSize());
            if (data.byteSize() != bytes) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + bytes
                        + " bytes of " + dtype.name().toLowerCase(Locale.ROOT) + " data, got " + data.byteSize());
            }
        }

        /** A float32 array. */
        public Array(long[] shape, MemorySegment data) {
            this(shape, data, DType.FLOAT32);
        }

        /** Returns a copy of the dimensions. */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Returns the number of elements, 1 for a scalar. */
        public long elementCount() {
            return elementCount(shape);
        }

        private static long elementCount(long[] shape) {
            long n = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
                }
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

    }

    /**
     * Reads a {@code .npy} file.
     *
     * @param file the file
     * @param arena allocates the data segment
     * @return the array, its data in a segment of {@code arena}
     * @throws IOException if the file cannot be read, is not a supported
     *     {@code .npy} file (see the class description) or is truncated
     */
    public static Array read(Path file, Arena arena) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(new ChannelInput(channel), file.toString(), arena);
        }
    }

    /**
     * Reads one {@code .npy} array from a stream, leaving the stream open and
     * positioned after the array's data.
     *
     * @param in the stream, positioned at the magic string
     * @param arena allocates the data segment
     * @return the array, its data in a segment of {@code arena}
     * @throws IOException if the stream cannot be read, does not hold a
     *     supported {@code .npy} array or ends early
     */
    public static Array read(InputStream in, Arena arena) throws IOException {
        return read(new StreamInput(in), "<stream>", arena);
    }

    /**
     * Writes a {@code .npy} file, replacing any existing file.
     *
     * @param file the file
     * @param shape the dimensions; length 0 for a scalar
     * @param data {@code product(shape) * 4} bytes of little-endian float32
     * @throws IllegalArgumentException if the data size does not match the shape
     * @throws IOException if the file cannot be written
     */
    public static void write(Path file, long[] shape, MemorySegment data) throws IOException {
        write(file, new Array(shape, data));
    }

    /**
     * Writes a {@code .npy} file of any supported element type, replacing any
     * existing file.
     *
     * @param file the file
     * @param array the array
     * @throws IOException if the file cannot be written
     */
    public static void write(Path file, Array array) throws IOException {
        MemorySegment data = array.data();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE,
                StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(channel, ByteBuffer.wrap(header(array)));
            for (long off = 0; off < data.byteSize(); off += CHUNK_BYTES) {
                writeFully(channel, data.asSlice(off, Math.min(CHUNK_BYTES, data.byteSize() - off)).asByteBuffer());
            }
        }
    }

    /**
     * Writes one {@code .npy} array to a stream, which is flushed but left open.
     *
     * @param out the stream
     * @param shape the dimensions; length 0 for a scalar
     * @param data {@code product(shape) * 4} bytes of little-endian float32
     * @throws IllegalArgumentException if the data size does not match the shape
     * @throws IOException if the stream cannot be written
     */
    public static void write(OutputStream out, long[] shape, MemorySegment data) throws IOException {
        write(out, new Array(shape, data));
    }

    private static void write(OutputStream out, Array array) throws IOException {
        MemorySegment data = array.data();
        out.write(header(array));
        byte[] buffer = new byte[(int) Math.min(CHUNK_BYTES, data.byteSize())];
        for (long off = 0; off < data.byteSize(); off += buffer.length) {
            int n = (int) Math.min(buffer.length, data.byteSize() - off);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, off, buffer, 0, n);
            out.write(buffer, 0, n);
        }
        out.flush();
    }

    /**
     * Reads every array of a {@code .npz} archive.
     *
     * @param file the archive, as written by {@code numpy.savez} or
     *     {@code numpy.savez_compressed}
     * @param arena allocates the data segments
     * @return the arrays in archive order, keyed by entry name without its
     *     {@code .npy} suffix
     * @throws IOException if the file is not a zip archive or an entry is not
     *     a supported {@code .npy} array (the message names the entry)
     */
    public static Map<String, Array> readNpz(Path file, Arena arena) throws IOException {
        try (ZipFile zip = openZip(file)) {
            Map<String, Array> arrays = new LinkedHashMap<>();
            for (ZipEntry entry : Collections.list(zip.entries())) {
                if (entry.isDirectory()) {
                    continue;
                }
                String source = file + ":" + entry.getName();
                Array array;
                try (InputStream in = zip.getInputStream(entry)) {
                    array = read(new StreamInput(in), source, arena);
                }
                String name = arrayName(entry.getName());
                if (arrays.putIfAbsent(name, array) != null) {
                    throw new IOException(source + ": duplicate array name '" + name + "'");
                }
            }
            return arrays;
        }
    }

    /**
     * Writes a {@code .npz} archive that {@code numpy.load} reads, one
     * deflated entry {@code <name>.npy} per array, in map order; replaces any
     * existing file.
     *
     * @param file the archive
     * @param arrays the arrays by name
     * @throws IOException if the file cannot be written
     */
    public static void writeNpz(Path file, Map<String, Array> arrays) throws IOException {
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
            for (Map.Entry<String, Array> e : arrays.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey() + ".npy"));
                write(zip, e.getValue());
                zip.closeEntry();
            }
        }
    }

    private static ZipFile openZip(Path file) throws IOException {
        try {
            return new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new IOException(file + ": not a readable .npz (zip) archive: " + e.getMessage(), e);
        }
    }

    private static String arrayName(String entryName) {
        return entryName.endsWith(".npy") ? entryName.substring(0, entryName.length() - 4) : entryName;
    }

    /** The descrs read: {@code '<f4'}, {@code '<f8'} (read as float32) and {@code '<i8'}. */
    private enum Descr {
        F4("<f4", 4, DType.FLOAT32), F8("<f8", 8, DType.FLOAT32), I8("<i8", 8, DType.INT64);

        final String text;
        final int fileBytes;
        final DType dtype;

        Descr(String text, int fileBytes, DType dtype) {
            this.text = text;
            this.fileBytes = fileBytes;
            this.dtype = dtype;
        }
    }

    private record Header(long[] shape, Descr descr) {
    }

    private static Array read(Input input, String source, Arena arena) throws IOException {
        Header header = readHeader(input, source);
        long fileBytes = fileBytes(header, source);
        long available = input.remaining();
        if (available >= 0 && available < fileBytes) {
            throw truncated(source, header, fileBytes, available);
        }
        long dataBytes = header.descr == Descr.F8 ? fileBytes / 2 : fileBytes;
        MemorySegment data = arena.allocate(dataBytes, SEGMENT_ALIGN);
        long got = header.descr == Descr.F8 ? readF8(input, data) : input.read(data);
        if (got < fileBytes) {
            throw truncated(source, header, fileBytes, got);
        }
        return new Array(header.shape, data, header.descr.dtype);
    }

    private static IOException truncated(String source, Header header, long needed, long got) {
        return new IOException(source + ": truncated data: shape " + pyTuple(header.shape) + " needs "
                + needed + " bytes, only " + got + " present");
    }

    /** Returns the number of input bytes consumed, less than {@code 2 * dst.byteSize()} only at end of input. */
    private static long readF8(Input input, MemorySegment dst) throws IOException {
        long total = dst.byteSize() * 2;
        MemorySegment chunk = MemorySegment.ofArray(new byte[(int) Math.min(CHUNK_BYTES, total)]);
        long done = 0;
        while (done < total) {
            long want = Math.min(chunk.byteSize(), total - done);
            long got = input.read(chunk.asSlice(0, want));
            for (long i = 0; i + Double.BYTES <= got; i += Double.BYTES) {
                dst.set(F32_LE, (done + i) / 2, (float) chunk.get(F64_LE, i));
            }
            done += got;
            if (got < want) {
                break;
            }
        }
        return done;
    }

    private static Header readHeader(Input input, String source) throws IOException {
        byte[] prefix = input.readBytes(MAGIC_LEN);
        if (prefix.length < MAGIC_LEN || !Arrays.equals(prefix, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new IOException(source + ": bad magic string, not a .npy file (expected \\x93NUMPY)");
        }
        int major = prefix[6] & 0xff;
        int minor = prefix[7] & 0xff;
        if (major < 1 || major > 3 || minor != 0) {
            throw new IOException(source + ": unsupported .npy format version " + major + "." + minor
                    + " (1.0, 2.0 and 3.0 are read)");
        }
        long length = readHeaderLength(input, major, source);
        byte[] text = input.readBytes((int) length);
        if (text.length < length) {
            throw new IOException(source + ": truncated header: " + length + " bytes declared, " + text.length
                    + " present");
        }
        // numpy format spec: versions 1.0 and 2.0 encode the header in latin1, 3.0 in utf8.
        Charset charset = major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1;
        return parseHeader(new String(text, charset), source);
    }

    private static long readHeaderLength(Input input, int major, String source) throws IOException {
        // numpy format spec: the header length is a little-endian uint16 in version 1.0, uint32 after.
        int size = major == 1 ? Short.BYTES : Integer.BYTES;
        byte[] bytes = input.readBytes(size);
        if (bytes.length < size) {
            throw new IOException(source + ": truncated header length");
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long length = size == Short.BYTES
                ? Short.toUnsignedLong(buffer.getShort())
                : Integer.toUnsignedLong(buffer.getInt());
        if (length > MAX_HEADER_BYTES) {
            throw new IOException(source + ": header length " + length + " exceeds the limit of "
                    + MAX_HEADER_BYTES + " bytes");
        }
        return length;
    }

    private static Header parseHeader(String text, String source) throws IOException {
        Object parsed = new HeaderParser(text, source).parseHeader();
        if (!(parsed instanceof Map<?, ?> dict)) {
            throw new IOException(source + ": header is not a dictionary: " + text.strip());
        }
        for (Object key : dict.keySet()) {
            if (!(key instanceof String name) || !EXPECTED_KEYS.contains(name)) {
                throw new IOException(source + ": unexpected header key " + PyRepr.of(key));
            }
        }
        for (String key : EXPECTED_KEYS) {
            if (!dict.containsKey(key)) {
                throw new IOException(source + ": header has no '" + key + "' key");
            }
        }
        checkFortranOrder(dict.get("fortran_order"), source);
        Descr descr = parseDescr(dict.get("descr"), source);
        return new Header(parseShape(dict.get("shape"), source), descr);
    }

    private static void checkFortranOrder(Object value, String source) throws IOException {
        if (Boolean.TRUE.equals(value)) {
            throw new IOException(source + ": fortran_order True is not supported; save the array in C order "
                    + "(numpy.ascontiguousarray)");
        }
        if (!Boolean.FALSE.equals(value)) {
            throw new IOException(source + ": fortran_order is not a bool: " + PyRepr.of(value));
        }
    }

    private static Descr parseDescr(Object value, String source) throws IOException {
        for (Descr d : Descr.values()) {
            if (d.text.equals(value)) {
                return d;
            }
        }
        if (value instanceof String s && s.startsWith(">")) {
            throw new IOException(source + ": big-endian descr " + PyRepr.of(value)
                    + " is not supported; only '<f4', '<f8' and '<i8' are read");
        }
        throw new IOException(source + ": unsupported descr " + PyRepr.of(value)
                + "; only '<f4', '<f8' and '<i8' are read");
    }

    private static long[] parseShape(Object value, String source) throws IOException {
        if (!(value instanceof PyTuple(List<Object> items))) {
            throw new IOException(source + ": shape is not a tuple: " + PyRepr.of(value));
        }
        long[] shape = new long[items.size()];
        for (int i = 0; i < shape.length; i++) {
            if (!(items.get(i) instanceof BigInteger dim)) {
                throw new IOException(source + ": shape " + PyRepr.of(value) + " has a non-integer dimension "
                        + PyRepr.of(items.get(i)));
            }
            if (dim.signum() < 0) {
                throw new IOException(source + ": shape " + PyRepr.of(value) + " has a negative dimension " + dim);
            }
            if (dim.bitLength() >= Long.SIZE) {
                throw new IOException(source + ": shape " + PyRepr.of(value) + " has a dimension too large: " + dim);
            }
            shape[i] = dim.longValue();
        }
        return shape;
    }

    private static long fileBytes(Header header, String source) throws IOException {
        try {
            return Math.multiplyExact(Array.elementCount(header.shape), header.descr.fileBytes);
        } catch (ArithmeticException e) {
            throw new IOException(source + ": shape " + pyTuple(header.shape) + " is too large", e);
        }
    }

    /** A Python tuple in a header, distinct from a list. */
    private record PyTuple(List<Object> items) {
    }

    private static final class PyRepr {
        static String of(Object value) {
            return switch (value) {
                case String s -> "'" + s + "'";
                case Boolean b -> b ? "True" : "False";
                case PyTuple(List<Object> items) when items.size() == 1 -> "(" + of(items.getFirst()) + ",)";
                case PyTuple(List<Object> items) -> "(" + join(items) + ")";
                case List<?> items -> "[" + join(items) + "]";
                case Map<?, ?> _ -> "{...}";
                case null -> "None";
                default -> value.toString();
            };
        }

        private static String join(List<?> items) {
            List<String> parts = new ArrayList<>();
            for (Object item : items) {
                parts.add(of(item));
            }
            return String.join(", ", parts);
        }
    }

    /**
     * Parses the Python literals a header may hold: dicts, tuples, lists,
     * strings, ints (with the 'L' suffix of Python 2 writers), floats, True,
     * False and None.
     */
    private static final class HeaderParser {
        private final String text;
        private final String source;
        private int pos;

        HeaderParser(String text, String source) {
            this.text = text;
            this.source = source;
        }

        Object parseHeader() throws IOException {
            Object value = parseValue();
            skipSpace();
            if (pos != text.length()) {
                throw error("unexpected text after the dictionary");
            }
            return value;
        }

        private Object parseValue() throws IOException {
            skipSpace();
            if (pos >= text.length()) {
                throw error("unexpected end");
            }
            char c = text.charAt(pos);
            return switch (c) {
                case '{' -> parseDict();
                case '(' -> parseParenthesized();
                case '[' -> parseSequence(']').items;
                case '\'', '"' -> parseString();
                default -> c == '-' || c == '+' || c == '.' || Character.isDigit(c) ? parseNumber() : parseName();
            };
        }

        private Map<Object, Object> parseDict() throws IOException {
            Map<Object, Object> dict = new LinkedHashMap<>();
            pos++;
            while (!consume('}')) {
                Object key = parseValue();
                expect(':');
                if (dict.put(key, parseValue()) != null) {
                    throw error("duplicate key " + PyRepr.of(key));
                }
                if (!consume(',')) {
                    expect('}');
                    break;
                }
            }
            return dict;
        }

        /** Python: "(x)" is x itself, "(x,)" and "(x, y)" are tuples. */
        private Object parseParenthesized() throws IOException {
            Sequence seq = parseSequence(')');
            return seq.items.size() == 1 && !seq.trailingComma ? seq.items.getFirst() : new PyTuple(seq.items);
        }

        private record Sequence(List<Object> items, boolean trailingComma) {
        }

        private Sequence parseSequence(char close) throws IOException {
            List<Object> items = new ArrayList<>();
            pos++;
            boolean comma = false;
            while (!consume(close)) {
                items.add(parseValue());
                comma = consume(',');
                if (!comma) {
                    expect(close);
                    break;
                }
            }
            return new Sequence(items, comma);
        }

        private String parseString() throws IOException {
            char quote = text.charAt(pos++);
            StringBuilder sb = new StringBuilder();
            while (pos < text.length() && text.charAt(pos) != quote) {
                char c = text.charAt(pos++);
                if (c == '\\' && pos < text.length()) {
                    c = text.charAt(pos++);
                }
                sb.append(c);
            }
            if (pos >= text.length()) {
                throw error("unterminated string");
            }
            pos++;
            return sb.toString();
        }

        private Object parseNumber() throws IOException {
            int start = pos;
            while (pos < text.length() && isNumberChar(text.charAt(pos))) {
                pos++;
            }
            String token = text.substring(start, pos).replace("_", "");
            if (token.matches("[+-]?\\d+[lL]?")) {
                return new BigInteger(token.replaceFirst("[lL]$", "").replaceFirst("^\\+", ""));
            }
            try {
                return Double.parseDouble(token);
            } catch (NumberFormatException e) {
                throw error("bad number '" + token + "'");
            }
        }

        private static boolean isNumberChar(char c) {
            return Character.isLetterOrDigit(c) || c == '.' || c == '_' || c == '+' || c == '-';
        }

        private Object parseName() throws IOException {
            int start = pos;
            while (pos < text.length() && Character.isJavaIdentifierPart(text.charAt(pos))) {
                pos++;
            }
            String name = text.substring(start, pos);
            return switch (name) {
                case "True" -> Boolean.TRUE;
                case "False" -> Boolean.FALSE;
                case "None" -> null;
                default -> throw error(name.isEmpty()
                        ? "unexpected '" + text.charAt(pos) + "'"
                        : "unknown name '" + name + "'");
            };
        }

        private boolean consume(char c) {
            skipSpace();
            if (pos < text.length() && text.charAt(pos) == c) {
                pos++;
                return true;
            }
            return false;
        }

        private void expect(char c) throws IOException {
            if (!consume(c)) {
                throw error("expected '" + c + "'");
            }
        }

        private void skipSpace() {
            while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
                pos++;
            }
        }

        private IOException error(String problem) {
            return new IOException(source + ": cannot parse header at offset " + pos + ": " + problem + " in "
                    + text.strip());
        }
    }

    /** Where data is read from: a file channel (size known) or a stream. */
    private interface Input {
        /** Fills {@code dst}; returns the bytes read, fewer only at end of input. */
        long read(MemorySegment dst) throws IOException;

        /** Returns the bytes left, or -1 if unknown. */
        long remaining() throws IOException;

        default byte[] readBytes(int n) throws IOException {
            byte[] bytes = new byte[n];
            long got = read(MemorySegment.ofArray(bytes));
            return got == n ? bytes : Arrays.copyOf(bytes, (int) got);
        }
    }

    private record ChannelInput(FileChannel channel) implements Input {
        @Override
        public long read(MemorySegment dst) throws IOException {
            long done = 0;
            while (done < dst.byteSize()) {
                ByteBuffer buffer = dst.asSlice(done, Math.min(CHUNK_BYTES, dst.byteSize() - done)).asByteBuffer();
                while (buffer.hasRemaining()) {
                    if (channel.read(buffer) < 0) {
                        return done + buffer.position();
                    }
                }
                done += buffer.position();
            }
            return done;
        }

        @Override
        public long remaining() throws IOException {
            return channel.size() - channel.position();
        }
    }

    private record StreamInput(InputStream in) implements Input {
        @Override
        public long read(MemorySegment dst) throws IOException {
            byte[] buffer = new byte[(int) Math.min(CHUNK_BYTES, dst.byteSize())];
            long done = 0;
            while (done < dst.byteSize()) {
                int want = (int) Math.min(buffer.length, dst.byteSize() - done);
                int got = in.readNBytes(buffer, 0, want);
                MemorySegment.copy(buffer, 0, dst, ValueLayout.JAVA_BYTE, done, got);
                done += got;
                if (got < want) {
                    break;
                }
            }
            return done;
        }

        @Override
        public long remaining() {
            return -1;
        }
    }

    /** The header numpy.save writes for a C-order array: magic, version, length, dict, padding, newline. */
    private static byte[] header(Array array) {
        long[] shape = array.shape;
        String descr = array.dtype == DType.INT64 ? Descr.I8.text : Descr.F4.text;
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + pyTuple(shape) + ", }";
        // numpy format.py (_write_array_header): spare spaces so the first axis can grow in place.
        if (shape.length > 0) {
            dict += " ".repeat(GROWTH_AXIS_MAX_DIGITS - Long.toString(shape[0]).length());
        }
        byte[] text = dict.getBytes(StandardCharsets.ISO_8859_1);
        // numpy format.py (_wrap_header_guess_version): version 1.0 unless the length overflows a uint16.
        int major = paddedLength(text.length, Short.BYTES) <= 0xffff ? 1 : 2;
        int lengthBytes = major == 1 ? Short.BYTES : Integer.BYTES;
        int padded = paddedLength(text.length, lengthBytes);
        ByteBuffer out = ByteBuffer.allocate(MAGIC_LEN + lengthBytes + padded).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            out.putShort((short) padded);
        } else {
            out.putInt(padded);
        }
        out.put(text);
        while (out.remaining() > 1) {
            out.put((byte) ' ');
        }
        out.put((byte) '\n');
        return out.array();
    }

    /** numpy format.py (_wrap_header): dict, spaces and '\n' so the data offset is a multiple of ARRAY_ALIGN. */
    private static int paddedLength(int textLength, int lengthBytes) {
        int hlen = textLength + 1;
        int padlen = ARRAY_ALIGN - (MAGIC_LEN + lengthBytes + hlen) % ARRAY_ALIGN;
        return hlen + padlen;
    }

    /** Formats a shape as Python's repr of a tuple: "()", "(3,)", "(2, 3)". */
    private static String pyTuple(long[] shape) {
        if (shape.length == 1) {
            return "(" + shape[0] + ",)";
        }
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        return sb.append(')').toString();
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
