#!/usr/bin/python3
"""Write the db-benchmark group-by table (G1_<N>_<K>_0_0) as HDF5.

The rows are those gen_groupby.py writes as CSV for the same N, K and seed
(the same random draws in the same order), in one of the two layouts that
scientific HDF5 files use for tables:

  columns   one 1-D chunked dataset per column under /
  compound  one 1-D chunked dataset /table of a packed compound type

Columns id4, id5, id6 are int32; v1, v2 int8; v3 float64. With --strings
the table also has id1, id2 ('id%03d') and id3 ('id%010d') as fixed-length
ASCII strings, as in the CSV.

With --zstd LEVEL every dataset is compressed with the HDF5 zstd filter
(id 32015, as hdf5plugin and pipeline write it). h5py must find that
filter: pip's hdf5plugin (Debian's python3-hdf5plugin has no zstd), or a
filter plugin on HDF5_PLUGIN_PATH (scripts/bench_hdf5_scan.sh builds one).

Needs only Debian packages: python3-numpy and python3-h5py.

usage: gen_groupby_h5.py N K OUT.h5 [columns|compound] [seed] [--strings]
                         [--zstd LEVEL]
"""
import sys

import argparse

import h5py
import numpy as np

BLOCK = 1_000_000


def row_type(strings):
    fields = []
    if strings:
        fields += [("id1", "S5"), ("id2", "S5"), ("id3", "S12")]
    fields += [("id4", "<i4"), ("id5", "<i4"), ("id6", "<i4"),
               ("v1", "i1"), ("v2", "i1"), ("v3", "<f8")]
    return np.dtype(fields)


def draw(rng, m, k, nk, dt):
    """One block of rows, drawing as gen_groupby.py does."""
    rec = np.empty(m, dtype=dt)
    id1 = rng.integers(1, k + 1, m)
    id2 = rng.integers(1, k + 1, m)
    id3 = rng.integers(1, nk + 1, m)
    if "id1" in dt.names:
        rec["id1"] = np.char.mod("id%03d", id1).astype("S5")
        rec["id2"] = np.char.mod("id%03d", id2).astype("S5")
        rec["id3"] = np.char.mod("id%010d", id3).astype("S12")
    rec["id4"] = rng.integers(1, k + 1, m)
    rec["id5"] = rng.integers(1, k + 1, m)
    rec["id6"] = rng.integers(1, nk + 1, m)
    rec["v1"] = rng.integers(1, 6, m)
    rec["v2"] = rng.integers(1, 16, m)
    rec["v3"] = np.round(rng.uniform(0, 100, m), 6)
    return rec


ZSTD = 32015


def zstd_filter(level):
    """h5py's keywords for the zstd filter, or exit with how to get it."""
    if level is None:
        return {}
    try:
        import hdf5plugin
        if hasattr(hdf5plugin, "Zstd") and h5py.h5z.filter_avail(ZSTD):
            return dict(hdf5plugin.Zstd(clevel=level))
    except ImportError:
        pass
    if not h5py.h5z.filter_avail(ZSTD):
        sys.exit("gen_groupby_h5.py: no HDF5 zstd filter (id 32015): "
                 "pip install hdf5plugin, or put a filter plugin on "
                 "HDF5_PLUGIN_PATH")
    return {"compression": ZSTD, "compression_opts": (level,)}


def create(f, layout, n, dt, filt):
    if layout == "columns":
        return {name: f.create_dataset(name, (n,), dtype=dt.fields[name][0],
                                       chunks=(max(1, min(n, 262144)),),
                                       **filt)
                for name in dt.names}
    return f.create_dataset("table", (n,), dtype=dt,
                            chunks=(max(1, min(n, 65536)),), **filt)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("n", type=float, help="rows, e.g. 1e7")
    p.add_argument("k", type=int, help="groups per id column")
    p.add_argument("out", help="output .h5 file")
    p.add_argument("layout", nargs="?", default="columns",
                   choices=("columns", "compound"))
    p.add_argument("seed", nargs="?", type=int, default=108)
    p.add_argument("--strings", action="store_true",
                   help="add id1, id2, id3 as fixed-length strings")
    p.add_argument("--zstd", type=int, metavar="LEVEL",
                   help="compress with the zstd filter at this level")
    a = p.parse_args()
    n = int(a.n)
    nk = max(1, n // a.k)
    dt = row_type(a.strings)
    rng = np.random.default_rng(a.seed)
    filt = zstd_filter(a.zstd)
    with h5py.File(a.out, "w") as f:
        ds = create(f, a.layout, n, dt, filt)
        done = 0
        while done < n:
            m = min(BLOCK, n - done)
            rec = draw(rng, m, a.k, nk, dt)
            if a.layout == "columns":
                for name in dt.names:
                    ds[name][done:done + m] = rec[name]
            else:
                ds[done:done + m] = rec
            done += m


if __name__ == "__main__":
    main()
