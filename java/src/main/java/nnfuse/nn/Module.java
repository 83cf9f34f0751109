package nnfuse.nn;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;
import nnfuse.DType;
import nnfuse.Device;
import nnfuse.Tensor;
import nnfuse.internal.Npy;

/**
 * A layer or a container of layers, as PyTorch's {@code torch.nn.Module}:
 * {@link #forward} maps an input tensor to a new output tensor, and the
 * module's parameters and buffers are reported and loaded under PyTorch's
 * state-dict names, so a PyTorch {@code state_dict()} of the same
 * architecture loads unchanged.
 *
 * <p>Training without an autograd: {@link #backward} takes the gradient of a
 * loss with respect to the output of the last {@link #forward} and returns the
 * gradient with respect to its input, adding the parameter gradients into
 * {@link Parameter#grad()} (they sum over backward passes until
 * {@link #zeroGrad()}, as PyTorch's {@code .grad}). A forward in training mode
 * keeps exactly what the backward needs, as {@link Summary} accounts it, in
 * tensors of the module's own; they are freed by the backward, by the next
 * forward or by {@link #close()}. A forward in evaluation mode keeps nothing.
 * Forward and backward are usable alone, e.g. by a JVM framework that brings
 * its own autograd and calls a module as one node of its graph; the
 * optimizer ({@link SGD}), the loss ({@link CrossEntropyLoss}), the penalty
 * ({@link L2Penalty}) and the loop ({@link Trainer}) are separate pieces.
 *
 * <p>A module owns its parameters, their gradients, its buffers and its kept
 * state; {@link #close()} frees them (and closes the children), after which
 * {@code forward}, {@code backward}, {@code train}, {@code eval},
 * {@code zeroGrad}, the parameter and state accessors, {@code save},
 * {@code load} and {@code summary} throw {@link IllegalStateException}.
 * Tensors returned by {@link #forward} and {@link #backward} belong to the
 * caller; tensors returned by {@link #stateDict()}, {@link Parameter#data()}
 * and {@link Parameter#grad()} belong to the module.
 *
 * <p>A new module is in training mode, as in PyTorch.
 *
 * <p>Thread-safety: not thread-safe. A module changes state as it runs
 * (kept tensors, gradients, dropout offsets, batch-norm running statistics),
 * so one module must not be used from several threads at once; distinct
 * modules are independent.
 */
public abstract class Module implements AutoCloseable {
    /** Bytes of a float32 element. */
    static final long FLOAT_BYTES = DType.FLOAT32.byteSize();

    /**
     * A state-dict entry: a parameter's tensor, or a buffer ({@code parameter}
     * null); {@code scalar} marks a one-element tensor that PyTorch keeps 0-d.
     */
    private record Entry(Tensor tensor, Parameter parameter, boolean scalar) {}

    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private final Map<String, Entry> buffers = new LinkedHashMap<>();
    private boolean training = true;
    private boolean closed;
    private Saved saved;

    /** Only the modules of this package extend it (package-private hooks below). */
    Module() {}

    /**
     * Runs the module on {@code input}, which is not modified, and returns a
     * new tensor that the caller owns and must close. In training mode a
     * module may update its state (see the subclasses).
     */
    public abstract Tensor forward(Tensor input);

    /**
     * The backward pass of the last {@link #forward}: returns the gradient of
     * the loss with respect to that forward's input, a new tensor of the
     * input's shape that the caller owns, and adds the gradients with respect
     * to the parameters into their {@link Parameter#grad()}. It then frees what
     * the forward kept, so each training forward allows one backward (PyTorch
     * frees its graph the same way unless told to retain it).
     *
     * @param gradOutput the gradient with respect to the forward's output:
     *     float32, of the output's shape; not modified
     * @throws IllegalStateException when no training-mode forward precedes it
     *     (none yet, the last ran in evaluation mode, or a backward already
     *     consumed it), when {@code gradOutput} is closed, or after
     *     {@link #close()}
     * @throws IllegalArgumentException when {@code gradOutput} is null, not
     *     float32, or not of the output's shape
     */
    public abstract Tensor backward(Tensor gradOutput);

    /**
     * The bytes this module and its children hold now for the backward pass:
     * after a training-mode forward, what {@link #summary} reports as kept
     * bytes for that input; 0 after an evaluation-mode forward, after the
     * backward and after {@link #close()}.
     */
    public long keptBytes() {
        return keptTensors().stream().mapToLong(t -> t.numel() * t.dtype().byteSize()).sum();
    }

