/**
 * The nnfuse command line: {@code ./nnfuse demo}, {@code train} and {@code info}.
 * Its third-party libraries (a progress bar, charts) stay out of the library
 * module {@code nnfuse}, which has no runtime dependencies.
 */
module nnfuse.demo {
    requires nnfuse;
    requires java.desktop;
    requires me.tongfei.progressbar;
    requires org.jfree.jfreechart;
}
