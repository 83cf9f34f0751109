package nnfuse;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.function.Function;
import nnfuse.internal.Cuda;
import nnfuse.internal.HostBlocks;
import nnfuse.internal.Npy;

/**
 * A dense, row-major, contiguous array on a {@link Device}: off-heap host
 * memory, 64-byte aligned, or CUDA device memory, 256-byte aligned.
 *
 * <p>A host tensor either owns its memory (the factories without an
 * {@link Arena}) or borrows it from a caller's arena (the factories taking
 * one; {@code close()} then only marks the tensor closed, and the memory goes
 * when the arena is closed). An owning tensor of up to 1 MiB takes a block from
 * a caching allocator, to which {@code close()} returns it for the next tensor
 * (as PyTorch's caching allocator does), because freeing memory that other
 * threads could reach costs tens of microseconds in the JVM; a larger one has
 * a shared arena of its own that {@code close()} frees. A CUDA tensor always
 * owns its memory. Any use after {@code close()}, or after the caller's arena
 * closed, throws {@link IllegalStateException}; freed memory is never read.
 *
 * <p>The factories without a device or an arena put new tensors on the
 * default device, {@link Nnfuse#backend()}'s (as {@code torch.set_default_device}):
 * the CPU unless {@code -Dnnfuse.backend=cuda} says otherwise. The element
 * accessors ({@link #toFloatArray()}, {@link #get}, {@link #copyFrom(float[])}
 * and the like) work on every device; on a CUDA device each is a copy that
 * waits for the ops enqueued before it. {@link #segment()} is host-only.
 *
 * <p>Thread-safety: a tensor may be read from several threads at once and
 * handed between threads; writes (including ops that write into it) must not
 * race with other use, and {@code close()} must not race with any use.
 */
public final class Tensor implements AutoCloseable {
    /** Alignment of every allocation: a cache line, and a full AVX-512 vector. */
    public static final long ALIGNMENT = 64;

    /** Host memory, or on a CUDA device a zero-length segment holding the device address. */
    private final MemorySegment segment;
    private final long[] shape;
    private final long numel;
    private final DType dtype;
    private final Device device;
    /** The memory of an owning host tensor: its own arena, or a block of {@link HostBlocks}; else null. */
    private final Arena ownArena;
    private final MemorySegment ownBlock;
    private volatile boolean closed;
    /** {@link #describe()}, made at its first use: ops build their argument messages with it on every call. */
    private String description;

    private Tensor(MemorySegment segment, long[] shape, long numel, DType dtype, Device device, Arena ownArena) {
        this(segment, shape, numel, dtype, device, ownArena, null);
    }

    private Tensor(MemorySegment segment, long[] shape, long numel, DType dtype, Device device, Arena ownArena,
            MemorySegment ownBlock) {
        this.segment = segment;
        this.shape = shape;
        this.numel = numel;
        this.dtype = dtype;
        this.device = device;
        this.ownArena = ownArena;
        this.ownBlock = ownBlock;
    }

    /** A new float32 tensor of zeros on the default device that owns its memory. */
    public static Tensor zeros(long... shape) {
        return zeros(defaultDevice(), DType.FLOAT32, shape);
    }

    /** A new float32 tensor of zeros on {@code device}. */
    public static Tensor zeros(Device device, long... shape) {
        return zeros(device, DType.FLOAT32, shape);
    }

    /** A new tensor of zeros of any element type on {@code device}. */
    public static Tensor zeros(Device device, DType dtype, long... shape) {
        if (device == null) {
            throw new IllegalArgumentException("device must not be null");
        }
        if (dtype == null) {
            throw new IllegalArgumentException("dtype must not be null");
        }
        return device.isCuda() ? allocateCuda(device, dtype, shape) : allocate(null, dtype, shape);
    }

    /** A new float32 tensor of zeros in the caller's arena. */
    public static Tensor zeros(Arena arena, long... shape) {
        return allocate(requireArena(arena), DType.FLOAT32, shape);
    }

