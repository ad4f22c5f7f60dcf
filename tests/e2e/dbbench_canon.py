#!/usr/bin/python3
"""Canonical form of the answers to the db-benchmark group-by questions
q1..q10 (jobs/dbbench/), shared by the tool that writes the expected
values from DuckDB (scripts/make_dbbench_expected.sh) and by the test that
checks pipeline against them (tests/e2e/test_dbbench.sh), so that both
sides are put in the same form by the same code.

Each answer column is of one kind:
  str   text, compared exactly
  int   an integer (key, integer sum, count, max - min), compared exactly
  dec6  a v3 value or a sum of c of them. v3 has 6 decimals, so the exact
        sum is a multiple of 1e-6. A double sum of c values in [0, 100), in
        any order, is off by at most c * 2^-53 * 100c ~ 1.1e-14 c^2 (plus
        c * 7e-15 from reading them), under 5e-8 for every c <= 2000; the
        groups here hold about K = 100 rows (q5) or 1 (q10). That is far
        from the 5e-7 that would move '%.6f' to another decimal: printed
        with 6 decimals it is the exact sum, whatever order the values were
        added in, and is compared exactly. ('expect' checks that DuckDB's
        values are that close to the 1e-6 grid.)
  dec7  a median of v3: a value or the midpoint of two, hence a multiple of
        5e-7, computed with an error of a unit in the last place (~1e-14);
        by the same argument '%.7f' is exact and compared exactly.
  float a mean or a standard deviation: no finite exact form, compared
        with a relative tolerance REL (1e-9).
  r2    a squared correlation of v1 (1..5) and v2 (1..15), a float as above,
        except near 0. r2 = N^2 / (Dx Dy) with N = n sum(xy) - sum(x) sum(y)
        an integer, Dx = n^2 var(x) <= 4 n^2, Dy <= 49 n^2: it is 0 (N = 0)
        or at least 1 / (196 n^4), above 1e-20 for every group of fewer
        than 80000 rows. Where N = 0, rounding leaves values of about 1e-33
        that differ from system to system, so values below R2_ZERO = 1e-20
        are 0.
Missing values (empty, NULL, nan) become NA.

usage:
  dbbench_canon.py expect QN ANSWER.csv DIR   write DIR/QN.digest, and the
                   full answer DIR/QN.csv (small) or DIR/QN.csv.gz (large,
                   when QN has float columns)
  dbbench_canon.py check QN ANSWER.csv DIR    compare ANSWER.csv with what
                   DIR holds for QN; prints the differences, exit status 1
                   when there are any, 2 on bad usage or input
  dbbench_canon.py compare QN ANSWER.csv REFERENCE.csv   compare two answers
                   in full, the same way (both are held in memory)
"""
import csv
import gzip
import hashlib
import io
import os
import sys

REL = 1e-9
FULL_ROWS = 1000        # answers up to this many rows are stored in full
FLOAT_DIGITS = 12       # stored float columns: well within REL of DuckDB's
R2_ZERO = 1e-20

IDS = {"id1": "str", "id2": "str", "id3": "str",
       "id4": "int", "id5": "int", "id6": "int"}


def spec(keys, values):
    return [(k, IDS[k]) for k in keys] + values, len(keys)


QUESTIONS = {
    "q1": spec(["id1"], [("v1", "int")]),
    "q2": spec(["id1", "id2"], [("v1", "int")]),
    "q3": spec(["id3"], [("v1", "int"), ("v3", "float")]),
    "q4": spec(["id4"], [("v1", "float"), ("v2", "float"), ("v3", "float")]),
    "q5": spec(["id6"], [("v1", "int"), ("v2", "int"), ("v3", "dec6")]),
    "q6": spec(["id4", "id5"], [("median_v3", "dec7"), ("sd_v3", "float")]),
    "q7": spec(["id3"], [("range_v1_v2", "int")]),
    # two rows per id6: the row is its own key
    "q8": spec(["id6"], [("v3", "dec6")]),
    "q9": spec(["id2", "id4"], [("r2", "r2")]),
    "q10": spec(["id1", "id2", "id3", "id4", "id5", "id6"],
                [("v3", "dec6"), ("count", "int")]),
}

INEXACT = ("float", "r2")
MISSING = {"", "null", "nan", "-nan", "+nan", "na"}


class BadInput(Exception):
    pass


def canon_value(kind, text, where):
    if text.strip().lower() in MISSING:
        return "NA"
    try:
        if kind == "str":
            return text
        if kind == "int":
            return str(int(text))
        x = float(text)
        if kind == "dec6":
            return "%.6f" % x
        if kind == "dec7":
            return "%.7f" % x
        if kind == "r2" and abs(x) < R2_ZERO:
            return "0"
        return repr(x)
    except ValueError:
        raise BadInput("%s: '%s' is not a%s %s" % (
            where, text, "n" if kind == "int" else "", kind)) from None


