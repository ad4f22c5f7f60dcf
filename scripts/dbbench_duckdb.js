#!/usr/bin/env node
// DuckDB (npm @duckdb/node-api) answering one db-benchmark group-by question
// end to end, as pipeline does: read the CSV, group, write the answer CSV.
// Used by scripts/make_dbbench_expected.sh (the expected answers of
// tests/e2e/test_dbbench.sh) and scripts/bench_memory.sh.
//   NODE_PATH=<node_modules> node scripts/dbbench_duckdb.js QN INPUT.csv OUTPUT.csv
//   NODE_PATH=<node_modules> node scripts/dbbench_duckdb.js version
// env: DUCKDB_THREADS (default 2), DUCKDB_MEMORY_LIMIT (e.g. 256MiB; default
//      DuckDB's own, 80% of RAM), DUCKDB_TEMP_DIR (where it spills),
//      DUCKDB_PRESERVE_INSERTION_ORDER (true, DuckDB's default, or false: what
//      DuckDB's out-of-memory error advises)
'use strict';
const { DuckDBInstance } = require('@duckdb/node-api');

// The SQL of the db-benchmark (h2oai / duckdblabs) group-by questions; x is
// the table.
const Q = {
  q1: 'SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1',
  q2: 'SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2',
  q3: 'SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3',
  q4: 'SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4',
  q5: 'SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6',
  q6: 'SELECT id4, id5, median(v3) AS median_v3, stddev(v3) AS sd_v3 FROM x GROUP BY id4, id5',
  q7: 'SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM x GROUP BY id3',
  q8: 'SELECT id6, v3 FROM (SELECT id6, v3, row_number() OVER (PARTITION BY id6 ORDER BY v3 DESC) ' +
      'AS order_v3 FROM x WHERE v3 IS NOT NULL) sub_query WHERE order_v3 <= 2',
  q9: 'SELECT id2, id4, pow(corr(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4',
  q10: 'SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count FROM x ' +
       'GROUP BY id1, id2, id3, id4, id5, id6',
};

const lit = (s) => "'" + String(s).replace(/'/g, "''") + "'";

async function main() {
  const [q, input, output] = process.argv.slice(2);
  if (q !== 'version' && (!Q[q] || !input || !output)) {
    console.error('usage: dbbench_duckdb.js q1..q10 INPUT.csv OUTPUT.csv | version');
    process.exit(2);
  }
  const config = { threads: process.env.DUCKDB_THREADS || '2' };
  if (process.env.DUCKDB_MEMORY_LIMIT) config.memory_limit = process.env.DUCKDB_MEMORY_LIMIT;
  if (process.env.DUCKDB_TEMP_DIR) config.temp_directory = process.env.DUCKDB_TEMP_DIR;
  if (process.env.DUCKDB_PRESERVE_INSERTION_ORDER) {
    config.preserve_insertion_order = process.env.DUCKDB_PRESERVE_INSERTION_ORDER;
  }
  const db = await DuckDBInstance.create(':memory:', config);
  const con = await db.connect();
  if (q === 'version') {
    const r = await con.runAndReadAll('SELECT version()');
    console.log(r.getRows()[0][0]);
    return;
  }
  // Column types given, as a user who knows the file would.
  await con.run(`CREATE VIEW x AS SELECT * FROM read_csv(${lit(input)}, header = true, delim = ',', ` +
    `columns = {'id1': 'VARCHAR', 'id2': 'VARCHAR', 'id3': 'VARCHAR', 'id4': 'INTEGER', 'id5': 'INTEGER', ` +
    `'id6': 'INTEGER', 'v1': 'INTEGER', 'v2': 'INTEGER', 'v3': 'DOUBLE'})`);
  await con.run(`COPY (${Q[q]}) TO ${lit(output)} (FORMAT csv, HEADER true, DELIMITER ',')`);
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
