package nnfuse.demo;

import java.io.PrintStream;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The table of an {@link Experiment} and the verdicts on the worksheet's
 * claims (section 5) judged from its numbers, with the rules stated in the
 * output:
 * <ul>
 *   <li>(a) the largest lambda drives theta toward 0: its {@code ||theta||} is
 *       below a tenth of every other run's, and its test accuracy is below
 *       twice chance (1 / classes: with theta = 0 every logit is equal);</li>
 *   <li>(b) a tiny lambda (at most {@value #TINY}) recovers theta*: it ends
 *       within 5% of theta* ({@code ||theta - theta*|| / ||theta*||}), and its
 *       accuracies within 2 points of theta*'s;</li>
 *   <li>(c) for each other positive lambda, against theta* (lambda = 0):
 *       i. a smaller norm; ii. a training accuracy lower, by at most 25 points
 *       ("a little worse"); iii. a test accuracy higher by more than two
 *       standard errors of the difference of two accuracies on this test set
 *       ({@code sqrt(p1 (1 - p1) / n + p2 (1 - p2) / n)}), so that a gain
 *       within sampling noise is not taken for a confirmation.</li>
 * </ul>
 */
final class Report {
    /** The largest lambda that counts as "very small" for claim (b). */
    static final double TINY = 1e-5;
    static final String CONFIRMED = "confirmed";
    static final String NOT_CONFIRMED = "not confirmed by this run";

    private static final double NEAR_ZERO_NORM_RATIO = 0.1;
    private static final double NEAR_CHANCE_FACTOR = 2;
    private static final double SAME_THETA = 0.05;
    private static final double SAME_ACCURACY = 0.02;
    private static final double A_LITTLE_WORSE = 0.25;
    private static final double STANDARD_ERRORS = 2;

    private Report() {}

    /** One row per run: lambda, {@code ||theta||_2}, training and test accuracy, the final training objective. */
    static void table(PrintStream out, List<Experiment.Run> runs) {
        out.println("      lambda   ||theta||_2   train acc   test acc   final loss (CE + lambda ||theta||^2)");
        for (Experiment.Run r : runs) {
            out.printf(Locale.ROOT, "  %10s  %12.4f  %9.1f%%  %8.1f%%   %.4f%n", Experiment.format(r.lambda()),
                    r.norm(), 100 * r.trainAccuracy(), 100 * r.testAccuracy(), r.finalLoss());
        }
    }

    /** The verdicts on claims (a) to (c), each "confirmed" or "not confirmed by this run" with its numbers. */
    static void verdicts(PrintStream out, List<Experiment.Run> runs, int classes, long testSize) {
        Optional<Experiment.Run> star = runs.stream().filter(r -> r.lambda() == 0).findFirst();
        Experiment.Run largest = runs.stream().max(Comparator.comparingDouble(Experiment.Run::lambda)).orElseThrow();
        out.println("Verdicts, judged from the numbers above:");
        if (largest.lambda() > 0 && runs.size() > 1) {
            claimA(out, runs, largest, classes);
        } else {
            out.println("(a) needs a positive lambda and another run to compare with: not judged.");
        }
        if (star.isEmpty()) {
            out.println("(b), (c) need the unregularized run theta* (lambda = 0): not judged.");
            return;
        }
        List<Experiment.Run> tiny = runs.stream().filter(r -> r.lambda() > 0 && r.lambda() <= TINY).toList();
        if (tiny.isEmpty()) {
            out.printf(Locale.ROOT, "(b) the lambda = 0 row is theta* by definition; no lambda <= %s was run to"
                    + " show that a tiny one recovers it: not judged.%n", Experiment.format(TINY));
        }
        tiny.forEach(r -> claimB(out, r, star.get()));
        runs.stream().filter(r -> r.lambda() > TINY && r != largest)
                .forEach(r -> claimC(out, r, star.get(), testSize));
    }

    private static void claimA(PrintStream out, List<Experiment.Run> runs, Experiment.Run large, int classes) {
        double othersMin = runs.stream().filter(r -> r != large).mapToDouble(Experiment.Run::norm).min()
                .orElseThrow();
        double chance = 1.0 / classes;
        boolean small = large.norm() < NEAR_ZERO_NORM_RATIO * othersMin;
        boolean nearChance = large.testAccuracy() < NEAR_CHANCE_FACTOR * chance;
        out.printf(Locale.ROOT, "(a) a very large lambda (%s) drives theta toward 0: %s (||theta|| = %.4g, %s a"
                + " tenth of the smallest other norm, %.4g; test accuracy %.1f%%, %s twice chance, 2 x %.1f%%)%n",
                Experiment.format(large.lambda()), verdict(small && nearChance), large.norm(),
                small ? "below" : "not below", othersMin, 100 * large.testAccuracy(),
                nearChance ? "below" : "not below", 100 * chance);
    }

    private static void claimB(PrintStream out, Experiment.Run tiny, Experiment.Run star) {
        double distance = Experiment.relativeDistance(tiny.theta(), star.theta());
        double trainGap = Math.abs(tiny.trainAccuracy() - star.trainAccuracy());
        double testGap = Math.abs(tiny.testAccuracy() - star.testAccuracy());
        boolean same = distance < SAME_THETA && trainGap <= SAME_ACCURACY && testGap <= SAME_ACCURACY;
        out.printf(Locale.ROOT, "(b) a tiny lambda (%s) recovers theta* (the lambda = 0 row): %s"
                + " (||theta - theta*|| / ||theta*|| = %.2f%%, limit 5%%; train %.1f%% vs %.1f%%, test %.1f%% vs"
                + " %.1f%%, limit 2 points)%n", Experiment.format(tiny.lambda()), verdict(same), 100 * distance,
                100 * tiny.trainAccuracy(), 100 * star.trainAccuracy(), 100 * tiny.testAccuracy(),
                100 * star.testAccuracy());
    }

    private static void claimC(PrintStream out, Experiment.Run r, Experiment.Run star, long testSize) {
        out.printf(Locale.ROOT, "(c) a moderate lambda (%s) against theta* (lambda = 0):%n",
                Experiment.format(r.lambda()));
        out.printf(Locale.ROOT, "    i.   ||theta|| < ||theta*||: %s (%.4f vs %.4f)%n",
                verdict(r.norm() < star.norm()), r.norm(), star.norm());
        double trainDrop = star.trainAccuracy() - r.trainAccuracy();
        out.printf(Locale.ROOT, "    ii.  a little worse on the training set: %s (%.1f%% vs %.1f%%, %+.1f points;"
                + " \"a little\": lower by at most 25 points)%n",
                verdict(trainDrop > 0 && trainDrop <= A_LITTLE_WORSE), 100 * r.trainAccuracy(),
                100 * star.trainAccuracy(), -100 * trainDrop);
        double gain = r.testAccuracy() - star.testAccuracy();
        double se = Math.sqrt(binomialVariance(r.testAccuracy(), testSize)
                + binomialVariance(star.testAccuracy(), testSize));
        out.printf(Locale.ROOT, "    iii. better on the test set: %s (%.1f%% vs %.1f%%, %+.1f points; needs more"
                + " than 2 standard errors = %.1f points on %d test samples)%n",
                verdict(gain > STANDARD_ERRORS * se), 100 * r.testAccuracy(), 100 * star.testAccuracy(), 100 * gain,
                100 * STANDARD_ERRORS * se, testSize);
    }

    private static double binomialVariance(double p, long n) {
        return p * (1 - p) / n;
    }

    private static String verdict(boolean holds) {
        return holds ? CONFIRMED : NOT_CONFIRMED;
    }
}