def _number(text):
    x = float(text)
    if x != x:
        raise ValueError("nan")
    return x


# What canon_value does for values that are present, fast: these raise
# ValueError on the others, which then take canon_value's slow way (1e6-row
# answers are read five times per question in the test).
FAST = {
    "str": lambda t: t,
    "int": lambda t: str(int(t)),
    "dec6": lambda t: "%.6f" % _number(t),
    "dec7": lambda t: "%.7f" % _number(t),
    "float": lambda t: repr(_number(t)),
    "r2": lambda t: "0" if abs(_number(t)) < R2_ZERO else repr(_number(t)),
}


def read_answer(q, path):
    """The rows of answer PATH to question Q, canonical, in file order: a list
    of tuples of strings in the column order of QUESTIONS[q]."""
    cols, _ = QUESTIONS[q]
    names = [c for c, _ in cols]
    with open(path, newline="") as f:
        rd = csv.reader(f)
        header = next(rd, None)
        if header is None:
            raise BadInput("%s: empty file, no header" % path)
        if sorted(header) != sorted(names):
            raise BadInput("%s: columns %s, expected %s" % (
                path, ",".join(header), ",".join(names)))
        conv = [(FAST[kind], header.index(c)) for c, kind in cols]
        rows = []
        for line, r in enumerate(rd, start=2):
            if len(r) != len(header):
                raise BadInput("%s:%d: %d fields, expected %d" % (
                    path, line, len(r), len(header)))
            try:
                rows.append(tuple(f(r[p]) for f, p in conv))
            except ValueError:
                rows.append(tuple(
                    canon_value(kind, r[p], "%s:%d column %s" % (
                        path, line, c))
                    for (c, kind), (_, p) in zip(cols, conv)))
    return rows


def exact_part(q, rows):
    """The rows without their float columns, as the sorted lines that are
    hashed."""
    cols, _ = QUESTIONS[q]
    keep = [i for i, (_, kind) in enumerate(cols) if kind not in INEXACT]
    lines = [",".join([r[i] for i in keep]) for r in rows]
    lines.sort()
    return lines, [cols[i][0] for i in keep]


def digest(q, rows):
    """rows, one exact sum per int/dec column, and the sha256 of the sorted
    exact part of the rows (floats left out: they have no exact form)."""
    cols, _ = QUESTIONS[q]
    lines, names = exact_part(q, rows)
    out = ["columns " + ",".join(names), "rows %d" % len(rows)]
    for i, (c, kind) in enumerate(cols):
        # key sums and floats say nothing exact
        if i < QUESTIONS[q][1] or kind == "str" or kind in INEXACT:
            continue
        scale = {"int": 0, "dec6": 6, "dec7": 7}[kind]
        total = sum(int(r[i].replace(".", "")) for r in rows if r[i] != "NA")
        s = str(abs(total)).rjust(scale + 1, "0")
        s = s[:len(s) - scale] + ("." + s[len(s) - scale:] if scale else "")
        out.append("sum %s %s%s" % (c, "-" if total < 0 else "", s))
    text = "".join(line + "\n" for line in lines)
    out.append("sha256 " + hashlib.sha256(text.encode()).hexdigest())
    return out


def has_floats(q):
    return any(kind in INEXACT for _, kind in QUESTIONS[q][0])


def stored_rows(q, rows):
    """Rows as stored in the full answer: floats to FLOAT_DIGITS digits."""
    cols, _ = QUESTIONS[q]
    return [tuple(v if kind not in INEXACT or v == "NA"
                  else "%.*g" % (FLOAT_DIGITS, float(v))
                  for v, (_, kind) in zip(r, cols)) for r in rows]


