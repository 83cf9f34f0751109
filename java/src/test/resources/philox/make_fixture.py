# Regenerate with: python3 java/src/test/resources/philox/make_fixture.py  (numpy; writes next to this file)
"""Fixture for Philox4x32Test: curand() draws of the Philox4x32-10 stream, from a
from-scratch numpy Philox (Random123 include/Random123/philox.h, Salmon et al. 2011)
driven by a port of cuRAND's curandStatePhilox4_32_10 state machine (curand_kernel.h:
curand_init, skipahead, Philox_State_Incr, curand), not by the index arithmetic the
Java class uses, so the file checks the stream layout as well as the block function.
"""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

MASK32 = np.uint64(0xFFFFFFFF)
MULTIPLIERS = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
WEYL = (0x9E3779B9, 0xBB67AE85)

# Random123 tests/kat_vectors lines 27-29 (github.com/DEShawResearch/random123 @ 9545ff64).
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]

# (seed, offset, count): curand_init(seed, subsequence=0, offset) then `count` curand() calls.
BLOCKS = [
    (42, 0, 64),
    (0x0123456789ABCDEF, 2**32 - 2, 16),
    (0x0123456789ABCDEF, 2**34 - 2, 16),
]


def philox4x32_10(counters, key):
    """Philox4x32-10 of each row of counters (uint64 array [n, 4] holding 32-bit words)."""
    x = [counters[:, i].astype(np.uint64) for i in range(4)]
    for r in range(10):
        k0 = np.uint64((key[0] + r * WEYL[0]) & 0xFFFFFFFF)
        k1 = np.uint64((key[1] + r * WEYL[1]) & 0xFFFFFFFF)
        prod0 = MULTIPLIERS[0] * x[0]
        prod1 = MULTIPLIERS[1] * x[2]
        x = [
            (prod1 >> np.uint64(32)) ^ x[1] ^ k0,
            prod1 & MASK32,
            (prod0 >> np.uint64(32)) ^ x[3] ^ k1,
            prod0 & MASK32,
        ]
    return np.stack(x, axis=1)


class CurandPhilox:
    """curandStatePhilox4_32_10_t with subsequence 0: ctr, key, output, STATE."""

    def __init__(self, seed, offset):
        self.ctr = [0, 0, 0, 0]
        self.key = (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF)
        self.state = offset & 3
        self._incr(offset // 4)
        self.output = self._block()

    def _incr(self, n):
        carry = n
        for i in range(4):
            total = self.ctr[i] + (carry & 0xFFFFFFFF)
            self.ctr[i] = total & 0xFFFFFFFF
            carry = (carry >> 32) + (total >> 32)

    def _block(self):
        return [int(v) for v in philox4x32_10(np.array([self.ctr], dtype=np.uint64), self.key)[0]]

    def next(self):
        value = self.output[self.state]
        self.state += 1
        if self.state == 4:
            self._incr(1)
            self.output = self._block()
            self.state = 0
        return value


def main():
    for ctr, key, expected in KAT:
        got = tuple(int(v) for v in philox4x32_10(np.array([ctr], dtype=np.uint64), key)[0])
        assert got == expected, (ctr, key, [hex(v) for v in got])

    lines = []
    for seed, offset, count in BLOCKS:
        lines.append(f"# seed={seed} offset={offset} count={count}")
        generator = CurandPhilox(seed, offset)
        lines.extend(str(generator.next()) for _ in range(count))
    (HERE / "draws_seed42.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
