# Regenerate with: python3 java/src/test/resources/cross_entropy/make_fixture.py  (numpy; writes fixture.txt here)
"""Golden values for CrossEntropyTest, computed independently of nnfuse.

A plain numpy (float64) transcription of PyTorch's torch.nn.functional.cross_entropy
with class-index targets (aten/src/ATen/native/LossNLL.cpp): nll_loss of log_softmax,
and for label_smoothing > 0 the smoothing loss -sum_c w[c] * logp[c] reduced on its own
and combined as (1 - e) * nll + smooth * (e / C). MEAN divides both by the total weight
sum_i w[t_i] over the samples not ignored (their count without weights).

Format, one case after another: `case NAME`, `shape N C`, `reduction none|mean|sum`,
`ignore_index I`, `label_smoothing E`, `logits ...` (N*C row-major), `labels ...`,
`weight ...` or `weight none`, `expected ...` (N values for none, else one), `end`.
Floats are written as the shortest repr of the float32 (inputs) or float64 (expected) value.
"""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def log_softmax(x):
    x = x.astype(np.float64)
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def reduce(per_sample, reduction, total_weight):
    if reduction == "none":
        return per_sample
    s = per_sample.sum()
    if reduction == "sum":
        return np.array([s])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.array([s / total_weight])


def cross_entropy(logits, labels, weight, reduction, ignore_index, eps):
    n, c = logits.shape
    logp = log_softmax(logits)
    w = np.ones(c) if weight is None else weight.astype(np.float64)
    kept = labels != ignore_index
    safe = np.where(kept, labels, 0)
    nll = np.where(kept, -w[safe] * logp[np.arange(n), safe], 0.0)
    total_weight = w[safe][kept].sum()
    loss = reduce(nll, reduction, total_weight)
    if eps > 0:
        smooth = np.where(kept, -(logp * w).sum(axis=1), 0.0)
        loss = (1 - eps) * loss + reduce(smooth, reduction, total_weight) * (eps / c)
    return loss


def fmt(values):
    return " ".join("NaN" if np.isnan(v) else repr(float(v)) for v in values)


def case(out, name, logits, labels, weight, reduction, ignore_index=-100, eps=0.0):
    logits = logits.astype(np.float32)
    weight = None if weight is None else weight.astype(np.float32)
    eps = float(np.float32(eps))
    expected = cross_entropy(logits, labels, weight, reduction, ignore_index, eps)
    n, c = logits.shape
    out += [f"case {name}", f"shape {n} {c}", f"reduction {reduction}", f"ignore_index {ignore_index}",
            f"label_smoothing {eps!r}", "logits " + fmt(logits.ravel()), "labels " + " ".join(map(str, labels)),
            "weight " + ("none" if weight is None else fmt(weight)), "expected " + fmt(expected), "end"]


def main():
    rng = np.random.default_rng(20260404)
    out = []
    x = rng.normal(0, 2, (6, 5))
    y = rng.integers(0, 5, 6)
    w = rng.uniform(0.2, 3.0, 5)
    case(out, "mean", x, y, None, "mean")
    case(out, "sum", x, y, None, "sum")
    case(out, "none", x, y, None, "none")

    y_ign = y.copy()
    y_ign[[1, 4]] = -100
    case(out, "weighted_ignored_none", x, y_ign, w, "none")
    case(out, "weighted_ignored_mean", x, y_ign, w, "mean")
    case(out, "weighted_ignored_smoothed_mean", x, y_ign, w, "mean", eps=0.2)
    case(out, "weighted_ignored_smoothed_none", x, y_ign, w, "none", eps=0.2)
    case(out, "weighted_ignored_smoothed_sum", x, y_ign, w, "sum", eps=0.2)

    x2 = rng.normal(0, 1, (9, 7))
    y2 = rng.integers(0, 7, 9)
    y2[[0, 5]] = 2
    case(out, "class_as_ignore_index_smoothed_sum", x2, y2, None, "sum", ignore_index=2, eps=0.1)
    case(out, "full_smoothing_mean", x2, y2, rng.uniform(0.5, 2.0, 7), "mean", eps=1.0)

    big = 3000 + 1000 * rng.normal(0, 1, (5, 4))
    case(out, "logits_in_the_thousands", big, rng.integers(0, 4, 5), rng.uniform(0.5, 2.0, 4), "mean", eps=0.05)

    case(out, "all_ignored_mean_is_nan", x[:3], np.full(3, -100), None, "mean")
    case(out, "all_ignored_sum_is_zero", x[:3], np.full(3, -100), w, "sum", eps=0.3)

    (HERE / "fixture.txt").write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