def off_grid(q, answer):
    """Values of dec6/dec7 columns of ANSWER further than 1e-3 of a grid step
    from the grid, where the argument above says they cannot be."""
    cols, _ = QUESTIONS[q]
    far = []
    with open(answer, newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        for c, kind in cols:
            if kind not in ("dec6", "dec7"):
                continue
            p = header.index(c)
            step = 1e6 if kind == "dec6" else 2e6
            f.seek(0)
            next(rd)
            for r in rd:
                if r[p].strip().lower() not in MISSING:
                    x = float(r[p]) * step
                    if abs(x - round(x)) > 1e-3:
                        far.append("%s=%s" % (c, r[p]))
    return far


def expect(q, answer, outdir):
    far = off_grid(q, answer)
    if far:
        raise BadInput("%s: %d values off their decimal grid, e.g. %s" % (
            answer, len(far), far[0]))
    rows = read_answer(q, answer)
    rows.sort()
    names = [c for c, _ in QUESTIONS[q][0]]
    with open(os.path.join(outdir, q + ".digest"), "w") as f:
        f.write("\n".join(digest(q, rows)) + "\n")
    text = ",".join(names) + "\n" + "".join(
        ",".join(r) + "\n" for r in stored_rows(q, rows))
    if len(rows) <= FULL_ROWS:
        with open(os.path.join(outdir, q + ".csv"), "w") as f:
            f.write(text)
    elif has_floats(q):
        # mtime 0 and no file name: the same bytes on every run
        with open(os.path.join(outdir, q + ".csv.gz"), "wb") as f:
            with gzip.GzipFile(filename="", mode="wb", fileobj=f,
                               compresslevel=9, mtime=0) as z:
                z.write(text.encode())


def read_stored(q, outdir):
    for name, opener in ((q + ".csv", open),
                         (q + ".csv.gz", lambda p: gzip.open(p, "rt"))):
        p = os.path.join(outdir, name)
        if os.path.exists(p):
            with opener(p) as f:
                rd = csv.reader(io.StringIO(f.read()))
                next(rd)
                return [tuple(r) for r in rd]
    return None


def close(a, b):
    if a == b:
        return True
    if a == "NA" or b == "NA":
        return False
    x, y = float(a), float(b)
    return abs(x - y) <= REL * max(abs(x), abs(y))


def compare_full(q, got, want, problems):
    cols, nkeys = QUESTIONS[q]
    if len(got) != len(want):
        problems.append("%d rows, expected %d" % (len(got), len(want)))
    shown = 0
    worst = 0.0
    for g, w in zip(got, want):
        bad = [c for (c, kind), a, b in zip(cols, g, w)
               if not (close(a, b) if kind in INEXACT else a == b)]
        for (c, kind), a, b in zip(cols, g, w):
            if kind in INEXACT and a != "NA" and b != "NA" and a != b:
                x, y = float(a), float(b)
                worst = max(worst, abs(x - y) / max(abs(x), abs(y)))
        if bad and shown < 10:
            problems.append("row %s: got %s, expected %s (columns %s)" % (
                ",".join(w[:nkeys]), ",".join(g), ",".join(w), ",".join(bad)))
            shown += 1
        elif bad:
            shown += 1
    if shown > 10:
        problems.append("... %d differing rows in all" % shown)
    return worst


def check(q, answer, outdir):
    rows = read_answer(q, answer)
    problems = []
    with open(os.path.join(outdir, q + ".digest")) as f:
        want = f.read().split("\n")[:-1]
    got = digest(q, rows)
    for g, w in zip(got, want):
        if g != w:
            problems.append("digest: got '%s', expected '%s'" % (g, w))
    if len(got) != len(want):
        problems.append("digest: %d lines, expected %d" % (len(got),
                                                            len(want)))
    stored = read_stored(q, outdir)
    note = ""
    if stored is not None:
        rows.sort()
        worst = compare_full(q, rows, stored, problems)
        if has_floats(q):
            note = ", largest relative float difference %.1e" % worst
    for p in problems:
        print("  %s: %s" % (q, p))
    if not problems:
        print("  %s: %d rows as expected (%s%s)" % (
            q, len(rows), "full answer" if stored is not None else "digest",
            note))
    return 1 if problems else 0


def compare(q, answer, reference):
    rows, ref = read_answer(q, answer), read_answer(q, reference)
    rows.sort()
    ref.sort()
    problems = []
    worst = compare_full(q, rows, ref, problems)
    for p in problems:
        print("  %s: %s" % (q, p))
    if not problems:
        print("  %s: %d rows alike%s" % (q, len(rows), (
            ", largest relative float difference %.1e" % worst)
            if has_floats(q) else ""))
    return 1 if problems else 0


def main():
    if len(sys.argv) != 5 \
            or sys.argv[1] not in ("expect", "check", "compare") \
            or sys.argv[2] not in QUESTIONS:
        print(__doc__.split("usage:")[1], file=sys.stderr)
        return 2
    cmd, q, answer, outdir = sys.argv[1:]
    try:
        if cmd == "expect":
            expect(q, answer, outdir)
            return 0
        if cmd == "compare":
            return compare(q, answer, outdir)
        return check(q, answer, outdir)
    except (BadInput, OSError) as e:
        print("  %s: %s" % (q, e))
        return 2


if __name__ == "__main__":
    sys.exit(main())
