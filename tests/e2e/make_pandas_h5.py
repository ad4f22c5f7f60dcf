"""Writes, in the current folder, the HDF5 files of test_hdf5.sh's pandas
cases as pandas 1.5, PyTables 3.7 and h5py 3.7 write them (Debian 12's
python3-pandas, python3-tables, python3-h5py), and beside each the CSV
pipeline must write reading it, computed from what pandas reads back
(read_hdf(...).reset_index())."""
import warnings

import h5py
import numpy as np
import pandas as pd
import tables

warnings.simplefilter("ignore")


def cell(v):
    if v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        v = v.tz_convert("UTC") if v.tzinfo else v
        text = v.strftime("%Y-%m-%dT%H:%M:%S")
        if v.microsecond:
            text += ("." + "%06d" % v.microsecond).rstrip("0")
        return text + "Z"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(v)


def quoted(text):
    """As pipeline writes a CSV field: an empty string is "" (an empty
    field is NULL); quotes around text holding , " or a line end."""
    if text == "" or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def expect(df, name):
    with open(name, "w") as f:
        f.write(",".join(quoted(str(c)) for c in df.columns) + "\n")
        for row in df.itertuples(index=False):
            f.write(",".join("" if cell(v) is None else quoted(cell(v))
                             for v in row) + "\n")


n = 7
nums = pd.DataFrame({
    "id": np.arange(1, n + 1, dtype=np.int64),
    "x": np.linspace(-1.5, 4.25, n),
    "flag": np.array([True, False, True, True, False, False, True]),
    "small": np.arange(n, dtype=np.int32) * -3,
    "y": np.arange(n, dtype=np.int64) * 10,
    "u8": np.arange(n, dtype=np.uint8) + 250 - n,
    "f32": (np.arange(n, dtype=np.float32) / 4),
}, index=pd.Index(np.arange(n, dtype=np.int64) * 100 + 5))
nums.to_hdf("fixed.h5", key="df", mode="w", format="fixed")
expect(pd.read_hdf("fixed.h5", "df").reset_index(), "fixed.csv")

mixed = nums.copy()
mixed["name"] = ["a", "bb", "", "dddd", "e,f", "g", "hh"]
mixed["température"] = np.arange(n, dtype=np.float64) + 0.5
mixed["名"] = np.arange(n, dtype=np.int64) * 7
mixed.to_hdf("fixed_objects.h5", key="df", mode="w", format="fixed")
mixed.to_hdf("table.h5", key="frames/mixed", mode="w", format="table")
expect(pd.read_hdf("table.h5", "frames/mixed").reset_index(), "table.csv")
mixed.to_hdf("table_dc.h5", key="df", mode="w", format="table",
             data_columns=True, index=False)
expect(pd.read_hdf("table_dc.h5", "df").reset_index(), "table_dc.csv")

times = pd.DataFrame({
    "t": pd.to_datetime(["2024-03-05 10:15:30.25", None,
                         "1969-12-31 23:59:59.5", "1900-03-01 12:00"]),
    "tz": pd.to_datetime(["2024-03-05 12:15:30.250001+02:00",
                          "2000-01-01T00:00:00Z", None,
                          "2038-01-19T03:14:08Z"], utc=True),
    "v": [1, 2, 3, 4],
}, index=pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-03",
                           "2020-02-29"]))
for fmt in ("fixed", "table"):
    times.to_hdf("times_%s.h5" % fmt, key="df", mode="w", format=fmt)
    expect(pd.read_hdf("times_%s.h5" % fmt, "df").reset_index(),
           "times_%s.csv" % fmt)

with h5py.File("enum.h5", "w") as f:
    colour = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42},
                             basetype="i1")
    f.create_dataset("colour", data=np.array([0, 42, 1, 1, 0], dtype="i1"),
                     dtype=colour)
    f.create_dataset("n", data=np.arange(5, dtype=np.int64))
with open("enum.csv", "w") as f:
    f.write("colour,n\nRED,0\nBLUE,1\nGREEN,2\nGREEN,3\nRED,4\n")

with tables.open_file("bits.h5", "w") as f:
    f.create_array("/", "flags", np.array([True, False, False, True]))
    f.create_array("/", "v", np.arange(4, dtype=np.int64))
with open("bits.csv", "w") as f:
    f.write("flags,v\ntrue,0\nfalse,1\nfalse,2\ntrue,3\n")
