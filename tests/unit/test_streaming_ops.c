#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "op_testkit.h"
#include "operators/builtin.h"

static pl_pool *pool;
static pl_error err;
static pl_schema in;
static pl_batch *people;

static const char *const people_cells[] = {
    "1", "ann", "2.5",	"true",	 /* line 2 */
    "2", NULL,	NULL,	"false", /* line 3 */
    "3", "cy",	"7.0",	NULL,	 /* line 5: a quoted newline before */
    "4", "",	"-1.0", "true",	 /* line 6 */
};
static const int64_t people_lines[] = {2, 3, 5, 6};

static void setup(void)
{
	pool = pl_pool_create(1 << 20);
	pl_error_clear(&err);
	kit_schema(&in, "id:int64, name:string, score:float64, ok:bool");
	people = kit_batch(&in, pool, 4, people_cells);
	kit_set_lines(people, pool, "people.csv", people_lines);
}

static void teardown(void)
{
	pl_batch_free(people, pool);
	pl_schema_free(&in);
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
}

/* Runs one section over the people batch; returns process's (or init's)
 * code and leaves the rows seen in r. */
static int run(const pl_operator_def *def, const char *const *kv,
	       kit_recorder *r, char *schema_text)
{
	pl_section *sec = kit_section(def->name, 10, kv);
	kit_op k;
	pl_emitter e = kit_emitter(r);
	int rc = kit_op_init(&k, def, sec, &in, pool, &err);
	if (rc == 0 && schema_text)
		kit_schema_text(&k.out, schema_text, 256);
	if (rc == 0)
		rc = def->process(&k.op, people, &e, &err);
	kit_op_free(&k);
	kit_section_free(sec);
	return rc;
}

/* Expects init to fail with a job.conf error holding both fragments. */
static void expect_conf_error(const pl_operator_def *def, const char *const *kv,
			      const char *where, const char *what)
{
	kit_recorder r = {0};
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(run(def, kv, &r, NULL), PL_ERR_CONF);
	CU_ASSERT_EQUAL(err.code, PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, where));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, what));
	if (!strstr(err.msg, where) || !strstr(err.msg, what))
		fprintf(stderr, "\n  message: %s\n", err.msg);
	CU_ASSERT_EQUAL(r.batches, 0);
}

/* Makes the nth pool allocation and all after it fail, for n = 1, 2, ...
 * until the run succeeds: every failure must be a clean PL_ERR_NOMEM with
 * nothing leaked, and the final run must give want. */
static void fault_walk(const pl_operator_def *def, const char *const *kv,
		       const char *want)
{
	size_t base = pl_pool_get_stats(pool).bytes_out;
	int rc = PL_ERR_NOMEM;
	kit_recorder r;
	for (uint64_t n = 1; n < 200 && rc == PL_ERR_NOMEM; n++) {
		memset(&r, 0, sizeof(r));
		pl_error_clear(&err);
		pl_pool_fail_after(pool, n, 1);
		rc = run(def, kv, &r, NULL);
		pl_pool_fail_after(pool, 0, 0);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM || rc == PL_STOP);
		CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, base);
	}
	CU_ASSERT(rc == 0 || rc == PL_STOP);
	CU_ASSERT_STRING_EQUAL(r.text, want);
}

static void test_filter_keeps(void)
{
	setup();
	kit_recorder r = {0};
	char schema[256];
	const char *kv[] = {"where", "score > 1", NULL};
	CU_ASSERT_EQUAL(run(&pl_op_filter, kv, &r, schema), 0);
	CU_ASSERT_STRING_EQUAL(schema,
			       "id:int64,name:string,score:float64,ok:bool");
	CU_ASSERT_STRING_EQUAL(r.text, "1|ann|2.5|true@2\n3|cy|7|NULL@5\n");
	CU_ASSERT_EQUAL(r.batches, 1);
	CU_ASSERT_FALSE(r.bad);
	teardown();
}

static void test_filter_null_is_false(void)
{
	setup();
	kit_recorder r = {0};
	const char *kv[] = {"where", "ok", NULL};
	CU_ASSERT_EQUAL(run(&pl_op_filter, kv, &r, NULL), 0);
	CU_ASSERT_STRING_EQUAL(r.text, "1|ann|2.5|true@2\n4||-1|true@6\n");
	teardown();
}

