package nnfuse.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Assertions on exception messages, which must name the argument and the shapes involved. */
public final class Messages {
    private Messages() {}

    /** Asserts that {@code e}'s message contains every fragment. */
    public static void assertMessage(Throwable e, String... fragments) {
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message '" + e.getMessage() + "' should mention '" + f + "'");
        }
    }
}
