package nnfuse.nn;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Ready-made predicates on state-dict names ({@link Module#namedParameters()})
 * that choose the parameters an {@link SGD} decays or an {@link L2Penalty}
 * covers. Any {@code Predicate<String>} works as well, e.g.
 * {@code name -> !name.endsWith("bias")}.
 *
 * <p>Stateless and thread-safe; the predicates returned are immutable.
 */
public final class ParameterFilters {
    private ParameterFilters() {}

    /** Every parameter: PyTorch's single parameter group. */
    public static Predicate<String> all() {
        return name -> true;
    }

    /**
     * The parameters of {@code model} other than biases and normalization
     * parameters, the common practice of not decaying them (they are few, and
     * shrinking a normalization scale or a shift toward 0 does not simplify
     * the function; e.g. BERT's {@code no_decay = ["bias", "LayerNorm.weight"]},
     * timm's {@code param_groups_weight_decay}). It excludes every parameter
     * named {@code bias} (of a Linear, a LayerNorm or a BatchNorm1d) and the
     * {@code weight} of every {@link LayerNorm} and {@link BatchNorm1d},
     * including the LayerNorm of a {@link FusedLinearLayerNormReLU}; what
     * remains are the Linear weights. For the worksheet's model
     * ({@link Models#discussion04}) it matches exactly {@code "0.weight"},
     * {@code "3.weight"}, {@code "6.weight"} and {@code "9.weight"}, fused or
     * not. State-dict names do not tell a Linear's {@code weight} from a
     * LayerNorm's, so the names are read from {@code model}'s structure now,
     * and the predicate answers for that model's names.
     *
     * @throws IllegalStateException when {@code model} is closed
     */
    public static Predicate<String> excludingBiasesAndNormalization(Module model) {
        if (model == null) {
            throw new IllegalArgumentException("model must not be null");
        }
        model.checkOpen();
        Set<String> decayed = new LinkedHashSet<>();
        model.forEachModule("", (prefix, m) -> {
            if (!(m instanceof LayerNorm || m instanceof BatchNorm1d)) {
                m.ownParameters().keySet().stream().filter(name -> !name.equals("bias"))
                        .forEach(name -> decayed.add(prefix + name));
            }
        });
        Set<String> names = Set.copyOf(decayed);
        return names::contains;
    }
}
