package nnfuse.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Assertions on exception messages: bad input must be reported naming the argument and the shapes. */
public final class Messages {
    private Messages() {}

    /** Asserts that the message of {@code e} contains every fragment. */
    public static void assertMessage(Throwable e, String... fragments) {
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message '" + e.getMessage() + "' should mention '" + f + "'");
        }
    }
}
