package nnfuse.internal;

import nnfuse.NnfuseException;
import nnfuse.internal.bindings.nnfuse_h;

/**
 * Turns a native status code into an exception carrying the library's
 * thread-local message (nnfuse.h's error model).
 *
 * <p>The message is read right after the failing call on the same Java thread.
 * A virtual thread only changes carrier at a blocking operation, and there is
 * none between the two downcalls, so both run on the same OS thread.
 */
public final class Status {
    private Status() {}

    /** Throws {@link NnfuseException} when {@code status} is not {@code NF_OK}. */
    public static void check(int status) {
        if (status != 0) {
            throw failure(status);
        }
    }

    private static NnfuseException failure(int status) {
        String message = nnfuse_h.nf_last_error().getString(0);
        return new NnfuseException(status, message.isEmpty() ? "native call failed with status " + status : message);
    }
}