    /**
     * Zeroes the gradients of all parameters, recursively: PyTorch's
     * {@code zero_grad(set_to_none=False)}. Gradients not allocated yet stay so.
     */
    public void zeroGrad() {
        parameters().forEach(Parameter::zeroGrad);
    }

    /** Puts this module and all its children in training mode; returns this module. */
    public Module train() {
        setTraining(true);
        return this;
    }

    /** Puts this module and all its children in evaluation mode; returns this module. */
    public Module eval() {
        setTraining(false);
        return this;
    }

    /** Whether the module is in training mode. */
    public boolean isTraining() {
        return training;
    }

    /**
     * The parameters, recursively, under their PyTorch state-dict names (e.g.
     * {@code "0.weight"}), in PyTorch's order: a module's own before its
     * children's. A new map, whose values are the module's own parameters.
     */
    public SequencedMap<String, Parameter> namedParameters() {
        SequencedMap<String, Parameter> named = new LinkedHashMap<>();
        state().forEach((key, entry) -> {
            if (entry.parameter() != null) {
                named.put(key, entry.parameter());
            }
        });
        return named;
    }

    /** The parameters, recursively, in the order of {@link #namedParameters()}. */
    public List<Parameter> parameters() {
        return List.copyOf(namedParameters().values());
    }

    /** The total number of parameter elements (C in the worksheet's section 1(d)). */
    public long parameterCount() {
        return parameters().stream().mapToLong(Parameter::numel).sum();
    }

    /**
     * The parameters and buffers (e.g. batch norm's {@code running_mean},
     * {@code running_var} and {@code num_batches_tracked}, an int64 tensor of
     * shape {@code [1]} where PyTorch's is 0-d) under PyTorch's state-dict names
     * and in its order: per module, parameters, then buffers, then the
     * children's. A new map whose values are the module's own tensors: read or
     * overwrite them, do not close them.
     */
    public SequencedMap<String, Tensor> stateDict() {
        SequencedMap<String, Tensor> dict = new LinkedHashMap<>();
        state().forEach((key, entry) -> dict.put(key, entry.tensor()));
        return dict;
    }

    /**
     * Copies {@code stateDict} into the parameters and buffers, strictly as
     * PyTorch's {@code load_state_dict(strict=True)}: the keys must be exactly
     * those of {@link #stateDict()}, with the same shapes and element types.
     * Unlike PyTorch, nothing is copied unless everything matches. The tensors
     * passed in stay the caller's.
     *
     * @throws IllegalArgumentException listing every missing key, unexpected
     *     key and shape or type mismatch, in PyTorch's wording
     * @throws IllegalStateException when a tensor passed in is closed
     */
    public void loadStateDict(Map<String, Tensor> stateDict) {
        if (stateDict == null) {
            throw new IllegalArgumentException("stateDict must not be null");
        }
        SequencedMap<String, Tensor> own = stateDict();
        List<String> errors = new ArrayList<>();
        List<String> missing = own.keySet().stream().filter(k -> !stateDict.containsKey(k)).toList();
        List<String> unexpected = stateDict.keySet().stream().filter(k -> !own.containsKey(k)).toList();
        if (!missing.isEmpty()) {
            errors.add("Missing key(s) in state_dict: " + quoted(missing) + ".");
        }
        if (!unexpected.isEmpty()) {
            errors.add("Unexpected key(s) in state_dict: " + quoted(unexpected) + ".");
        }
        own.forEach((key, target) -> {
            if (stateDict.containsKey(key)) {
                mismatch(key, stateDict.get(key), target).ifPresent(errors::add);
            }
        });
        if (!errors.isEmpty()) {
            throw new IllegalArgumentException("Error(s) in loading state_dict for " + getClass().getSimpleName()
                    + ":\n\t" + String.join("\n\t", errors));
        }
        state().forEach((key, entry) -> {
            entry.tensor().copyFrom(stateDict.get(key));
            if (entry.parameter() != null) {
                entry.parameter().markChanged();
            }
        });
    }

    /**
     * Writes {@link #stateDict()} to an {@code .npz} archive, one array per key,
     * as numpy's {@code savez} of a PyTorch state dict's arrays would hold them:
     * float32 parameters and buffers, and {@code num_batches_tracked} as a 0-d
     * int64 array.
     */
    public void save(Path npz) throws IOException {
        if (npz == null) {
            throw new IllegalArgumentException("npz must not be null");
        }
        try (Arena arena = Arena.ofConfined()) {
            SequencedMap<String, Npy.Array> arrays = new LinkedHashMap<>();
            state().forEach((key, e) -> {
                Tensor t = e.tensor();
                Tensor host = t.device().isCuda() ? Tensor.zeros(arena, t.dtype(), t.shape()).copyFrom(t) : t;
                arrays.put(key, new Npy.Array(e.scalar() ? new long[0] : t.shape(), host.segment(), t.dtype()));
            });
            Npy.writeNpz(npz, arrays);
        }
    }

