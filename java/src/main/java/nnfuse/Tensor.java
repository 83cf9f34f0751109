package nnfuse;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import nnfuse.internal.Npy;

/**
 * A dense, row-major, contiguous array in off-heap memory, 64-byte aligned.
 *
 * <p>A tensor either owns its memory (the factories without an {@link Arena},
 * which allocate from a private shared arena that {@link #close()} frees) or
 * borrows it from a caller's arena (the factories taking one; {@code close()}
 * then only marks the tensor closed, and the memory goes when the arena is
 * closed). Any use after {@code close()}, or after the caller's arena closed,
 * throws {@link IllegalStateException}; freed memory is never read.
 *
 * <p>Thread-safety: a tensor may be read from several threads at once and
 * handed between threads; writes (including ops that write into it) must not
 * race with other use, and {@code close()} must not race with any use.
 */
public final class Tensor implements AutoCloseable {
    /** Alignment of every allocation: a cache line, and a full AVX-512 vector. */
    public static final long ALIGNMENT = 64;

    private final MemorySegment segment;
    private final long[] shape;
    private final long numel;
    private final DType dtype;
    private final Arena ownArena;
    private boolean closed;

    private Tensor(MemorySegment segment, long[] shape, long numel, DType dtype, Arena ownArena) {
        this.segment = segment;
        this.shape = shape;
        this.numel = numel;
        this.dtype = dtype;
        this.ownArena = ownArena;
    }

    /** A new float32 tensor of zeros that owns its memory. */
    public static Tensor zeros(long... shape) {
        return allocate(null, DType.FLOAT32, shape);
    }

    /** A new float32 tensor of zeros in the caller's arena. */
    public static Tensor zeros(Arena arena, long... shape) {
        return allocate(requireArena(arena), DType.FLOAT32, shape);
    }

    /** A new tensor of zeros of any element type; {@code arena} may be null for an owning tensor. */
    public static Tensor zeros(Arena arena, DType dtype, long... shape) {
        if (dtype == null) {
            throw new IllegalArgumentException("dtype must not be null");
        }
        return allocate(arena, dtype, shape);
    }

    /** A new owning float32 tensor holding a copy of {@code data}, which must have exactly as many elements as the shape. */
    public static Tensor of(float[] data, long... shape) {
        return of(null, data, shape);
    }

    /** A new float32 tensor in {@code arena} (null: owning) holding a copy of {@code data}. */
    public static Tensor of(Arena arena, float[] data, long... shape) {
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        Tensor t = allocate(arena, DType.FLOAT32, shape);
        t.copyFrom(data);
        return t;
    }

    /** A new owning int64 tensor holding a copy of {@code data} (labels, indices). */
    public static Tensor ofLongs(long[] data, long... shape) {
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        Tensor t = allocate(null, DType.INT64, shape);
        t.checkCount("data", data.length);
        MemorySegment.copy(data, 0, t.segment, ValueLayout.JAVA_LONG, 0, data.length);
        return t;
    }

