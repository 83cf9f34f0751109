# Regenerate with: python3 java/src/test/resources/nn/make_fixture.py  (numpy only; writes next to this file)
"""Fixture for WorksheetModelTest: the Discussion 04 model run by plain numpy.

The model is PyTorch's
    nn.Sequential(Linear(52, 128), LayerNorm(128), ReLU(), Linear(128, 256), LayerNorm(256), ReLU(),
                  Linear(256, 20), LayerNorm(20), ReLU(), Linear(20, 1000))
and the weights carry its state_dict names ("0.weight", "1.bias", ...). The forward pass is computed here in
float64 from the float32 weights and input, independently of nnfuse, and rounded once to float32.

Writes weights.npz (the state dict), input.npy (float32 [4, 52]) and expected.npy (float32 [4, 1000]).
"""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WIDTHS = [52, 128, 256, 20, 1000]
BATCH = 4
EPS = 1e-5


def make_weights(rng):
    """PyTorch's default Linear init range U(-1/sqrt(in), 1/sqrt(in)); LayerNorm scale and shift moved off 1 and 0."""
    state = {}
    index = 0
    for j in range(len(WIDTHS) - 1):
        n_in, n_out = WIDTHS[j], WIDTHS[j + 1]
        bound = 1 / np.sqrt(n_in)
        state[f"{index}.weight"] = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
        state[f"{index}.bias"] = rng.uniform(-bound, bound, n_out).astype(np.float32)
        index += 1
        if j < len(WIDTHS) - 2:
            state[f"{index}.weight"] = (1 + rng.uniform(-0.5, 0.5, n_out)).astype(np.float32)
            state[f"{index}.bias"] = rng.uniform(-0.5, 0.5, n_out).astype(np.float32)
            index += 2  # the LayerNorm, then the parameterless ReLU
    return state


def linear(x, weight, bias):
    return x @ weight.astype(np.float64).T + bias.astype(np.float64)


def layer_norm(x, gamma, beta):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * gamma.astype(np.float64) + beta.astype(np.float64)


def forward(state, x):
    h = x.astype(np.float64)
    blocks = len(WIDTHS) - 2
    for j in range(blocks):
        k = 3 * j
        h = linear(h, state[f"{k}.weight"], state[f"{k}.bias"])
        h = layer_norm(h, state[f"{k + 1}.weight"], state[f"{k + 1}.bias"])
        h = np.maximum(h, 0)
    return linear(h, state[f"{3 * blocks}.weight"], state[f"{3 * blocks}.bias"])


def main():
    rng = np.random.default_rng(20260404)
    state = make_weights(rng)
    x = (0.5 + 2 * rng.standard_normal((BATCH, WIDTHS[0]))).astype(np.float32)
    np.savez(HERE / "weights.npz", **state)
    np.save(HERE / "input.npy", x)
    np.save(HERE / "expected.npy", forward(state, x).astype(np.float32))


if __name__ == "__main__":
    main()
