# Regenerate with: python3 java/src/test/resources/npy/make_fixtures.py  (numpy >= 1.17; writes next to this file)
"""Fixtures for NpyTest. NpyTest types the expected values from the definitions below."""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def save(name, arr):
    np.save(HERE / name, arr)


def main():
    f32 = np.arange(6, dtype=np.float32).reshape(2, 3)
    f32[0, 0] = -0.0
    f32[1, 1] = 1e-38
    f32[1, 2] = 3.4e38
    save("f32_2x3.npy", f32)

    save("f64_4.npy", np.array([0.1, 1 / 3, 2 / 3, -1e-7], dtype=np.float64))

    with open(HERE / "f32_v2.npy", "wb") as f:
        np.lib.format.write_array(f, np.arange(4, dtype=np.float32).reshape(2, 2) * 0.5, version=(2, 0))

    save("scalar_f32.npy", np.array(2.5, dtype=np.float32))
    save("i64_3.npy", np.arange(3, dtype=np.int64))
    save("big_endian.npy", np.arange(3, dtype=">f4"))
    save("fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))

    params = {
        "fc1.weight": np.arange(6, dtype=np.float32).reshape(3, 2) * 0.25 - 0.5,
        "fc1.bias": np.array([0.1, -0.2, 0.3], dtype=np.float32),
    }
    np.savez(HERE / "params.npz", **params)
    np.savez_compressed(HERE / "params_compressed.npz", **params)


if __name__ == "__main__":
    main()
