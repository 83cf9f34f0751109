/** The nnfuse command line: {@code ./nnfuse demo} and {@code ./nnfuse info}. */
module nnfuse.demo {
    requires nnfuse;
}
