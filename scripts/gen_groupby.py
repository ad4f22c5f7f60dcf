#!/usr/bin/python3
"""Generate the db-benchmark 'groupby' table (G1_<N>_<K>_0_0) as CSV.

Columns: id1,id2,id3,id4,id5,id6,v1,v2,v3 with the distributions of the
h2oai/duckdb db-benchmark generator: id1,id2 = 'id%03d' of K; id3 = 'id%010d'
of N/K; id4,id5 = int of K; id6 = int of N/K; v1 in 1..5; v2 in 1..15;
v3 = uniform(0,100) rounded to 6 digits.  Written in blocks so memory stays small.

By default the draws come from numpy's PCG64 Generator (fast; the rows
gen_groupby_h5.py writes for the same N, K and seed).  numpy does not promise
that stream across its versions, so with --portable the draws come instead
from Python's random.random(), whose sequence for a given seed Python does
promise on every platform and version: use it when the exact rows matter
elsewhere (tests/e2e/test_dbbench.sh compares answers against values
committed in the repository).  It needs no numpy and is about as fast.

usage: scripts/gen_groupby.py N K OUT.csv [seed] [--portable]
"""
import random
import sys

HEADER = "id1,id2,id3,id4,id5,id6,v1,v2,v3\n"
ROW = "id%03d,id%03d,id%010d,%d,%d,%d,%d,%d,%.6f"


def write_numpy(f, n, k, nk, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    block = 1_000_000
    done = 0
    while done < n:
        m = min(block, n - done)
        id1 = rng.integers(1, k + 1, m)
        id2 = rng.integers(1, k + 1, m)
        id3 = rng.integers(1, nk + 1, m)
        id4 = rng.integers(1, k + 1, m)
        id5 = rng.integers(1, k + 1, m)
        id6 = rng.integers(1, nk + 1, m)
        v1 = rng.integers(1, 6, m)
        v2 = rng.integers(1, 16, m)
        v3 = np.round(rng.uniform(0, 100, m), 6)
        lines = [
            ROW % t
            for t in zip(id1.tolist(), id2.tolist(), id3.tolist(), id4.tolist(),
                         id5.tolist(), id6.tolist(), v1.tolist(), v2.tolist(), v3.tolist())
        ]
        f.write("\n".join(lines))
        f.write("\n")
        done += m


def write_portable(f, n, k, nk, seed):
    # Only random() itself and IEEE-754 double arithmetic: int(u * m) of a
    # u in [0, 1) is in 0..m-1, and '%.6f' rounds correctly on every platform.
    rnd = random.Random(seed).random
    block = 100_000
    done = 0
    while done < n:
        m = min(block, n - done)
        lines = [
            ROW % (1 + int(rnd() * k), 1 + int(rnd() * k), 1 + int(rnd() * nk),
                   1 + int(rnd() * k), 1 + int(rnd() * k), 1 + int(rnd() * nk),
                   1 + int(rnd() * 5), 1 + int(rnd() * 15), rnd() * 100)
            for _ in range(m)
        ]
        f.write("\n".join(lines))
        f.write("\n")
        done += m


def main():
    args = [a for a in sys.argv[1:] if a != "--portable"]
    portable = len(args) != len(sys.argv) - 1
    if len(args) not in (3, 4):
        sys.exit("usage: gen_groupby.py N K OUT.csv [seed] [--portable]")
    n, k, out = int(float(args[0])), int(args[1]), args[2]
    seed = int(args[3]) if len(args) > 3 else 108
    if n < 0 or k < 1:
        sys.exit("gen_groupby.py: N must be >= 0 and K >= 1")
    nk = max(1, n // k)
    with open(out, "w") as f:
        f.write(HEADER)
        (write_portable if portable else write_numpy)(f, n, k, nk, seed)


if __name__ == "__main__":
    main()
