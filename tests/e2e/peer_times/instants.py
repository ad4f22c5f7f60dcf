"""The instants of the peer-format test, as microseconds since 1970 (UTC),
and the expected output of pipeline reading any peer's file: id, the
instant as an integer, and as pipeline writes it. Shared by make_pandas.py
and the test; make_duckdb.js and postgres.txt hold the same instants."""
from datetime import datetime, timedelta, timezone

# (id, ISO text in UTC with microseconds)
INSTANTS = [
    (1, "2024-03-05T10:15:30.250000"),
    (2, "2024-02-29T23:59:59.999999"),
    (3, "1970-01-01T00:00:00.000000"),
    (4, "1969-12-31T23:59:59.500000"),
    (5, "1900-03-01T12:00:00.000000"),
    (6, "2000-01-01T00:00:00.000001"),
    (7, "2038-01-19T03:14:08.000000"),
]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def micros(dt):
    d = dt - EPOCH
    return (d.days * 86400 + d.seconds) * 1000000 + d.microseconds


def iso_out(dt):
    """pipeline's CSV form: fraction only when non-zero, shortest, Z."""
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        s += ("." + "%06d" % dt.microsecond).rstrip("0")
    return s + "Z"


if __name__ == "__main__":
    print("id,us,ts,day")
    for i, text in INSTANTS:
        dt = utc(text)
        print(f"{i},{micros(dt)},{iso_out(dt)},{dt.date().isoformat()}")