    /**
     * Reads a NumPy {@code .npy} file (format 1.0-3.0, little-endian float32,
     * float64 converted to float32, or int64) into a new owning tensor; a
     * 0-d array becomes shape {@code [1]}.
     */
    public static Tensor load(Path file) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file must not be null");
        }
        Arena arena = Arena.ofShared();
        try {
            Npy.Array array = Npy.read(file, arena);
            long[] shape = array.shape().length == 0 ? new long[] {1} : array.shape();
            return new Tensor(array.data(), shape.clone(), checkedNumel(shape), array.dtype(), arena);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Writes this tensor as a NumPy {@code .npy} file (format 1.0, C order, {@code <f4} or {@code <i8}). */
    public void save(Path file) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file must not be null");
        }
        Npy.write(file, new Npy.Array(shape, segment(), dtype));
    }

    /** The shape (a copy). */
    public long[] shape() {
        return shape.clone();
    }

    /** The number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** The extent of dimension {@code dim}; negative counts from the end, as in PyTorch. */
    public long size(int dim) {
        int d = dim < 0 ? dim + shape.length : dim;
        if (d < 0 || d >= shape.length) {
            throw new IndexOutOfBoundsException("dim " + dim + " out of range for shape " + Arrays.toString(shape));
        }
        return shape[d];
    }

    /** The number of elements. */
    public long numel() {
        return numel;
    }

    /** The element type. */
    public DType dtype() {
        return dtype;
    }

    /** The device holding the memory. */
    public Device device() {
        return Device.CPU;
    }

    /** Whether {@link #close()} was called or the owning arena is gone. */
    public boolean isClosed() {
        return closed || !segment.scope().isAlive();
    }

    /**
     * The memory, for interop with other FFM code. Its lifetime is this
     * tensor's: after {@link #close()} the segment can no longer be accessed.
     */
    public MemorySegment segment() {
        checkOpen("tensor");
        return segment;
    }

    /** Copies the elements of a float32 tensor into a new array. */
    public float[] toFloatArray() {
        requireDType(DType.FLOAT32, "tensor");
        checkArraySize();
        return segment.toArray(ValueLayout.JAVA_FLOAT);
    }

    /** Copies the elements of an int64 tensor into a new array. */
    public long[] toLongArray() {
        requireDType(DType.INT64, "tensor");
        checkArraySize();
        return segment.toArray(ValueLayout.JAVA_LONG);
    }

    /** Overwrites all elements of a float32 tensor with {@code data}, which must have exactly {@link #numel()} elements. */
    public Tensor copyFrom(float[] data) {
        requireDType(DType.FLOAT32, "tensor");
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        checkCount("data", data.length);
        MemorySegment.copy(data, 0, segment, ValueLayout.JAVA_FLOAT, 0, data.length);
        return this;
    }

    /** Overwrites all elements of this tensor with those of {@code source}, which must have the same shape and type. */
    public Tensor copyFrom(Tensor source) {
        checkOpen("tensor");
        if (source == null) {
            throw new IllegalArgumentException("source must not be null");
        }
        source.checkOpen("source");
        if (source.dtype != dtype || !Arrays.equals(source.shape, shape)) {
            throw new IllegalArgumentException("source has " + source.describe() + ", this tensor has " + describe());
        }
        MemorySegment.copy(source.segment, 0, segment, 0, segment.byteSize());
        return this;
    }

    /** Sets every element of a float32 tensor to {@code value}. */
    public Tensor fill(float value) {
        requireDType(DType.FLOAT32, "tensor");
        for (long i = 0; i < numel; i++) {
            segment.setAtIndex(ValueLayout.JAVA_FLOAT, i, value);
        }
        return this;
    }

    /** The float32 element at {@code index} (one index per dimension). */
    public float get(long... index) {
        requireDType(DType.FLOAT32, "tensor");
        return segment.getAtIndex(ValueLayout.JAVA_FLOAT, offset(index));
    }

    /** The int64 element at {@code index} (one index per dimension). */
    public long getLong(long... index) {
        requireDType(DType.INT64, "tensor");
        return segment.getAtIndex(ValueLayout.JAVA_LONG, offset(index));
    }

    /** Sets the float32 element at {@code index} (one index per dimension). */
    public Tensor set(float value, long... index) {
        requireDType(DType.FLOAT32, "tensor");
        segment.setAtIndex(ValueLayout.JAVA_FLOAT, offset(index), value);
        return this;
    }

    /**
     * Frees the memory of an owning tensor, or marks a borrowed one closed.
     * Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (ownArena != null) {
            ownArena.close();
        }
    }

    /** The shape and type, e.g. {@code float32[3, 4]}; readable after close. */
    public String describe() {
        return dtype.name().toLowerCase(java.util.Locale.ROOT) + Arrays.toString(shape);
    }

    @Override
    public String toString() {
        if (isClosed()) {
            return "Tensor(" + describe() + ", closed)";
        }
        return "Tensor(" + describe() + ")";
    }

    /**
     * Throws {@link IllegalStateException} naming {@code name} when this tensor
     * is closed. Ops call it for every tensor argument before a downcall.
     */
    void checkOpen(String name) {
        if (closed) {
            throw new IllegalStateException(name + " (" + describe() + ") is closed");
        }
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException(name + " (" + describe() + ") belongs to an arena that is closed");
        }
    }

    /** The segment of an open tensor, or {@link MemorySegment#NULL} for an absent optional argument. */
    static MemorySegment segmentOrNull(Tensor t) {
        return t == null ? MemorySegment.NULL : t.segment();
    }

    private void requireDType(DType expected, String name) {
        checkOpen(name);
        if (dtype != expected) {
            throw new IllegalArgumentException(name + " must be " + expected.name().toLowerCase(java.util.Locale.ROOT)
                    + ", got " + describe());
        }
    }

    private void checkCount(String name, long count) {
        if (count != numel) {
            throw new IllegalArgumentException(
                    name + " has " + count + " elements but shape " + Arrays.toString(shape) + " needs " + numel);
        }
    }

    private void checkArraySize() {
        if (numel > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(describe() + " has too many elements for a Java array");
        }
    }

    private long offset(long[] index) {
        if (index == null || index.length != shape.length) {
            throw new IllegalArgumentException("expected " + shape.length + " indices for shape " + Arrays.toString(shape)
                    + ", got " + (index == null ? "null" : Arrays.toString(index)));
        }
        long offset = 0;
        for (int d = 0; d < shape.length; d++) {
            if (index[d] < 0 || index[d] >= shape[d]) {
                throw new IndexOutOfBoundsException(
                        "index " + Arrays.toString(index) + " out of bounds for shape " + Arrays.toString(shape));
            }
            offset = offset * shape[d] + index[d];
        }
        return offset;
    }

    private static Arena requireArena(Arena arena) {
        if (arena == null) {
            throw new IllegalArgumentException("arena must not be null");
        }
        return arena;
    }

    private static Tensor allocate(Arena arena, DType dtype, long[] shape) {
        long numel = checkedNumel(shape);
        long bytes = Math.multiplyExact(numel, (long) dtype.byteSize());
        Arena owner = arena == null ? Arena.ofShared() : null;
        Arena from = arena == null ? owner : arena;
        MemorySegment segment = from.allocate(bytes, ALIGNMENT);
        return new Tensor(segment, shape.clone(), numel, dtype, owner);
    }

    private static long checkedNumel(long[] shape) {
        if (shape == null || shape.length == 0) {
            throw new IllegalArgumentException("shape must have at least one dimension, got "
                    + (shape == null ? "null" : "[]"));
        }
        long n = 1;
        for (long d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException(
                        "every dimension must be >= 1, got shape " + Arrays.toString(shape));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has too many elements", e);
            }
        }
        return n;
    }
}
