#!/usr/bin/python3
"""Computes the expected output of jobs/sensor_daily.conf and
jobs/log_status.conf from their inputs with Python's datetime, re and csv
modules (not with pipeline):
  python3 tests/e2e/make_dates_expected.py jobs/data tests/e2e/expected
"""
import csv
import os
import re
import sys
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso(dt):
    s = dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        s += ("." + "%06d" % dt.microsecond).rstrip("0")
    return s + "Z"


def sensor_daily(data, out):
    groups = {}
    lo = datetime(2024, 2, 27, tzinfo=timezone.utc)
    hi = lo + timedelta(days=5)
    with open(os.path.join(data, "sensor_readings.csv")) as f:
        for r in csv.DictReader(f):
            ts = datetime.fromisoformat(r["ts"].replace("Z", "+00:00"))
            if not lo <= ts < hi:
                continue
            day = ts.astimezone(timezone.utc).date()
            g = groups.setdefault((r["sensor"], day), [])
            g.append((ts, int(r["temp_dc"]), r["humidity"]))
    with open(os.path.join(out, "sensor_daily.csv"), "w") as f:
        f.write("sensor,day,readings,humid,mean_temp,low,high,first,last,"
                "span_h\n")
        for (s, day), rows in sorted(groups.items()):
            temps = [t for _, t, _ in rows]
            first = min(ts for ts, _, _ in rows)
            last = max(ts for ts, _, _ in rows)
            hours = ((last - EPOCH) // timedelta(hours=1) -
                     (first - EPOCH) // timedelta(hours=1))
            f.write(f"{s},{day.isoformat()},{len(rows)},"
                    f"{sum(1 for _, _, h in rows if h != '')},"
                    f"{repr(sum(temps) / len(temps))},{min(temps)},"
                    f"{max(temps)},{iso(first)},{iso(last)},{hours}\n")


def log_status(data, out):
    groups = {}
    with open(os.path.join(data, "access_log.csv")) as f:
        for r in csv.DictReader(f):
            line = r["line"]
            if "GET /health " in line:
                continue
            when = datetime.strptime(re.search(r"\[([^]]+)\]", line)[1],
                                     "%d/%b/%Y:%H:%M:%S %z")
            status = re.search(r'" (\d{3}) ', line)[1]
            size = re.search(r" (\d+)$", line)
            path = re.search(r'"[A-Z]+ (/[^ ?]*)', line)[1]
            hour = when.astimezone(timezone.utc).replace(minute=0, second=0)
            g = groups.setdefault((hour, status[0] + "xx"), [0, None, 0])
            g[0] += 1
            if size:
                g[1] = (g[1] or 0) + int(size[1])
            g[2] += path.split("/")[1] == "api"
    with open(os.path.join(out, "log_status.csv"), "w") as f:
        f.write("hour,class,requests,sent,api\n")
        for (hour, cls), (n, sent, api) in sorted(groups.items()):
            f.write(f"{iso(hour)},{cls},{n},"
                    f"{'' if sent is None else sent},{api}\n")


if __name__ == "__main__":
    sensor_daily(sys.argv[1], sys.argv[2])
    log_status(sys.argv[1], sys.argv[2])
