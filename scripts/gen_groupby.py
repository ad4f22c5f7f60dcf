#!/usr/bin/python3
"""Generate the db-benchmark 'groupby' table (G1_<N>_<K>_0_0) as CSV.

Columns: id1,id2,id3,id4,id5,id6,v1,v2,v3 with the distributions of the
h2oai/duckdb db-benchmark generator: id1,id2 = 'id%03d' of K; id3 = 'id%010d'
of N/K; id4,id5 = int of K; id6 = int of N/K; v1 in 1..5; v2 in 1..15;
v3 = uniform(0,100) rounded to 6 digits.  Written in blocks so memory stays small.
usage: scripts/gen_groupby.py N K OUT.csv [seed]
"""
import sys
import numpy as np

def main():
    n, k, out = int(float(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 108
    rng = np.random.default_rng(seed)
    nk = max(1, n // k)
    block = 1_000_000
    with open(out, "w") as f:
        f.write("id1,id2,id3,id4,id5,id6,v1,v2,v3\n")
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
                "id%03d,id%03d,id%010d,%d,%d,%d,%d,%d,%.6f" % t
                for t in zip(id1.tolist(), id2.tolist(), id3.tolist(), id4.tolist(),
                             id5.tolist(), id6.tolist(), v1.tolist(), v2.tolist(), v3.tolist())
            ]
            f.write("\n".join(lines))
            f.write("\n")
            done += m

if __name__ == "__main__":
    main()
