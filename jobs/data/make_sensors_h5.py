#!/usr/bin/python3
"""Writes sensors.h5, the small HDF5 file the example jobs read.

  /readings/station  fixed-length ASCII strings (S8)
  /readings/hour     uint8
  /readings/temp     float32 (values exact in float32)
  /readings/rain     float64, mm (multiples of 0.25: sums are exact)
  /readings/count    int16
  /readings/ok       bool (h5py's enum)
  /stations          compound: name (variable-length str), lat, lon (f8),
                     elevation (int32), active (bool)

Deterministic: no random numbers, no timestamps, so the file is the same
byte for byte on every run. Run with Debian's python (python3-h5py):
  /usr/bin/python3 jobs/data/make_sensors_h5.py jobs/data/sensors.h5
"""
import sys

import h5py
import numpy as np

STATIONS = ["north", "south", "east", "west"]


def readings():
    station, hour, temp, rain, count, ok = [], [], [], [], [], []
    for s, name in enumerate(STATIONS):
        for h in range(24):
            station.append(name.encode())
            hour.append(h)
            # a daily curve, coldest at 4 and warmest at 16, in 0.25 steps
            temp.append(4.0 * s + 10.0 - abs(h - 16) * 0.75 + (h % 3) * 0.25)
            rain.append(((h * 7 + s * 5) % 11) * 0.25 if h % 4 else 0.0)
            count.append(60 - (h * 13 + s) % 9)
            ok.append((h + s) % 7 != 0)
    return station, hour, temp, rain, count, ok


def main(out):
    station, hour, temp, rain, count, ok = readings()
    with h5py.File(out, "w") as f:
        g = f.create_group("readings")
        opts = dict(track_times=False)
        g.create_dataset("station", data=np.array(station, dtype="S8"), **opts)
        g.create_dataset("hour", data=np.array(hour, dtype="u1"), **opts)
        g.create_dataset("temp", data=np.array(temp, dtype="f4"), **opts)
        g.create_dataset("rain", data=np.array(rain, dtype="f8"), **opts)
        g.create_dataset("count", data=np.array(count, dtype="i2"), **opts)
        g.create_dataset("ok", data=np.array(ok, dtype=bool), **opts)
        g.attrs["units"] = "temp: degC, rain: mm"
        st = np.dtype([("name", h5py.string_dtype()), ("lat", "f8"),
                       ("lon", "f8"), ("elevation", "i4"), ("active", "?")])
        rows = [("north", 69.65, 18.96, 10, True),
                ("south", 58.15, 8.0, 22, True),
                ("east", 59.43, 10.66, 35, False),
                ("west", 60.39, 5.32, 12, True)]
        f.create_dataset("stations", data=np.array(rows, dtype=st), **opts)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sensors.h5")
