"""Writes pandas.csv with pandas' default to_csv formats: a tz-aware
column (ts, shown in UTC+02:00 to carry an offset), a naive one (naive,
UTC wall time) and a date one (day). Run with Debian's python3-pandas:
/usr/bin/python3 make_pandas.py"""
import pandas as pd

from instants import INSTANTS, utc

ts = pd.Series([pd.Timestamp(utc(t)) for _, t in INSTANTS])
df = pd.DataFrame({
    "id": [i for i, _ in INSTANTS],
    "ts": ts.dt.tz_convert("Etc/GMT-2"),
    "naive": ts.dt.tz_localize(None),
    "day": ts.dt.date,
})
df.to_csv("pandas.csv", index=False)