    /** A new tensor of zeros of any element type on the default device that owns its memory. */
    public static Tensor zeros(DType dtype, long... shape) {
        return zeros(defaultDevice(), dtype, shape);
    }

    /** A new host tensor of zeros of any element type in the caller's arena. */
    public static Tensor zeros(Arena arena, DType dtype, long... shape) {
        if (dtype == null) {
            throw new IllegalArgumentException("dtype must not be null");
        }
        return allocate(requireArena(arena), dtype, shape);
    }

    /**
     * A new owning float32 tensor on the default device holding a copy of {@code data}, which must have exactly
     * as many elements as the shape.
     */
    public static Tensor of(float[] data, long... shape) {
        return of(defaultDevice(), data, shape);
    }

    /** A new float32 tensor on {@code device} holding a copy of {@code data}. */
    public static Tensor of(Device device, float[] data, long... shape) {
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        Tensor t = zeros(device, DType.FLOAT32, shape);
        return fillOrClose(t, () -> t.copyFrom(data));
    }

    /** A new host float32 tensor in the caller's arena holding a copy of {@code data}. */
    public static Tensor of(Arena arena, float[] data, long... shape) {
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        Tensor t = allocate(requireArena(arena), DType.FLOAT32, shape);
        return fillOrClose(t, () -> t.copyFrom(data));
    }

    /** A new owning int64 tensor on the default device holding a copy of {@code data} (labels, indices). */
    public static Tensor ofLongs(long[] data, long... shape) {
        return ofLongs(defaultDevice(), data, shape);
    }

    /** A new int64 tensor on {@code device} holding a copy of {@code data}. */
    public static Tensor ofLongs(Device device, long[] data, long... shape) {
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        Tensor t = zeros(device, DType.INT64, shape);
        return fillOrClose(t, () -> {
            t.checkCount("data", data.length);
            t.write(host -> MemorySegment.copy(data, 0, host, ValueLayout.JAVA_LONG, 0, data.length));
        });
    }