    /**
     * Reads an {@code .npz} archive (as {@link #save} or numpy's {@code savez}
     * writes it; float64 arrays are rounded to float32, a 0-d array is read as
     * shape {@code [1]}) and loads it as {@link #loadStateDict} does.
     */
    public void load(Path npz) throws IOException {
        checkOpen();
        if (npz == null) {
            throw new IllegalArgumentException("npz must not be null");
        }
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, Npy.Array> e : Npy.readNpz(npz, arena).entrySet()) {
                Npy.Array a = e.getValue();
                long[] shape = a.shape().length == 0 ? new long[] {1} : a.shape();
                Tensor t = Tensor.zeros(arena, a.dtype(), shape);
                MemorySegment.copy(a.data(), 0, t.segment(), 0, a.data().byteSize());
                tensors.put(e.getKey(), t);
            }
            loadStateDict(tensors);
        }
    }

    /**
     * The layer-by-layer account of running this module on a batch of
     * {@code batch} rows: output shapes, parameters, activation elements and
     * the bytes kept for the backward pass (see {@link Summary}).
     *
     * @throws IllegalStateException when no layer fixes the input features
     *     (e.g. a lone ReLU), so no input shape can be inferred
     */
    public Summary summary(long batch) {
        checkOpen();
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        }
        long features = inFeatures();
        if (features < 1) {
            throw new IllegalStateException(this + " does not fix its input features, so summary(" + batch
                    + ") cannot infer an input shape");
        }
        List<Summary.Row> rows = new ArrayList<>();
        summarize("", new long[] {batch, features}, rows);
        return new Summary(batch, rows);
    }

    /**
     * Moves the parameters (with their gradients) and the buffers of this module and its children to
     * {@code device}, as PyTorch's {@code module.to(device)}, and returns this module. The state kept by a
     * training forward is released, so the next backward needs a new forward. The tensors moved are new:
     * tensors fetched before ({@link Parameter#data()}, {@link Parameter#grad()}, a batch norm's running
     * statistics) are closed by the move, and an optimizer made before it holds momentum buffers on the old
     * device, so make optimizers after moving the model, as PyTorch advises.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public Module to(Device device) {
        checkOpen();
        if (device == null) {
            throw new IllegalArgumentException("device must not be null");
        }
        releaseSaved();
        children().forEach(c -> c.to(device));
        parameters.values().forEach(p -> p.moveTo(device));
        buffers.replaceAll((name, b) -> new Entry(moved(b.tensor(), device), null, b.scalar()));
        moved(device);
        return this;
    }

    /** Called after {@link #to} moved this module's tensors: modules that hold them in fields fetch them again. */
    void moved(Device device) {}

    /** The buffer registered as {@code name}. */
    final Tensor buffer(String name) {
        return buffers.get(name).tensor();
    }

    /** {@code t} itself when it is on {@code device}, else a copy there, with {@code t} closed. */
    static Tensor moved(Tensor t, Device device) {
        if (t.device().equals(device)) {
            return t;
        }
        Tensor copy = t.to(device);
        t.close();
        return copy;
    }

    /** Frees the parameters, their gradients, the buffers and the kept state, and closes the children. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        releaseSaved();
        children().forEach(Module::close);
        parameters.values().forEach(Parameter::free);
        buffers.values().forEach(b -> b.tensor().close());
    }

    /** PyTorch's {@code repr}: the class name and the constructor arguments. */
    @Override
    public String toString() {
        return getClass().getSimpleName() + "(" + extraRepr() + ")";
    }

    /* ---- Hooks for the modules of this package ---------------------------- */

    /** The arguments shown by {@link #toString()}, as PyTorch's {@code extra_repr}; none by default. */
    String extraRepr() {
        return "";
    }

    /**
     * Appends this module's rows to {@code rows} for an input of shape
     * {@code in} and returns the output shape; throws
     * {@link IllegalArgumentException} when {@code in} does not fit.
     */
    abstract long[] summarize(String name, long[] in, List<Summary.Row> rows);

    /** The input features this module requires, or -1 when it takes any (ReLU, Dropout). */
    long inFeatures() {
        return -1;
    }

    /** The child modules, in order; containers override it. */
    List<Module> children() {
        return List.of();
    }

    /**
     * The PyTorch modules this module stands for in a container: itself,
     * or for a fused block the modules it fuses, each taking one index.
     */
    List<Module> parts() {
        return List.of(this);
    }

    /** The tensors held for the backward pass now: this module's, then its children's. */
    final List<Tensor> keptTensors() {
        List<Tensor> all = new ArrayList<>(saved == null ? List.of() : saved.kept);
        children().forEach(c -> all.addAll(c.keptTensors()));
        return all;
    }

    /**
     * Frees what the last training-mode forward kept; every forward calls it
     * first, so a module holds the state of one forward at most.
     */
    final void releaseSaved() {
        if (saved != null) {
            saved.close();
            saved = null;
        }
    }

    /**
     * Runs a training-mode forward: {@code body} computes the output, keeping
     * the tensors the backward needs in the {@link Saved} it is given. On
     * success they become this module's kept state; if {@code body} throws,
     * they are freed, with the output registered by {@link Saved#output}.
     */
    final Tensor keeping(Function<Saved, Tensor> body) {
        releaseSaved();
        Saved s = new Saved();
        try {
            Tensor y = body.apply(s);
            s.outputShape = y.shape();
            s.output = null;
            saved = s;
            return y;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /**
     * Hands the kept state over to a backward pass, which must close it, after
     * checking {@code gradOutput} against the kept output shape; the module
     * keeps nothing afterwards.
     */
    final Saved takeSaved(Tensor gradOutput) {
        checkOpen();
        requireSaved();
        checkGradOutput(gradOutput, saved.outputShape);
        Saved s = saved;
        saved = null;
        return s;
    }

    /**
     * Throws the {@link IllegalStateException} of {@link #backward} unless a
     * training-mode forward kept its state and no backward used it yet.
     * Containers ask every child.
     */
    void requireSaved() {
        if (saved == null) {
            throw new IllegalStateException(this + ": backward needs the state kept by a preceding forward in "
                    + "training mode, and there is none (no forward yet, the last forward ran in eval mode, or a "
                    + "backward already used it)");
        }
    }

    /** Throws unless {@code gradOutput} is an open float32 tensor of shape {@code outputShape}. */
    final void checkGradOutput(Tensor gradOutput, long[] outputShape) {
        if (gradOutput == null) {
            throw new IllegalArgumentException(this + ": gradOutput must not be null");
        }
        if (gradOutput.isClosed()) {
            throw new IllegalStateException(this + ": gradOutput (" + gradOutput.describe() + ") is closed");
        }
        if (gradOutput.dtype() != DType.FLOAT32 || !Arrays.equals(gradOutput.shape(), outputShape)) {
            throw new IllegalArgumentException(this + ": gradOutput must be float32 of the forward output's shape "
                    + Arrays.toString(outputShape) + ", got " + gradOutput.describe());
        }
    }

    /**
     * The tensors a training-mode forward keeps for its backward pass, owned by
     * the module; {@link #close()} frees them. A forward adds them with
     * {@link #keep} and registers a separately allocated output with
     * {@link #output} so that a failure frees it too.
     */
    static final class Saved implements AutoCloseable {
        private final List<Tensor> kept = new ArrayList<>();
        private Tensor output;
        private long[] outputShape;

        /** Keeps {@code t} (taking ownership) and returns it. */
        Tensor keep(Tensor t) {
            kept.add(t);
            return t;
        }

        /** Registers the forward's output, freed only if the forward fails; returns it. */
        Tensor output(Tensor y) {
            output = y;
            return y;
        }

        /** The {@code i}-th kept tensor, in the order of {@link #keep}. */
        Tensor get(int i) {
            return kept.get(i);
        }

        @Override
        public void close() {
            kept.forEach(Tensor::close);
            if (output != null) {
                output.close();
            }
        }
    }

    /** Allocates and registers a float32 parameter filled with {@code value}. */
    final Parameter addParameter(String name, float value, long... shape) {
        Parameter p = new Parameter(Tensor.zeros(shape).fill(value));
        parameters.put(name, p);
        return p;
    }

    /** Registers an allocated float32 parameter. */
    final Parameter addParameter(String name, Tensor data) {
        Parameter p = new Parameter(data);
        parameters.put(name, p);
        return p;
    }

    /**
     * Registers a buffer: state that is saved and loaded but not trained;
     * {@code scalar} marks a one-element buffer that PyTorch keeps 0-d.
     */
    final Tensor addBuffer(String name, Tensor data, boolean scalar) {
        buffers.put(name, new Entry(data, null, scalar));
        return data;
    }

    /** Throws {@link IllegalStateException} after {@link #close()}. */
    final void checkOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    /** A row of the summary for a layer with this module's own parameters. */
    final Summary.Row row(String name, long[] out, long activations, long saved, long unfusedSaved) {
        return new Summary.Row(name, getClass().getSimpleName(), Arrays.stream(out).boxed().toList(),
                parameterCount(), activations, saved, unfusedSaved);
    }

    /** Throws unless dimension {@code dim} of the summary input {@code in} is {@code features}. */
    final void requireFeatures(long[] in, int dim, long features) {
        if (in.length <= dim || in[dim] != features) {
            throw new IllegalArgumentException(this + " expects " + features + " features in dimension " + dim
                    + ", got an input of shape " + Arrays.toString(in));
        }
    }

    /** Validates a size argument of a constructor. */
    static void requirePositive(String name, long value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + value);
        }
    }

    /** Validates an epsilon argument of a constructor: finite and >= 0, as the ops require. */
    static void requireEps(float eps) {
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("eps must be finite and >= 0, got " + eps);
        }
    }

    /** {@code input}, which must be non-null and open. */
    static Tensor requireInput(Tensor input) {
        if (input == null) {
            throw new IllegalArgumentException("input must not be null");
        }
        if (input.isClosed()) {
            throw new IllegalStateException("input (" + input.describe() + ") is closed");
        }
        return input;
    }

    /** A new tensor on input's device holding a copy of {@code input}: the identity as a {@link #forward} result. */
    static Tensor copy(Tensor input) {
        requireInput(input);
        return input.to(input.device());
    }

    /** The tensor of an optional parameter, or null. */
    static Tensor data(Parameter p) {
        return p == null ? null : p.data();
    }

    /** The gradient of an optional parameter, or null. */
    static Tensor grad(Parameter p) {
        return p == null ? null : p.grad();
    }

    /** A new float32 tensor shaped and placed as {@code like} that {@code writer} fills; freed if the writer throws. */
    static Tensor filled(Tensor like, Consumer<Tensor> writer) {
        Tensor t = Tensor.zeros(like.device(), like.shape());
        try {
            writer.accept(t);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    static long numel(long[] shape) {
        return Arrays.stream(shape).reduce(1, Math::multiplyExact);
    }

    /** Python's spelling of a boolean in a repr. */
    static String py(boolean b) {
        return b ? "True" : "False";
    }

    private void setTraining(boolean mode) {
        checkOpen();
        training = mode;
        children().forEach(c -> c.setTraining(mode));
    }

    private SequencedMap<String, Entry> state() {
        checkOpen();
        SequencedMap<String, Entry> out = new LinkedHashMap<>();
        addState("", out);
        return out;
    }

    private void addState(String prefix, Map<String, Entry> out) {
        forEachModule(prefix, (path, m) -> {
            m.parameters.forEach((name, p) -> out.put(path + name, new Entry(p.data(), p, false)));
            m.buffers.forEach((name, b) -> out.put(path + name, b));
        });
    }

    /**
     * Calls {@code action} on this module and every descendant, parents first,
     * with the state-dict prefix of each (e.g. {@code "3."}); a fused block is
     * visited as the modules it stands for.
     */
    final void forEachModule(String prefix, BiConsumer<String, Module> action) {
        action.accept(prefix, this);
        int index = 0;
        for (Module child : children()) {
            for (Module part : child.parts()) {
                part.forEachModule(prefix + index++ + ".", action);
            }
        }
    }

    /** This module's own parameters (not its children's) under their local names, e.g. {@code "weight"}. */
    final Map<String, Parameter> ownParameters() {
        return Collections.unmodifiableMap(parameters);
    }

    private static Optional<String> mismatch(String key, Tensor given, Tensor target) {
        if (given == null) {
            return Optional.of("null tensor for " + key + ".");
        }
        if (given.isClosed()) {
            throw new IllegalStateException("stateDict entry " + key + " (" + given.describe() + ") is closed");
        }
        if (!Arrays.equals(given.shape(), target.shape())) {
            return Optional.of("size mismatch for " + key + ": copying a param with shape "
                    + Arrays.toString(given.shape()) + " from checkpoint, the shape in current model is "
                    + Arrays.toString(target.shape()) + ".");
        }
        if (given.dtype() != target.dtype()) {
            return Optional.of("dtype mismatch for " + key + ": copying a param of type "
                    + given.describe() + " from checkpoint, the type in current model is " + target.describe() + ".");
        }
        return Optional.empty();
    }

    private static String quoted(List<String> keys) {
        return keys.stream().map(k -> "\"" + k + "\"").collect(Collectors.joining(", "));
    }
}
