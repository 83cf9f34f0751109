/**
 * nnfuse: fused neural-network layer kernels in C and CUDA, called through the
 * Foreign Function &amp; Memory API, with tensors in off-heap memory.
 *
 * <p>Exports the public API ({@code nnfuse}), the module layer
 * ({@code nnfuse.nn}), the counter-based generator ({@code nnfuse.random}) and
 * the pure-Java reference kernels ({@code nnfuse.reference}). Bindings and the
 * library loader stay internal.
 */
module nnfuse {
    exports nnfuse;
    exports nnfuse.nn;
    exports nnfuse.random;
    exports nnfuse.reference;
}
