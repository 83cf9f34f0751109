package nnfuse;

/**
 * A failure reported by the native library: its status code and the message it
 * recorded (nnfuse.h's error model). Argument errors are caught in Java first and
 * raised as {@link IllegalArgumentException} or {@link IllegalStateException};
 * this exception means the native side refused or failed. Immutable once thrown.
 */
public final class NnfuseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The native status code ({@code NF_ERR_*} in nnfuse.h). */
    private final int status;

    public NnfuseException(int status, String message) {
        super(message);
        this.status = status;
    }

    public NnfuseException(String message, Throwable cause) {
        super(message, cause);
        this.status = 0;
    }

    /** The native status code, or 0 when the failure happened before any native call (e.g. loading). */
    public int status() {
        return status;
    }
}