static void test_filter_all_and_none(void)
{
	setup();
	kit_recorder r = {0};
	const char *all[] = {"where", "id > 0", NULL};
	CU_ASSERT_EQUAL(run(&pl_op_filter, all, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.rows, 4);
	CU_ASSERT_PTR_EQUAL(r.last_cols, people->cols);
	kit_recorder none = {0};
	const char *kv[] = {"where", "id > 100", NULL};
	CU_ASSERT_EQUAL(run(&pl_op_filter, kv, &none, NULL), 0);
	CU_ASSERT_EQUAL(none.batches, 0);
	teardown();
}

/* The output batch is reused: a second, smaller batch must not show
 * anything of the first. */
static void test_filter_reuses_output(void)
{
	setup();
	const char *cells[] = {"5", "eve", "9.0", "true",
			       "6", "flo", "0.5", "true"};
	pl_batch *second = kit_batch(&in, pool, 2, cells);
	pl_section *sec = kit_section(
	    "filter", 10, (const char *[]){"where", "score > 1", NULL});
	kit_op k;
	kit_recorder r = {0};
	pl_emitter e = kit_emitter(&r);
	CU_ASSERT_EQUAL_FATAL(
	    kit_op_init(&k, &pl_op_filter, sec, &in, pool, &err), 0);
	CU_ASSERT_EQUAL(k.op.def->process(&k.op, people, &e, &err), 0);
	CU_ASSERT_EQUAL(k.op.def->process(&k.op, second, &e, &err), 0);
	CU_ASSERT_STRING_EQUAL(r.text, "1|ann|2.5|true@2\n3|cy|7|NULL@5\n"
				       "5|eve|9|true\n");
	CU_ASSERT_FALSE(r.bad);
	kit_op_free(&k);
	kit_section_free(sec);
	pl_batch_free(second, pool);
	teardown();
}

static void test_filter_stop(void)
{
	setup();
	kit_recorder r = {0};
	r.reply = PL_STOP;
	const char *kv[] = {"where", "id > 1", NULL};
	CU_ASSERT_EQUAL(run(&pl_op_filter, kv, &r, NULL), PL_STOP);
	teardown();
}

static void test_filter_errors(void)
{
	setup();
	expect_conf_error(&pl_op_filter,
			  (const char *[]){"where", "id + 1", NULL},
			  "job.conf:11:", "int64");
	expect_conf_error(&pl_op_filter,
			  (const char *[]){"where", "nope > 1", NULL},
			  "job.conf:11", "nope");
	expect_conf_error(&pl_op_filter, (const char *[]){NULL},
			  "job.conf:10:", "needs where");
	expect_conf_error(&pl_op_filter,
			  (const char *[]){"where", "ok", "wher", "ok", NULL},
			  "job.conf:12:", "wher");
	teardown();
}

static void test_filter_faults(void)
{
	setup();
	fault_walk(&pl_op_filter, (const char *[]){"where", "score > 1", NULL},
		   "1|ann|2.5|true@2\n3|cy|7|NULL@5\n");
	teardown();
}

static void test_derive_chain(void)
{
	setup();
	kit_recorder r = {0};
	char schema[256];
	const char *kv[] = {"x", "id * 2", "y", "x + 1", NULL};
	CU_ASSERT_EQUAL(run(&pl_op_derive, kv, &r, schema), 0);
	CU_ASSERT_STRING_EQUAL(schema, "id:int64,name:string,score:float64,"
				       "ok:bool,x:int64,y:int64");
	CU_ASSERT_STRING_EQUAL(r.text, "1|ann|2.5|true|2|3@2\n"
				       "2|NULL|NULL|false|4|5@3\n"
				       "3|cy|7|NULL|6|7@5\n"
				       "4||-1|true|8|9@6\n");
	CU_ASSERT_FALSE(r.bad);
	teardown();
}

static void test_derive_replace_keeps_place(void)
{
	setup();
	kit_recorder r = {0};
	char schema[256];
	const char *kv[] = {"name", "id * 10", "z", "name + 1",
			    "name", "z > 25",  NULL};
	CU_ASSERT_EQUAL(run(&pl_op_derive, kv, &r, schema), 0);
	CU_ASSERT_STRING_EQUAL(schema, "id:int64,name:bool,score:float64,"
				       "ok:bool,z:int64");
	CU_ASSERT_STRING_EQUAL(r.text, "1|false|2.5|true|11@2\n"
				       "2|false|NULL|false|21@3\n"
				       "3|true|7|NULL|31@5\n"
				       "4|true|-1|true|41@6\n");
	teardown();
}

static void test_derive_is_a_view(void)
{
	setup();
	pl_section *sec = kit_section(
	    "derive", 10, (const char *[]){"`big id`", "id + 1", NULL});
	kit_op k;
	CU_ASSERT_EQUAL_FATAL(
	    kit_op_init(&k, &pl_op_derive, sec, &in, pool, &err), 0);
	CU_ASSERT_STRING_EQUAL(k.out.fields[4].name, "big id");
	kit_recorder r = {0};
	pl_emitter e = kit_emitter(&r);
	CU_ASSERT_EQUAL(k.op.def->process(&k.op, people, &e, &err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.last_cols);
	CU_ASSERT_PTR_EQUAL(r.last_cols[1].arena, people->cols[1].arena);
	CU_ASSERT_PTR_EQUAL(r.last_cols[0].data, people->cols[0].data);
	char d[256];
	k.op.def->describe(&k.op, d, sizeof(d));
	CU_ASSERT_STRING_EQUAL(d, "`big id` = id + 1");
	kit_op_free(&k);
	kit_section_free(sec);
	teardown();
}

static void test_derive_errors(void)
{
	setup();
	expect_conf_error(&pl_op_derive,
			  (const char *[]){"x", "id", "y", "nope + 1", NULL},
			  "job.conf:12", "nope");
	expect_conf_error(&pl_op_derive, (const char *[]){NULL},
			  "job.conf:10:", "NAME = EXPR");
	/* A name is usable only after the line that derives it. */
	expect_conf_error(&pl_op_derive,
			  (const char *[]){"y", "x + 1", "x", "id", NULL},
			  "job.conf:11", "x");
	teardown();
}

static void test_derive_faults(void)
{
	setup();
	fault_walk(&pl_op_derive,
		   (const char *[]){"x", "id * 2", "id", "x + 1", NULL},
		   "3|ann|2.5|true|2@2\n5|NULL|NULL|false|4@3\n"
		   "7|cy|7|NULL|6@5\n9||-1|true|8@6\n");
	teardown();
}

static void test_select_columns(void)
{
	setup();
	kit_recorder r = {0};
	char schema[256];
	const char *kv[] = {"columns", "score, `id`", NULL};
	CU_ASSERT_EQUAL(run(&pl_op_select, kv, &r, schema), 0);
	CU_ASSERT_STRING_EQUAL(schema, "score:float64,id:int64");
	CU_ASSERT_STRING_EQUAL(r.text, "2.5|1@2\nNULL|2@3\n7|3@5\n-1|4@6\n");
	CU_ASSERT_FALSE(r.bad);
	teardown();
}

static void test_select_drop_rename(void)
{
	setup();
	kit_recorder r = {0};
	char schema[256];
	const char *kv[] = {"drop", "name", "rename", "id:key, ok:`is:ok`",
			    NULL};
	CU_ASSERT_EQUAL(run(&pl_op_select, kv, &r, schema), 0);
	CU_ASSERT_STRING_EQUAL(schema, "key:int64,score:float64,is:ok:bool");
	CU_ASSERT_STRING_EQUAL(r.text, "1|2.5|true@2\n2|NULL|false@3\n"
				       "3|7|NULL@5\n4|-1|true@6\n");
	teardown();
}

/* Renames apply together, so two columns may swap names. */
static void test_select_rename_swap(void)
{
	setup();
	kit_recorder r = {0};
	char schema[256];
	const char *kv[] = {"rename", "id:score, score:id", NULL};
	CU_ASSERT_EQUAL(run(&pl_op_select, kv, &r, schema), 0);
	CU_ASSERT_STRING_EQUAL(schema,
			       "score:int64,name:string,id:float64,ok:bool");
	CU_ASSERT_EQUAL(r.rows, 4);
	teardown();
}

static void test_select_errors(void)
{
	setup();
	expect_conf_error(&pl_op_select,
			  (const char *[]){"columns", "id", "drop", "ok", NULL},
			  "job.conf:12:", "not both");
	expect_conf_error(&pl_op_select,
			  (const char *[]){"columns", "id, scor", NULL},
			  "job.conf:11:", "did you mean 'score'");
	expect_conf_error(&pl_op_select, (const char *[]){"drop", "zzz", NULL},
			  "job.conf:11:", "unknown column 'zzz'");
	expect_conf_error(&pl_op_select,
			  (const char *[]){"drop", "id, name, score, ok", NULL},
			  "job.conf:11:", "every column");
	expect_conf_error(&pl_op_select,
			  (const char *[]){"columns", "id, id", NULL},
			  "job.conf:11:", "twice");
	expect_conf_error(&pl_op_select,
			  (const char *[]){"rename", "id:name", NULL},
			  "job.conf:11:", "'name'");
	expect_conf_error(
	    &pl_op_select,
	    (const char *[]){"columns", "id", "rename", "score:s", NULL},
	    "job.conf:12:", "unknown column 'score'");
	expect_conf_error(&pl_op_select, (const char *[]){"rename", "id", NULL},
			  "job.conf:11:", "old:new");
	expect_conf_error(&pl_op_select,
			  (const char *[]){"rename", "id:a, id:b", NULL},
			  "job.conf:11:", "twice");
	expect_conf_error(&pl_op_select, (const char *[]){"column", "id", NULL},
			  "job.conf:11:", "column");
	expect_conf_error(&pl_op_select, (const char *[]){NULL},
			  "job.conf:10:", "needs");
	teardown();
}

static void test_select_faults(void)
{
	setup();
	fault_walk(
	    &pl_op_select,
	    (const char *[]){"columns", "ok, id", "rename", "ok:b", NULL},
	    "true|1@2\nfalse|2@3\nNULL|3@5\ntrue|4@6\n");
	teardown();
}

static void test_limit_across_batches(void)
{
	setup();
	pl_section *sec =
	    kit_section("limit", 10, (const char *[]){"rows", "5", NULL});
	kit_op k;
	kit_recorder r = {0};
	pl_emitter e = kit_emitter(&r);
	CU_ASSERT_EQUAL_FATAL(
	    kit_op_init(&k, &pl_op_limit, sec, &in, pool, &err), 0);
	CU_ASSERT_EQUAL(k.op.def->process(&k.op, people, &e, &err), 0);
	CU_ASSERT_EQUAL(k.op.def->process(&k.op, people, &e, &err), PL_STOP);
	CU_ASSERT_EQUAL(k.op.def->process(&k.op, people, &e, &err), PL_STOP);
	CU_ASSERT_EQUAL(r.batches, 2);
	CU_ASSERT_STRING_EQUAL(r.text, "1|ann|2.5|true@2\n"
				       "2|NULL|NULL|false@3\n"
				       "3|cy|7|NULL@5\n4||-1|true@6\n"
				       "1|ann|2.5|true@2\n");
	CU_ASSERT_FALSE(r.bad);
	char d[64];
	k.op.def->describe(&k.op, d, sizeof(d));
	CU_ASSERT_STRING_EQUAL(d, "rows: 5");
	kit_op_free(&k);
	kit_section_free(sec);
	teardown();
}

static void test_limit_cuts_batch(void)
{
	setup();
	kit_recorder r = {0};
	CU_ASSERT_EQUAL(
	    run(&pl_op_limit, (const char *[]){"rows", "2", NULL}, &r, NULL),
	    PL_STOP);
	CU_ASSERT_STRING_EQUAL(r.text,
			       "1|ann|2.5|true@2\n2|NULL|NULL|false@3\n");
	CU_ASSERT_FALSE(r.bad);
	kit_recorder zero = {0};
	CU_ASSERT_EQUAL(
	    run(&pl_op_limit, (const char *[]){"rows", "0", NULL}, &zero, NULL),
	    PL_STOP);
	CU_ASSERT_EQUAL(zero.batches, 0);
	kit_recorder exact = {0};
	CU_ASSERT_EQUAL(run(&pl_op_limit, (const char *[]){"rows", "4", NULL},
			    &exact, NULL),
			PL_STOP);
	CU_ASSERT_EQUAL(exact.rows, 4);
	teardown();
}

static void test_limit_errors(void)
{
	setup();
	expect_conf_error(&pl_op_limit, (const char *[]){NULL},
			  "job.conf:10:", "rows");
	expect_conf_error(&pl_op_limit, (const char *[]){"rows", "-3", NULL},
			  "job.conf:11:", "rows");
	expect_conf_error(&pl_op_limit, (const char *[]){"rows", "ten", NULL},
			  "job.conf:11:", "rows");
	expect_conf_error(&pl_op_limit,
			  (const char *[]){"rows", "1", "row", "2", NULL},
			  "job.conf:12:", "row");
	teardown();
}

static void test_limit_faults(void)
{
	setup();
	fault_walk(&pl_op_limit, (const char *[]){"rows", "1", NULL},
		   "1|ann|2.5|true@2\n");
	teardown();
}

static void test_definitions(void)
{
	const pl_operator_def *defs[] = {&pl_op_filter, &pl_op_derive,
					 &pl_op_select, &pl_op_limit};
	const char *names[] = {"filter", "derive", "select", "limit"};
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(defs[i]->api_version, PL_OPERATOR_API_VERSION);
		CU_ASSERT_STRING_EQUAL(defs[i]->name, names[i]);
		CU_ASSERT_EQUAL(defs[i]->kind, PL_OP_STREAMING);
		CU_ASSERT_PTR_NOT_NULL(defs[i]->description);
		CU_ASSERT_PTR_NOT_NULL(defs[i]->describe);
		/* only limit merges across ranks */
		CU_ASSERT_EQUAL(defs[i]->partial == NULL, i != 3);
		CU_ASSERT_EQUAL(defs[i]->merge == NULL, i != 3);
	}
}

/* An instance as one of two ranks would make it. */
static void init_rank_instance(kit_op *k, const pl_section *sec)
{
	memset(k, 0, sizeof(*k));
	k->env.pool = pool;
	k->env.nranks = 2;
	k->env.chunk_rows = 1024;
	k->op.def = &pl_op_limit;
	k->op.env = &k->env;
	k->op.section = sec;
	pl_schema_init(&k->out);
	pl_schema_init(&k->op.partial_schema);
	CU_ASSERT_EQUAL_FATAL(pl_op_limit.init(&k->op, sec, &in, &k->out, &err),
			      0);
}

/* Two ranks' instances keep their own first rows and pass nothing on; a
 * third merges their partial state in rank order and emits the first 6
 * rows of the whole input. */
static void test_limit_across_ranks(void)
{
	setup();
	pl_section *sec =
	    kit_section("limit", 10, (const char *[]){"rows", "6", NULL});
	kit_op part[2], m;
	kit_recorder passed = {0}, kept = {0}, out = {0};
	pl_emitter pe = kit_emitter(&passed), ke = kit_emitter(&kept);
	pl_emitter oe = kit_emitter(&out);
	for (int r = 0; r < 2; r++) {
		init_rank_instance(&part[r], sec);
		CU_ASSERT_EQUAL(
		    pl_op_limit.process(&part[r].op, people, &pe, &err), 0);
		CU_ASSERT_EQUAL(pl_op_limit.partial(&part[r].op, &ke, &err), 0);
	}
	CU_ASSERT_EQUAL(passed.rows, 0);
	CU_ASSERT_EQUAL(kept.rows, 8);
	init_rank_instance(&m, sec);
	CU_ASSERT_EQUAL(pl_op_limit.merge(&m.op, people, &err), 0);
	CU_ASSERT_EQUAL(pl_op_limit.merge(&m.op, people, &err), 0);
	CU_ASSERT_EQUAL(pl_op_limit.finish(&m.op, &oe, &err), 0);
	CU_ASSERT_STRING_EQUAL(out.text, "1|ann|2.5|true\n2|NULL|NULL|false\n"
					 "3|cy|7|NULL\n4||-1|true\n"
					 "1|ann|2.5|true\n2|NULL|NULL|false\n");
	kit_op_free(&part[0]);
	kit_op_free(&part[1]);
	kit_op_free(&m);
	kit_section_free(sec);
	teardown();
}

static const pl_test tests[] = {
    {"limit_across_ranks", test_limit_across_ranks},
    {"filter_keeps", test_filter_keeps},
    {"filter_null_is_false", test_filter_null_is_false},
    {"filter_all_and_none", test_filter_all_and_none},
    {"filter_reuses_output", test_filter_reuses_output},
    {"filter_stop", test_filter_stop},
    {"filter_errors", test_filter_errors},
    {"filter_faults", test_filter_faults},
    {"derive_chain", test_derive_chain},
    {"derive_replace_keeps_place", test_derive_replace_keeps_place},
    {"derive_is_a_view", test_derive_is_a_view},
    {"derive_errors", test_derive_errors},
    {"derive_faults", test_derive_faults},
    {"select_columns", test_select_columns},
    {"select_drop_rename", test_select_drop_rename},
    {"select_rename_swap", test_select_rename_swap},
    {"select_errors", test_select_errors},
    {"select_faults", test_select_faults},
    {"limit_across_batches", test_limit_across_batches},
    {"limit_cuts_batch", test_limit_cuts_batch},
    {"limit_errors", test_limit_errors},
    {"limit_faults", test_limit_faults},
    {"definitions", test_definitions},
    {NULL, NULL},
};

PL_TEST_MAIN("streaming_ops", tests)
