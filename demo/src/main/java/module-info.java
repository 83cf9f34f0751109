/**
 * The nnfuse command line: {@code ./nnfuse demo}, {@code train} and {@code info}.
 * Its third-party libraries (a progress bar, charts) stay out of the library
 * module {@code nnfuse}, which has no runtime dependencies.
 */
// JFreeChart 1.5.6 has no module descriptor, only the stable Automatic-Module-Name org.jfree.jfreechart.
@SuppressWarnings("requires-automatic")
module nnfuse.demo {
    requires nnfuse;
    requires java.desktop;
    requires me.tongfei.progressbar;
    requires org.jfree.jfreechart;
}
