// Writes duckdb.csv with DuckDB's default COPY ... TO formats: TIMESTAMPTZ
// (shown in UTC-05:00, a negative offset; zones with historical offsets
// in seconds would lose them, DuckDB prints minutes), TIMESTAMP and DATE, the
// instants of instants.py. Run with @duckdb/node-api (as
// /work/shared/bench/setup_peers.sh installs it):
//   NODE_PATH=.../node_modules node make_duckdb.js
const { DuckDBInstance } = require('@duckdb/node-api');

const instants = [
  [1, '2024-03-05 10:15:30.25'], [2, '2024-02-29 23:59:59.999999'],
  [3, '1970-01-01 00:00:00'], [4, '1969-12-31 23:59:59.5'],
  [5, '1900-03-01 12:00:00'], [6, '2000-01-01 00:00:00.000001'],
  [7, '2038-01-19 03:14:08'],
];

(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run("SET TimeZone = 'Etc/GMT+5'");
  const rows = instants.map(([i, t]) => `(${i}, TIMESTAMP '${t}')`).join(',');
  await c.run(`CREATE TABLE t AS SELECT id, (u || '+00')::TIMESTAMPTZ AS ts,
      u AS naive, u::DATE AS day FROM (VALUES ${rows}) v(id, u)`);
  await c.run(`COPY (SELECT * FROM t ORDER BY id) TO 'duckdb.csv' (HEADER)`);
})();
