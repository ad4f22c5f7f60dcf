-- Writes postgres.txt and postgres.csv: the instants of instants.py as
-- PostgreSQL prints them (checked with PostgreSQL 15.18), row 8 all NULL.
-- Run in this folder:  psql -X -q -f make_postgres.sql
-- postgres.txt: COPY's text format (tabs, \N, no header), TimeZone
-- Asia/Kolkata (+05:30; in 1900 Madras Mean Time, +05:21:10).
-- postgres.csv: CSV with a header, TimeZone America/St_Johns (-03:30, or
-- -02:30 in summer; in 1900 local mean time, -03:30:52).
CREATE TEMP TABLE t (id int, u timestamptz);
INSERT INTO t VALUES
  (1, '2024-03-05 10:15:30.25+00'),
  (2, '2024-02-29 23:59:59.999999+00'),
  (3, '1970-01-01 00:00:00+00'),
  (4, '1969-12-31 23:59:59.5+00'),
  (5, '1900-03-01 12:00:00+00'),
  (6, '2000-01-01 00:00:00.000001+00'),
  (7, '2038-01-19 03:14:08+00'),
  (8, NULL);
SET TimeZone = 'Asia/Kolkata';
\o postgres.txt
COPY (SELECT id, u, u AT TIME ZONE 'UTC', (u AT TIME ZONE 'UTC')::date
      FROM t ORDER BY id) TO STDOUT;
SET TimeZone = 'America/St_Johns';
\o postgres.csv
COPY (SELECT id, u AS ts, u AT TIME ZONE 'UTC' AS naive,
             (u AT TIME ZONE 'UTC')::date AS day
      FROM t WHERE id < 8 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER);
\o