    /** A copy of this tensor on {@code target} (a new tensor even when it is already there). */
    public Tensor to(Device target) {
        checkOpen("tensor");
        Tensor t = zeros(target, dtype, shape);
        return fillOrClose(t, () -> t.copyFrom(this));
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
        Tensor host;
        try {
            Npy.Array array = Npy.read(file, arena);
            long[] shape = array.shape().length == 0 ? new long[] {1} : array.shape();
            host = new Tensor(array.data(), shape.clone(), checkedNumel(shape), array.dtype(), Device.CPU, arena);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
        Device target = defaultDevice();
        if (!target.isCuda()) {
            return host;
        }
        try (host) {
            return host.to(target);
        }
    }

    /** Writes this tensor as a NumPy {@code .npy} file (format 1.0, C order, {@code <f4} or {@code <i8}). */
    public void save(Path file) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file must not be null");
        }
        checkOpen("tensor");
        if (!device.isCuda()) {
            Npy.write(file, new Npy.Array(shape, segment, dtype));
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(byteSize(), ALIGNMENT);
            Cuda.copyToHost(host, segment, byteSize(), device.index());
            Npy.write(file, new Npy.Array(shape, host, dtype));
        }
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
        return device;
    }

    /** The size of the memory in bytes. */
    public long byteSize() {
        return numel * dtype.byteSize();
    }

    /** Whether {@link #close()} was called or the owning arena is gone. */
    public boolean isClosed() {
        return closed || !segment.scope().isAlive();
    }

    /**
     * The host memory, for interop with other FFM code. Its lifetime is this
     * tensor's: don't use it after {@link #close()}, when it may already hold
     * another tensor (a borrowed tensor's segment stops working when its
     * arena closes; an own arena's when the tensor closes).
     *
     * @throws IllegalStateException on a CUDA tensor, whose memory the host cannot address
     */
    public MemorySegment segment() {
        checkOpen("tensor");
        if (device.isCuda()) {
            throw new IllegalStateException("tensor (" + describe() + ") is in device memory, which the host cannot"
                    + " address; copy it with to(Device.CPU) or toFloatArray()");
        }
        return segment;
    }

    /** Copies the elements of a float32 tensor into a new array. */
    public float[] toFloatArray() {
        requireDType(DType.FLOAT32, "tensor");
        checkArraySize();
        return read(host -> host.toArray(ValueLayout.JAVA_FLOAT));
    }

    /** Copies the elements of an int64 tensor into a new array. */
    public long[] toLongArray() {
        requireDType(DType.INT64, "tensor");
        checkArraySize();
        return read(host -> host.toArray(ValueLayout.JAVA_LONG));
    }

    /** Overwrites all elements of a float32 tensor with {@code data}, which must have exactly {@link #numel()} elements. */
    public Tensor copyFrom(float[] data) {
        requireDType(DType.FLOAT32, "tensor");
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        checkCount("data", data.length);
        write(host -> MemorySegment.copy(data, 0, host, ValueLayout.JAVA_FLOAT, 0, data.length));
        return this;
    }

    /**
     * Overwrites all elements of this tensor with those of {@code source}, which must have the same shape and
     * type and may be on any device.
     */
    public Tensor copyFrom(Tensor source) {
        checkOpen("tensor");
        if (source == null) {
            throw new IllegalArgumentException("source must not be null");
        }
        source.checkOpen("source");
        if (source.dtype != dtype || !Arrays.equals(source.shape, shape)) {
            throw new IllegalArgumentException("source has " + source.describe() + ", this tensor has " + describe());
        }
        if (source.device.isCuda() && device.isCuda() && source.device.index() != device.index()) {
            throw new IllegalArgumentException("copy between CUDA devices: source is on " + source.device
                    + ", this tensor on " + device + "; go through the CPU");
        }
        if (device.isCuda() && source.device.isCuda()) {
            Cuda.copyOnDevice(segment, source.segment, byteSize(), device.index());
        } else if (device.isCuda()) {
            Cuda.copyToDevice(segment, source.segment, byteSize(), device.index());
        } else if (source.device.isCuda()) {
            Cuda.copyToHost(segment, source.segment, byteSize(), source.device.index());
        } else {
            MemorySegment.copy(source.segment, 0, segment, 0, byteSize());
        }
        return this;
    }

    /** Sets every element of a float32 tensor to {@code value}. */
    public Tensor fill(float value) {
        requireDType(DType.FLOAT32, "tensor");
        if (Float.floatToRawIntBits(value) == 0) {
            if (device.isCuda()) {
                Cuda.zero(segment, byteSize(), device.index());
            } else {
                segment.fill((byte) 0);
            }
            return this;
        }
        write(host -> {
            for (long i = 0; i < numel; i++) {
                host.setAtIndex(ValueLayout.JAVA_FLOAT, i, value);
            }
        });
        return this;
    }

    /** The float32 element at {@code index} (one index per dimension). */
    public float get(long... index) {
        requireDType(DType.FLOAT32, "tensor");
        long i = offset(index);
        return readElement(i, host -> host.get(ValueLayout.JAVA_FLOAT, 0));
    }

    /** The int64 element at {@code index} (one index per dimension). */
    public long getLong(long... index) {
        requireDType(DType.INT64, "tensor");
        long i = offset(index);
        return readElement(i, host -> host.get(ValueLayout.JAVA_LONG, 0));
    }

    /** Sets the float32 element at {@code index} (one index per dimension). */
    public Tensor set(float value, long... index) {
        requireDType(DType.FLOAT32, "tensor");
        long i = offset(index);
        writeElement(i, host -> host.set(ValueLayout.JAVA_FLOAT, 0, value));
        return this;
    }

    /** Sets the int64 element at {@code index} (one index per dimension). */
    public Tensor setLong(long value, long... index) {
        requireDType(DType.INT64, "tensor");
        long i = offset(index);
        writeElement(i, host -> host.set(ValueLayout.JAVA_LONG, 0, value));
        return this;
    }

    /**
     * Frees the memory of an owning tensor (a cached block goes back to the
     * cache), or marks a borrowed one closed. Idempotent, and safe to call from
     * any thread. Device memory is released once the ops enqueued before are done.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (device.isCuda()) {
            Cuda.free(segment, device.index());
        } else if (ownBlock != null) {
            HostBlocks.give(ownBlock);
        } else if (ownArena != null) {
            ownArena.close();
        }
    }

    /** The shape and type, e.g. {@code float32[3, 4]}, and the device unless it is the CPU; readable after close. */
    public String describe() {
        String text = description;
        if (text == null) {
            text = dtype.name().toLowerCase(java.util.Locale.ROOT) + Arrays.toString(shape);
            text = device.isCuda() ? text + " on " + device : text;
            description = text;
        }
        return text;
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

    /**
     * The memory of an open tensor as a native argument (host or device address), or {@link MemorySegment#NULL}
     * for an absent optional argument.
     */
    static MemorySegment segmentOrNull(Tensor t) {
        return t == null ? MemorySegment.NULL : t.address();
    }

    /** The memory as a native argument: the host segment, or the device address. */
    MemorySegment address() {
        checkOpen("tensor");
        return segment;
    }

    private <T> T read(Function<MemorySegment, T> reader) {
        if (!device.isCuda()) {
            return reader.apply(segment);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(byteSize(), ALIGNMENT);
            Cuda.copyToHost(host, segment, byteSize(), device.index());
            return reader.apply(host);
        }
    }

    private void write(Consumer<MemorySegment> writer) {
        if (!device.isCuda()) {
            writer.accept(segment);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(byteSize(), ALIGNMENT);
            writer.accept(host);
            Cuda.copyToDevice(segment, host, byteSize(), device.index());
        }
    }

    private <T> T readElement(long index, Function<MemorySegment, T> reader) {
        long bytes = dtype.byteSize();
        if (!device.isCuda()) {
            return reader.apply(segment.asSlice(index * bytes, bytes));
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, bytes);
            Cuda.copyToHost(host, elementAddress(index), bytes, device.index());
            return reader.apply(host);
        }
    }

    private void writeElement(long index, Consumer<MemorySegment> writer) {
        long bytes = dtype.byteSize();
        if (!device.isCuda()) {
            writer.accept(segment.asSlice(index * bytes, bytes));
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, bytes);
            writer.accept(host);
            Cuda.copyToDevice(elementAddress(index), host, bytes, device.index());
        }
    }

    private MemorySegment elementAddress(long index) {
        return MemorySegment.ofAddress(segment.address() + index * dtype.byteSize());
    }

    /** t after init ran, or t closed and init's exception rethrown: a factory never leaks a half-made tensor. */
    private static Tensor fillOrClose(Tensor t, Runnable init) {
        try {
            init.run();
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private static Device defaultDevice() {
        return Nnfuse.backend().device();
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
        if (arena == null && bytes <= HostBlocks.MAX_BLOCK) {
            MemorySegment block = HostBlocks.take(bytes);
            return new Tensor(block.asSlice(0, bytes), shape.clone(), numel, dtype, Device.CPU, null, block);
        }
        Arena owner = arena == null ? Arena.ofShared() : null;
        Arena from = arena == null ? owner : arena;
        MemorySegment segment = from.allocate(bytes, ALIGNMENT);
        return new Tensor(segment, shape.clone(), numel, dtype, Device.CPU, owner);
    }

    /** Zeroed device memory: CUDA's allocations are not cleared, and a tensor starts as zeros everywhere. */
    private static Tensor allocateCuda(Device device, DType dtype, long[] shape) {
        long numel = checkedNumel(shape);
        long bytes = Math.multiplyExact(numel, (long) dtype.byteSize());
        MemorySegment pointer = Cuda.malloc(bytes, device.index());
        Tensor t = new Tensor(pointer, shape.clone(), numel, dtype, device, null);
        return fillOrClose(t, () -> Cuda.zero(pointer, bytes, device.index()));
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
