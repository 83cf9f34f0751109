package nnfuse.nn;

import java.util.List;
import java.util.function.BiFunction;
import nnfuse.Tensor;

/**
 * Modules applied in order, as PyTorch's {@code nn.Sequential}. Children are
 * indexed as PyTorch indexes them, by the modules they stand for: a
 * {@link FusedLinearLayerNormReLU} takes two or three indices, every other
 * module one; state-dict keys are {@code "<index>.<name>"}.
 *
 * <p>The container owns its children: {@link #close()} closes them, and
 * {@link #train()}, {@link #eval()} and {@link #zeroGrad()} reach them. It
 * keeps nothing of its own for the backward pass: each child keeps its own
 * state. Not thread-safe (see {@link Module}).
 */
public final class Sequential extends Module {
    private final List<Module> modules;

    /** A container of {@code modules}, which it takes ownership of. */
    public Sequential(Module... modules) {
        if (modules == null) {
            throw new IllegalArgumentException("modules must not be null");
        }
        for (int i = 0; i < modules.length; i++) {
            if (modules[i] == null) {
                throw new IllegalArgumentException("modules[" + i + "] must not be null");
            }
            modules[i].checkOpen();
        }
        this.modules = List.of(modules);
    }

    /** The children in order (as given, fused blocks counting once). */
    public List<Module> modules() {
        checkOpen();
        return modules;
    }

    /**
     * Runs the children in order, freeing each intermediate result; with no
     * children, returns a copy of {@code input} (PyTorch returns the input).
     */
    @Override
    public Tensor forward(Tensor input) {
        checkOpen();
        if (modules.isEmpty()) {
            return copy(input);
        }
        return chain(modules, input, Module::forward);
    }

    /**
     * Runs the children's backward passes in reverse order, each on the
     * gradient the next one returned, freeing each intermediate gradient;
     * returns the gradient with respect to the input of the first child (with
     * no children, a copy of {@code gradOutput}). Every child must hold the
     * state of a training-mode forward, which is checked before any gradient
     * is accumulated.
     */
    @Override
    public Tensor backward(Tensor gradOutput) {
        checkOpen();
        requireSaved();
        if (modules.isEmpty()) {
            return copy(gradOutput);
        }
        return chain(modules.reversed(), gradOutput, Module::backward);
    }

    /**
     * Applies {@code step} to each module in order, each on the previous result (the first on {@code first}),
     * freeing each intermediate result, and on a failure the last one made.
     */
    private static Tensor chain(List<Module> order, Tensor first, BiFunction<Module, Tensor, Tensor> step) {
        Tensor current = null;
        try {
            for (Module m : order) {
                Tensor next = step.apply(m, current == null ? first : current);
                if (current != null) {
                    current.close();
                }
                current = next;
            }
        } catch (RuntimeException e) {
            if (current != null) {
                current.close();
            }
            throw e;
        }
        return current;
    }

    /** PyTorch's multi-line repr: one {@code (index): module} line per child. */
    @Override
    public String toString() {
        if (modules.isEmpty()) {
            return "Sequential()";
        }
        StringBuilder b = new StringBuilder("Sequential(\n");
        int index = 0;
        for (Module m : modules) {
            String child = m.toString().replace("\n", "\n  ");
            b.append("  (").append(indexName(index, m)).append("): ").append(child).append('\n');
            index += m.parts().size();
        }
        return b.append(')').toString();
    }

    @Override
    long inFeatures() {
        return modules.stream().mapToLong(Module::inFeatures).filter(f -> f >= 1).findFirst().orElse(-1);
    }

    @Override
    List<Module> children() {
        return modules;
    }

    /** Throws for the first child that cannot run its backward pass. */
    @Override
    void requireSaved() {
        modules.forEach(Module::requireSaved);
    }

    /** One row per child (nested containers contribute their rows, named {@code "<index>.<inner>"}). */
    @Override
    long[] summarize(String name, long[] in, List<Summary.Row> rows) {
        String prefix = name.isEmpty() ? "" : name + ".";
        long[] shape = in;
        int index = 0;
        for (Module m : modules) {
            shape = m.summarize(prefix + indexName(index, m), shape, rows);
            index += m.parts().size();
        }
        return shape;
    }

    /** {@code "k"}, or {@code "k-l"} for a module standing for indices k to l. */
    private static String indexName(int index, Module m) {
        int span = m.parts().size();
        return span == 1 ? Integer.toString(index) : index + "-" + (index + span - 1);
    }
}
