#!/usr/bin/python3
"""Writes the two small inputs of the date and text example jobs:

  sensor_readings.csv  three sensors, one reading an hour from 2024-02-26
                       to 2024-03-03 (across a leap day): sensor, ts,
                       temp_dc (tenths of a degree), humidity (%, some
                       missing). Sensor c reports local time, +01:00.
  access_log.csv       one column, line: web server log lines in the
                       common log format with a time zone, some health
                       checks, some responses without a body ("-").

Deterministic (a fixed linear congruential generator), so the files are
the same byte for byte on every run:
  python3 jobs/data/make_dates_data.py jobs/data
"""
import os
import sys
from datetime import datetime, timedelta, timezone

STATE = [20240229]


def rand(n):
    STATE[0] = (STATE[0] * 1103515245 + 12345) % 2**31
    return STATE[0] % n


def sensors(path):
    start = datetime(2024, 2, 26, tzinfo=timezone.utc)
    plus1 = timezone(timedelta(hours=1))
    with open(path, "w") as f:
        f.write("sensor,ts,temp_dc,humidity\n")
        for h in range(7 * 24):
            t = start + timedelta(hours=h)
            for s in "abc":
                temp = 40 + 10 * "abc".index(s) + rand(120) - (h % 24 < 6) * 30
                hum = "" if rand(10) == 0 else str(30 + rand(60))
                if s == "c":
                    ts = t.astimezone(plus1).strftime("%Y-%m-%d %H:%M:%S%z")
                    ts = ts[:-2] + ":" + ts[-2:]
                else:
                    sec = rand(60)
                    ts = (t + timedelta(seconds=sec)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")
                f.write(f"{s},{ts},{temp},{hum}\n")


def access_log(path):
    start = datetime(2024, 3, 5, 8, 0, tzinfo=timezone.utc)
    zones = [timezone.utc, timezone(timedelta(hours=1)),
             timezone(timedelta(hours=-5))]
    pages = ["/api/items", "/api/orders", "/static/app.js", "/index.html",
             "/health"]
    codes = [200, 200, 200, 200, 201, 204, 301, 304, 404, 404, 500, 503]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
              "Sep", "Oct", "Nov", "Dec"]
    with open(path, "w") as f:
        f.write("line\n")
        t = start
        for i in range(400):
            t += timedelta(seconds=rand(60))
            z = zones[rand(3)]
            lt = t.astimezone(z)
            off = lt.strftime("%z")
            when = (f"{lt.day:02d}/{months[lt.month - 1]}/{lt.year}:"
                    f"{lt.strftime('%H:%M:%S')} {off}")
            page = pages[rand(len(pages))]
            code = 200 if page == "/health" else codes[rand(len(codes))]
            size = "-" if code in (204, 304) else str(100 + rand(5000))
            ip = f"203.0.113.{rand(255)}"
            method = "POST" if page == "/api/orders" and rand(2) else "GET"
            query = f"?id={rand(100)}" if page == "/api/items" else ""
            line = (f'{ip} - - [{when}] "{method} {page}{query} HTTP/1.1" '
                    f"{code} {size}")
            f.write('"' + line.replace('"', '""') + '"\n')


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    sensors(os.path.join(out, "sensor_readings.csv"))
    access_log(os.path.join(out, "access_log.csv"))
