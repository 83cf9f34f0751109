package nnfuse.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Locale;

/**
 * The one tolerance policy of the test suite: {@code |actual - expected| <= atol + rtol * |expected|}
 * element-wise, with the reference computed in double. Reductions over {@code n}
 * terms scale both bounds by {@code sqrt(n)} (the growth of rounding error in a
 * sum of n float terms of random sign, with a safety factor in the base
 * constants). Integer outputs and masks are compared exactly with
 * {@link #assertExact}. A failure names the index, both values and the worst
 * difference; every comparison also records its worst error in {@link ErrorReport}.
 *
 * <p>Immutable and thread-safe.
 */
public record Tolerance(double atol, double rtol) {

    /** An element-wise tolerance. */
    public static Tolerance of(double atol, double rtol) {
        return new Tolerance(atol, rtol);
    }

    /** This tolerance widened for a value that is a reduction over {@code n} terms. */
    public Tolerance forReduction(long n) {
        double s = Math.sqrt(Math.max(1, n));
        return new Tolerance(atol * s, rtol * s);
    }

    /** Asserts every element is within tolerance; {@code what} names the quantity in messages and the report. */
    public void assertClose(String what, double[] expected, float[] actual) {
        double[] widened = new double[actual.length];
        for (int i = 0; i < actual.length; i++) {
            widened[i] = actual[i];
        }
        assertClose(what, expected, widened);
    }

    /** As {@link #assertClose(String, double[], float[])}, for outputs computed in double. */
    public void assertClose(String what, double[] expected, double[] actual) {
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " elements, got " + actual.length);
        }
        int firstBad = -1;
        int worst = -1;
        double worstExcess = Double.NEGATIVE_INFINITY;
        double worstAbs = 0;
        double worstRatio = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            if (Double.isNaN(e) || Double.isNaN(a)) {
                if (Double.isNaN(e) != Double.isNaN(a) && firstBad < 0) {
                    firstBad = i;
                }
                continue;
            }
            if (Double.isInfinite(e) || Double.isInfinite(a)) {
                if (e != a && firstBad < 0) {
                    firstBad = i;
                }
                continue;
            }
            double diff = Math.abs(a - e);
            double allowed = atol + rtol * Math.abs(e);
            worstAbs = Math.max(worstAbs, diff);
            worstRatio = Math.max(worstRatio, allowed > 0 ? diff / allowed : diff > 0 ? Double.POSITIVE_INFINITY : 0);
            if (diff - allowed > worstExcess) {
                worstExcess = diff - allowed;
                worst = i;
            }
            if (diff > allowed && firstBad < 0) {
                firstBad = i;
            }
        }
        ErrorReport.record(what, worstAbs, worstRatio, this);
        if (firstBad >= 0) {
            String worstText = worst < 0 ? "" : String.format(Locale.ROOT,
                    "; worst at index %d: expected %.9g, actual %.9g, |diff| %.3g", worst, expected[worst],
                    actual[worst], Math.abs(actual[worst] - expected[worst]));
            fail(String.format(Locale.ROOT, "%s: index %d: expected %.9g, actual %.9g, |diff| %.3g > %.3g (atol %.1e + rtol %.1e * |expected|)%s",
                    what, firstBad, expected[firstBad], actual[firstBad],
                    Math.abs(actual[firstBad] - expected[firstBad]), atol + rtol * Math.abs(expected[firstBad]),
                    atol, rtol, worstText));
        }
    }

    /** Exact comparison for integer outputs and masks. */
    public static void assertExact(String what, long[] expected, long[] actual) {
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " elements, got " + actual.length);
        }
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                fail(what + ": index " + i + ": expected " + expected[i] + ", actual " + actual[i]);
            }
        }
        ErrorReport.record(what, 0, 0, null);
    }

    /**
     * Bit-for-bit comparison of float outputs (determinism, backends that must agree exactly), except that a NaN
     * matches any NaN: IEEE 754 leaves the payload of a NaN result to the hardware, and NVIDIA GPUs return one
     * canonical NaN where x86 propagates the operand's.
     */
    public static void assertBitIdentical(String what, float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " elements, got " + actual.length);
        }
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
                fail(String.format(Locale.ROOT, "%s: index %d differs: %.9g (0x%08x) vs %.9g (0x%08x)", what, i,
                        expected[i], Float.floatToRawIntBits(expected[i]), actual[i],
                        Float.floatToRawIntBits(actual[i])));
            }
        }
    }

    /** As {@link #assertBitIdentical(String, float[], float[])}, for double outputs. */
    public static void assertBitIdentical(String what, double[] expected, double[] actual) {
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " elements, got " + actual.length);
        }
        for (int i = 0; i < expected.length; i++) {
            if (Double.doubleToLongBits(expected[i]) != Double.doubleToLongBits(actual[i])) {
                fail(String.format(Locale.ROOT, "%s: index %d differs: %.17g (0x%016x) vs %.17g (0x%016x)", what, i,
                        expected[i], Double.doubleToRawLongBits(expected[i]), actual[i],
                        Double.doubleToRawLongBits(actual[i])));
            }
        }
    }
}
