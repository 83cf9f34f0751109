package nnfuse.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Assertions on exception messages: bad-input tests check that the message names the argument and the shapes. */
public final class Messages {
    private Messages() {}

    /** Asserts {@code e}'s message contains every one of {@code fragments}. */
    public static void assertMessage(Throwable e, String... fragments) {
        assertMessage(e.getMessage(), fragments);
    }

    /** Asserts {@code message} (e.g. nf_last_error's) contains every one of {@code fragments}. */
    public static void assertMessage(String message, String... fragments) {
        for (String f : fragments) {
            assertTrue(message.contains(f), () -> "message '" + message + "' should mention '" + f + "'");
        }
    }
}
