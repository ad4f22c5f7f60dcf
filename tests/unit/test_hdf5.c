#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "harness.h"
#include "io/hdf5_reader.h"
#include "io/hdf5_table.h"
#include "io/hdf5_writer.h"

static pl_pool *pool;
static pl_error err;
static char dir[64];

static void setup(void)
{
	pool = pl_pool_create(1 << 20);
	pl_error_clear(&err);
	PL_TEST_MKDTEMP(dir, sizeof(dir), "h5");
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void teardown(void)
{
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
	pl_test_rmtree(dir);
}

static const char *in_dir(const char *name, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", dir, name);
	return buf;
}

static hid_t new_file(const char *name)
{
	char p[128];
	hid_t f = H5Fcreate(in_dir(name, p, sizeof(p)), H5F_ACC_TRUNC,
			    H5P_DEFAULT, H5P_DEFAULT);
	CU_ASSERT_FATAL(f >= 0);
	return f;
}

/* A 1-D dataset of n values of file type ft from buf of memory type mt,
 * chunked by chunk rows (0: contiguous). */
static void put(hid_t f, const char *name, hid_t ft, hid_t mt, hsize_t n,
		const void *buf, hsize_t chunk)
{
	hid_t space = H5Screate_simple(1, &n, NULL);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (chunk)
		H5Pset_chunk(dcpl, 1, &chunk);
	hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
	H5Pset_create_intermediate_group(lcpl, 1);
	hid_t d = H5Dcreate2(f, name, ft, space, lcpl, dcpl, H5P_DEFAULT);
	CU_ASSERT_FATAL(d >= 0);
	CU_ASSERT(H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
	H5Dclose(d);
	H5Pclose(lcpl);
	H5Pclose(dcpl);
	H5Sclose(space);
}

static void put_i64(hid_t f, const char *name, hsize_t n, const int64_t *v,
		    hsize_t chunk)
{
	put(f, name, H5T_STD_I64LE, H5T_NATIVE_INT64, n, v, chunk);
}

/* Options over files named in dir; datasets comma-free list. */
static void opts(pl_hdf5_options *o, const char *const *files, size_t nf,
		 const char *const *dsets, size_t nd, const char *compound)
{
	memset(o, 0, sizeof(*o));
	o->paths = calloc(nf, sizeof(char *));
	for (size_t i = 0; i < nf; i++) {
		char p[128];
		o->paths[i] = strdup(in_dir(files[i], p, sizeof(p)));
	}
	o->npaths = nf;
	if (compound != NULL) {
		o->dataset = strdup(compound);
	} else {
		o->datasets = calloc(nd, sizeof(char *));
		for (size_t i = 0; i < nd; i++)
			o->datasets[i] = strdup(dsets[i]);
		o->ndatasets = nd;
	}
}

static void select_cols(pl_hdf5_options *o, const char *const *cols, size_t n)
{
	o->columns = calloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		o->columns[i] = strdup(cols[i]);
	o->ncolumns = n;
}

static pl_hdf5_reader *open_ok(const pl_hdf5_options *o)
{
	pl_hdf5_reader *r = NULL;
	int rc = pl_hdf5_reader_open(o, pool, &r, &err);
	if (rc != 0)
		fprintf(stderr, "\n  open: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return r;
}

static pl_batch *next_ok(pl_hdf5_reader *r, size_t max)
{
	pl_batch *b = NULL;
	int rc = pl_hdf5_reader_next(r, max, &b, &err);
	if (rc != 0)
		fprintf(stderr, "\n  next: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	return b;
}

static void check_str(const pl_column *c, size_t i, const char *want)
{
	size_t len;
	const char *s = pl_col_str(c, i, &len);
	CU_ASSERT_EQUAL(len, strlen(want));
	CU_ASSERT(len == strlen(want) && memcmp(s, want, len) == 0);
	if (len != strlen(want) || memcmp(s, want, len) != 0)
		fprintf(stderr, "\n  got '%.*s', want '%s'\n", (int)len, s,
			want);
}

/* Expects open (or, failing that, the first read) to fail with code,
 * the message holding each of the NULL-terminated words. */
static void expect_error(const pl_hdf5_options *o, int code,
			 const char *const *words)
{
	pl_hdf5_reader *r = NULL;
	pl_error_clear(&err);
	int rc = pl_hdf5_reader_open(o, pool, &r, &err);
	pl_batch *b;
	while (rc == 0 && (rc = pl_hdf5_reader_next(r, 100, &b, &err)) == 0 &&
	       b != NULL)
		;
	pl_hdf5_reader_close(r);
	CU_ASSERT_EQUAL(rc, code);
	for (const char *const *w = words; *w; w++) {
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, *w));
		if (strstr(err.msg, *w) == NULL)
			fprintf(stderr, "\n  '%s' not in: %s\n", *w, err.msg);
	}
}

static void test_int_widths(void)
{
	setup();
	hid_t f = new_file("ints.h5");
	int8_t i8[] = {INT8_MIN, -1, INT8_MAX};
	uint8_t u8[] = {0, 1, UINT8_MAX};
	int16_t i16[] = {INT16_MIN, 2, INT16_MAX};
	uint16_t u16[] = {0, 3, UINT16_MAX};
	int32_t i32[] = {INT32_MIN, -4, INT32_MAX};
	uint32_t u32[] = {0, 5, UINT32_MAX};
	int64_t i64[] = {INT64_MIN, -6, INT64_MAX};
	uint64_t u64[] = {0, 7, INT64_MAX};
	put(f, "i8", H5T_STD_I8LE, H5T_NATIVE_INT8, 3, i8, 0);
	put(f, "u8", H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, u8, 0);
	put(f, "i16", H5T_STD_I16BE, H5T_NATIVE_INT16, 3, i16, 0);
	put(f, "u16", H5T_STD_U16LE, H5T_NATIVE_UINT16, 3, u16, 0);
	put(f, "g/i32", H5T_STD_I32BE, H5T_NATIVE_INT32, 3, i32, 2);
	put(f, "u32", H5T_STD_U32LE, H5T_NATIVE_UINT32, 3, u32, 0);
	put(f, "i64", H5T_STD_I64BE, H5T_NATIVE_INT64, 3, i64, 0);
	put(f, "u64", H5T_STD_U64LE, H5T_NATIVE_UINT64, 3, u64, 0);
	H5Fclose(f);
	const char *files[] = {"ints.h5"};
	const char *ds[] = {"/i8",    "/u8",  "/i16", "/u16",
			    "/g/i32", "/u32", "/i64", "u64"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 8, NULL);
	pl_hdf5_reader *r = open_ok(&o);
	const pl_schema *s = pl_hdf5_reader_schema(r);
	CU_ASSERT_EQUAL(s->n, 8);
	CU_ASSERT_STRING_EQUAL(s->fields[4].name, "i32");
	CU_ASSERT_STRING_EQUAL(s->fields[7].name, "u64");
	for (size_t i = 0; i < s->n; i++)
		CU_ASSERT_EQUAL(s->fields[i].type, PL_INT64);
	CU_ASSERT_EQUAL(pl_hdf5_reader_total_rows(r), 3);
	pl_batch *b = next_ok(r, 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->nrows, 3);
	int64_t want[8][3] = {{INT8_MIN, -1, INT8_MAX},	  {0, 1, UINT8_MAX},
			      {INT16_MIN, 2, INT16_MAX},  {0, 3, UINT16_MAX},
			      {INT32_MIN, -4, INT32_MAX}, {0, 5, UINT32_MAX},
			      {INT64_MIN, -6, INT64_MAX}, {0, 7, INT64_MAX}};
	for (size_t c = 0; c < 8; c++) {
		CU_ASSERT_PTR_NULL(b->cols[c].valid);
		for (size_t i = 0; i < 3; i++)
			CU_ASSERT_EQUAL(pl_col_i64(&b->cols[c])[i], want[c][i]);
	}
	CU_ASSERT_PTR_NULL(next_ok(r, 100));
	pl_hdf5_stats st = pl_hdf5_reader_stats(r);
	CU_ASSERT_EQUAL(st.rows, 3);
	CU_ASSERT(st.bytes_total > 0 && st.bytes_read == st.bytes_total);
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_uint64_too_big(void)
{
	setup();
	hid_t f = new_file("big.h5");
	uint64_t u64[] = {1, 2, (uint64_t)INT64_MAX + 1};
	put(f, "u", H5T_STD_U64LE, H5T_NATIVE_UINT64, 3, u64, 0);
	H5Fclose(f);
	const char *files[] = {"big.h5"}, *ds[] = {"/u"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 1, NULL);
	const char *words[] = {"big.h5:/u", "row 2", "9223372036854775808",
			       "int64", NULL};
	expect_error(&o, PL_ERR_DATA, words);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_floats(void)
{
	setup();
	hid_t f = new_file("floats.h5");
	float f32[] = {1.5f, -0.25f, 3.0e10f, INFINITY};
	double f64[] = {0.1, -1e300, 5e-324, NAN};
	put(f, "f32", H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, 4, f32, 0);
	put(f, "f64", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 4, f64, 0);
	H5Fclose(f);
	const char *files[] = {"floats.h5"}, *ds[] = {"/f32", "/f64"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 2, NULL);
	pl_hdf5_reader *r = open_ok(&o);
	CU_ASSERT_EQUAL(pl_hdf5_reader_schema(r)->fields[0].type, PL_FLOAT64);
	pl_batch *b = next_ok(r, 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	const double *a = pl_col_f64(&b->cols[0]), *d = pl_col_f64(&b->cols[1]);
	CU_ASSERT(a[0] == 1.5 && a[1] == -0.25 && a[2] == 3.0e10f);
	CU_ASSERT(isinf(a[3]) && a[3] > 0);
	CU_ASSERT(d[0] == 0.1 && d[1] == -1e300 && d[2] == 5e-324);
	CU_ASSERT(isnan(d[3]));
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

static hid_t fixed_str(size_t size, H5T_str_t pad)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, size);
	H5Tset_strpad(t, pad);
	return t;
}

static void test_strings(void)
{
	setup();
	hid_t f = new_file("str.h5");
	hid_t nt = fixed_str(6, H5T_STR_NULLTERM);
	hid_t np = fixed_str(4, H5T_STR_NULLPAD);
	hid_t sp = fixed_str(5, H5T_STR_SPACEPAD);
	hid_t vs = H5Tcopy(H5T_C_S1);
	H5Tset_size(vs, H5T_VARIABLE);
	hid_t vu = H5Tcopy(vs);
	H5Tset_cset(vu, H5T_CSET_UTF8);
	char nts[3][6] = {"hello", "", "ab"};
	char nps[3][4] = {{'a', 'b', 'c', 'd'}, {'x', 0, 0, 0}, {0}};
	char sps[3][5] = {{'a', 'b', ' ', ' ', ' '},
			  {' ', 'x', ' ', ' ', ' '},
			  {'f', 'u', 'l', 'l', '!'}};
	const char *vss[3] = {"variable", "", NULL};
	const char *vus[3] = {"caf\xc3\xa9", "\xe2\x82\xac", "plain"};
	put(f, "nt", nt, nt, 3, nts, 0);
	put(f, "np", np, np, 3, nps, 0);
	put(f, "sp", sp, sp, 3, sps, 0);
	put(f, "vs", vs, vs, 3, vss, 2);
	put(f, "vu", vu, vu, 3, vus, 0);
	H5Tclose(nt);
	H5Tclose(np);
	H5Tclose(sp);
	H5Tclose(vs);
	H5Tclose(vu);
	H5Fclose(f);
	const char *files[] = {"str.h5"};
	const char *ds[] = {"/nt", "/np", "/sp", "/vs", "/vu"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 5, NULL);
	pl_hdf5_reader *r = open_ok(&o);
	for (size_t i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(pl_hdf5_reader_schema(r)->fields[i].type,
				PL_STRING);
	pl_batch *b = next_ok(r, 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	check_str(&b->cols[0], 0, "hello");
	check_str(&b->cols[0], 1, "");
	check_str(&b->cols[0], 2, "ab");
	check_str(&b->cols[1], 0, "abcd");
	check_str(&b->cols[1], 1, "x");
	check_str(&b->cols[1], 2, "");
	check_str(&b->cols[2], 0, "ab");
	check_str(&b->cols[2], 1, " x");
	check_str(&b->cols[2], 2, "full!");
	check_str(&b->cols[3], 0, "variable");
	check_str(&b->cols[3], 1, "");
	check_str(&b->cols[3], 2, "");
	check_str(&b->cols[4], 0, "caf\xc3\xa9");
	check_str(&b->cols[4], 1, "\xe2\x82\xac");
	check_str(&b->cols[4], 2, "plain");
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

typedef struct rec {
	int16_t a;
	double x;
	char tag[4];
	const char *name;
	uint32_t n;
} rec;

static hid_t rec_type(void)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(rec));
	hid_t tag = fixed_str(4, H5T_STR_NULLPAD);
	hid_t vs = H5Tcopy(H5T_C_S1);
	H5Tset_size(vs, H5T_VARIABLE);
	H5Tinsert(t, "a", HOFFSET(rec, a), H5T_NATIVE_INT16);
	H5Tinsert(t, "x", HOFFSET(rec, x), H5T_NATIVE_DOUBLE);
	H5Tinsert(t, "tag", HOFFSET(rec, tag), tag);
	H5Tinsert(t, "name", HOFFSET(rec, name), vs);
	H5Tinsert(t, "n", HOFFSET(rec, n), H5T_NATIVE_UINT32);
	H5Tclose(tag);
	H5Tclose(vs);
	return t;
}

static void make_compound(const char *file, const char *path, size_t n,
			  int first)
{
	hid_t f = new_file(file);
	rec *v = calloc(n, sizeof(*v));
	char names[64][16];
	for (size_t i = 0; i < n; i++) {
		v[i].a = (int16_t)(first + (int)i);
		v[i].x = (first + (int)i) * 0.5;
		snprintf(v[i].tag, sizeof(v[i].tag), "t%zu", i % 10);
		snprintf(names[i % 64], sizeof(names[0]), "name%d",
			 first + (int)i);
		v[i].name = names[i % 64];
		v[i].n = 4000000000u;
	}
	hid_t t = rec_type();
	hid_t ft = H5Tcopy(t);
	H5Tpack(ft);
	put(f, path, ft, t, n, v, 4);
	H5Tclose(ft);
	H5Tclose(t);
	free(v);
	H5Fclose(f);
}

/* The reader's schema is exactly these names and types. */
static void check_schema(const pl_hdf5_reader *r, const char *const *names,
			 const pl_type *types, size_t n)
{
	const pl_schema *s = pl_hdf5_reader_schema(r);
	CU_ASSERT_EQUAL_FATAL(s->n, n);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_STRING_EQUAL(s->fields[i].name, names[i]);
		CU_ASSERT_EQUAL(s->fields[i].type, types[i]);
	}
}

static void test_compound(void)
{
	setup();
	make_compound("c.h5", "/grp/table", 10, 100);
	const char *files[] = {"c.h5"};
	pl_hdf5_options o;
	opts(&o, files, 1, NULL, 0, "/grp/table");
	pl_hdf5_reader *r = open_ok(&o);
	const char *names[] = {"a", "x", "tag", "name", "n"};
	pl_type types[] = {PL_INT64, PL_FLOAT64, PL_STRING, PL_STRING,
			   PL_INT64};
	check_schema(r, names, types, 5);
	size_t seen = 0;
	pl_batch *b;
	while ((b = next_ok(r, 6)) != NULL) {
		CU_ASSERT_EQUAL(b->nrows, seen == 0 ? 4 : seen == 4 ? 4 : 2);
		for (size_t i = 0; i < b->nrows; i++, seen++) {
			char want[16];
			CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[i],
					100 + (int64_t)seen);
			CU_ASSERT_EQUAL(pl_col_f64(&b->cols[1])[i],
					(100 + (int)seen) * 0.5);
			snprintf(want, sizeof(want), "t%zu", seen % 10);
			check_str(&b->cols[2], i, want);
			snprintf(want, sizeof(want), "name%zu", 100 + seen);
			check_str(&b->cols[3], i, want);
			CU_ASSERT_EQUAL(pl_col_i64(&b->cols[4])[i], 4000000000);
		}
	}
	CU_ASSERT_EQUAL(seen, 10);
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_column_selection(void)
{
	setup();
	make_compound("c.h5", "/table", 5, 0);
	const char *files[] = {"c.h5"}, *cols[] = {"name", "a"};
	pl_hdf5_options o;
	opts(&o, files, 1, NULL, 0, "table");
	select_cols(&o, cols, 2);
	pl_hdf5_reader *r = open_ok(&o);
	const pl_schema *s = pl_hdf5_reader_schema(r);
	CU_ASSERT_EQUAL_FATAL(s->n, 2);
	CU_ASSERT_STRING_EQUAL(s->fields[0].name, "name");
	CU_ASSERT_EQUAL(s->fields[1].type, PL_INT64);
	pl_batch *b = next_ok(r, 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->ncols, 2);
	check_str(&b->cols[0], 4, "name4");
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[1])[3], 3);
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_unknown_column(void)
{
	setup();
	make_compound("c.h5", "/table", 5, 0);
	const char *files[] = {"c.h5"}, *cols[] = {"nmae"};
	pl_hdf5_options o;
	opts(&o, files, 1, NULL, 0, "/table");
	select_cols(&o, cols, 1);
	const char *words[] = {"no column 'nmae'", "c.h5", "name", NULL};
	expect_error(&o, PL_ERR_CONF, words);
	pl_hdf5_options_free(&o);
	teardown();
}

/* Files of 3, 0 and 5 rows holding 0..7 in /v and /w = 10 * v. */
static void make_parts(void)
{
	int64_t v[8], w[8];
	for (int i = 0; i < 8; i++) {
		v[i] = i;
		w[i] = 10 * i;
	}
	hid_t f = new_file("p1.h5");
	put_i64(f, "v", 3, v, 2);
	put_i64(f, "w", 3, w, 0);
	H5Fclose(f);
	f = new_file("p2.h5");
	put_i64(f, "v", 0, v, 0);
	put_i64(f, "w", 0, w, 0);
	H5Fclose(f);
	f = new_file("p3.h5");
	put(f, "v", H5T_STD_I32LE, H5T_NATIVE_INT64, 5, v + 3, 2);
	put_i64(f, "w", 5, w + 3, 0);
	H5Fclose(f);
}

static void test_multi_file(void)
{
	setup();
	make_parts();
	const char *files[] = {"p1.h5", "p2.h5", "p3.h5"};
	const char *ds[] = {"/v", "/w"};
	pl_hdf5_options o;
	opts(&o, files, 3, ds, 2, NULL);
	pl_hdf5_reader *r = open_ok(&o);
	CU_ASSERT_EQUAL(pl_hdf5_reader_total_rows(r), 8);
	int64_t next = 0;
	pl_batch *b;
	while ((b = next_ok(r, 4)) != NULL)
		for (size_t i = 0; i < b->nrows; i++, next++) {
			CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[i], next);
			CU_ASSERT_EQUAL(pl_col_i64(&b->cols[1])[i], 10 * next);
		}
	CU_ASSERT_EQUAL(next, 8);
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_set_range(void)
{
	setup();
	make_parts();
	const char *files[] = {"p1.h5", "p2.h5", "p3.h5"};
	const char *ds[] = {"/w"};
	pl_hdf5_options o;
	opts(&o, files, 3, ds, 1, NULL);
	for (uint64_t first = 0; first <= 8; first++) {
		for (uint64_t count = 0; first + count <= 8; count++) {
			pl_hdf5_reader *r = open_ok(&o);
			CU_ASSERT_EQUAL(
			    pl_hdf5_reader_set_range(r, first, count, &err), 0);
			uint64_t next = first;
			pl_batch *b;
			while ((b = next_ok(r, 2)) != NULL)
				for (size_t i = 0; i < b->nrows; i++, next++)
					CU_ASSERT_EQUAL(
					    pl_col_i64(&b->cols[0])[i],
					    10 * (int64_t)next);
			CU_ASSERT_EQUAL(next, first + count);
			CU_ASSERT_EQUAL(pl_hdf5_reader_stats(r).rows, count);
			pl_hdf5_reader_close(r);
		}
	}
	pl_hdf5_reader *r = open_ok(&o);
	CU_ASSERT_EQUAL(pl_hdf5_reader_set_range(r, 5, 4, &err),
			PL_ERR_INTERNAL);
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

/* Batches end on chunk boundaries when a whole chunk fits. */
static void test_chunk_aligned(void)
{
	setup();
	int64_t v[35];
	for (int i = 0; i < 35; i++)
		v[i] = i;
	hid_t f = new_file("ch.h5");
	put_i64(f, "v", 35, v, 10);
	H5Fclose(f);
	const char *files[] = {"ch.h5"}, *ds[] = {"/v"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 1, NULL);
	pl_hdf5_reader *r = open_ok(&o);
	size_t want[] = {20, 15}, k = 0;
	pl_batch *b;
	while ((b = next_ok(r, 25)) != NULL) {
		CU_ASSERT(k < 2 && b->nrows == want[k]);
		k++;
	}
	CU_ASSERT_EQUAL(k, 2);
	CU_ASSERT_EQUAL(pl_hdf5_reader_set_range(r, 0, 1, &err),
			PL_ERR_INTERNAL);
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

/* Ranks' row ranges are cut at the nearest chunk boundary of the file
 * holding the cut: 35 rows in chunks of 10, then 8 contiguous rows. */
static void test_align_to_chunks(void)
{
	setup();
	int64_t v[35];
	for (int i = 0; i < 35; i++)
		v[i] = i;
	hid_t f = new_file("a1.h5");
	put_i64(f, "v", 35, v, 10);
	H5Fclose(f);
	f = new_file("a2.h5");
	put_i64(f, "v", 8, v, 0);
	H5Fclose(f);
	const char *files[] = {"a1.h5", "a2.h5"}, *ds[] = {"/v"};
	pl_hdf5_options o;
	opts(&o, files, 2, ds, 1, NULL);
	pl_hdf5_reader *r = open_ok(&o);
	static const uint64_t in[] = {0,  4,  5,  6,  14, 16,
				      29, 31, 34, 35, 39, 43};
	static const uint64_t out[] = {0,  0,  0,  10, 10, 20,
				       30, 30, 35, 35, 39, 43};
	for (size_t i = 0; i < sizeof(in) / sizeof(*in); i++) {
		if (pl_hdf5_reader_align(r, in[i]) != out[i])
			fprintf(
			    stderr, "\n  align(%llu) = %llu, want %llu\n",
			    (unsigned long long)in[i],
			    (unsigned long long)pl_hdf5_reader_align(r, in[i]),
			    (unsigned long long)out[i]);
		CU_ASSERT_EQUAL(pl_hdf5_reader_align(r, in[i]), out[i]);
	}
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

/* The chunk cache a table's dataset gets, in bytes. */
static size_t cache_of(const pl_hdf5_options *o, size_t i)
{
	pl_h5_table t;
	CU_ASSERT_EQUAL_FATAL(pl_h5_table_open(o, 0, &t, &err), 0);
	hid_t dapl = H5Dget_access_plist(t.src[i].dset);
	size_t slots = 0, bytes = 0;
	double w0 = 0;
	CU_ASSERT(H5Pget_chunk_cache(dapl, &slots, &bytes, &w0) >= 0);
	H5Pclose(dapl);
	pl_h5_table_close(&t);
	return bytes;
}

/* Two chunks a dataset (at least 4 MiB), within its share of the budget
 * when there is one. */
static void test_chunk_cache_budget(void)
{
	setup();
	size_t n = 1 << 20;
	int64_t *v = calloc(n, sizeof(*v));
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	hid_t f = new_file("cache.h5");
	put_i64(f, "big", n, v, 1 << 19);   /* 4 MiB chunks */
	put_i64(f, "small", n, v, 1 << 10); /* 8 KiB chunks */
	H5Fclose(f);
	free(v);
	const char *files[] = {"cache.h5"}, *ds[] = {"/big", "/small"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 2, NULL);
	CU_ASSERT_EQUAL(cache_of(&o, 0), (size_t)8 << 20);
	CU_ASSERT_EQUAL(cache_of(&o, 1), (size_t)4 << 20);
	o.cache_budget = (uint64_t)64 << 20; /* 32 MiB a dataset */
	CU_ASSERT_EQUAL(cache_of(&o, 0), (size_t)8 << 20);
	o.cache_budget = (uint64_t)6 << 20; /* 3 MiB a dataset */
	CU_ASSERT_EQUAL(cache_of(&o, 0), (size_t)3 << 20);
	CU_ASSERT_EQUAL(cache_of(&o, 1), (size_t)3 << 20);
	/* reading still gives every row */
	pl_hdf5_reader *r = open_ok(&o);
	size_t rows = 0;
	pl_batch *b;
	while ((b = next_ok(r, 300000)) != NULL)
		rows += b->nrows;
	CU_ASSERT_EQUAL(rows, n);
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_not_hdf5(void)
{
	setup();
	char p[128];
	FILE *fp = fopen(in_dir("text.h5", p, sizeof(p)), "w");
	fputs("a,b\n1,2\n", fp);
	fclose(fp);
	const char *files[] = {"text.h5"}, *ds[] = {"/a"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 1, NULL);
	const char *words[] = {"text.h5", "not an HDF5 file", NULL};
	expect_error(&o, PL_ERR_DATA, words);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_missing_file(void)
{
	setup();
	const char *files[] = {"nope.h5"}, *ds[] = {"/a"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 1, NULL);
	const char *words[] = {"nope.h5", "No such file", NULL};
	expect_error(&o, PL_ERR_IO, words);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_truncated(void)
{
	setup();
	int64_t v[1000] = {0};
	hid_t f = new_file("t.h5");
	put_i64(f, "v", 1000, v, 0);
	H5Fclose(f);
	char p[128];
	CU_ASSERT_EQUAL(truncate(in_dir("t.h5", p, sizeof(p)), 3000), 0);
	const char *files[] = {"t.h5"}, *ds[] = {"/v"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 1, NULL);
	const char *words[] = {"t.h5", "truncated", NULL};
	expect_error(&o, PL_ERR_DATA, words);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_missing_dataset(void)
{
	setup();
	int64_t v[2] = {1, 2};
	hid_t f = new_file("m.h5");
	put_i64(f, "v", 2, v, 0);
	H5Fclose(f);
	const char *files[] = {"m.h5"}, *ds[] = {"/v", "/g/w"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 2, NULL);
	const char *words[] = {"m.h5:/g/w", "no such dataset", NULL};
	expect_error(&o, PL_ERR_DATA, words);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_unequal_lengths(void)
{
	setup();
	int64_t v[3] = {1, 2, 3};
	hid_t f = new_file("u.h5");
	put_i64(f, "a", 3, v, 0);
	put_i64(f, "b", 2, v, 0);
	H5Fclose(f);
	const char *files[] = {"u.h5"}, *ds[] = {"/a", "/b"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 2, NULL);
	const char *words[] = {"u.h5:/b", "2 rows", "/a has 3", NULL};
	expect_error(&o, PL_ERR_DATA, words);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_two_d(void)
{
	setup();
	hid_t f = new_file("2d.h5");
	hsize_t dims[2] = {2, 2};
	int64_t v[4] = {1, 2, 3, 4};
	hid_t sp = H5Screate_simple(2, dims, NULL);
	hid_t d = H5Dcreate2(f, "m", H5T_STD_I64LE, sp, H5P_DEFAULT,
			     H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
	H5Dclose(d);
	H5Sclose(sp);
	H5Fclose(f);
	const char *files[] = {"2d.h5"}, *ds[] = {"/m"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 1, NULL);
	const char *words[] = {"2d.h5:/m", "2-D", "1-D", NULL};
	expect_error(&o, PL_ERR_DATA, words);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_unsupported_types(void)
{
	setup();
	hid_t f = new_file("ty.h5");
	hsize_t three = 3;
	hid_t arr = H5Tarray_create2(H5T_STD_I32LE, 1, &three);
	hid_t marr = H5Tarray_create2(H5T_NATIVE_INT32, 1, &three);
	int32_t av[6] = {1, 2, 3, 4, 5, 6};
	put(f, "arr", arr, marr, 2, av, 0);
	hid_t op = H5Tcreate(H5T_OPAQUE, 4);
	H5Tset_tag(op, "blob");
	put(f, "op", op, op, 2, av, 0);
	hsize_t two_by_two[2] = {2, 2};
	hid_t sq = H5Tarray_create2(H5T_NATIVE_INT32, 2, two_by_two);
	hid_t nest = H5Tcreate(H5T_COMPOUND, 20);
	H5Tinsert(nest, "k", 0, H5T_NATIVE_INT32);
	H5Tinsert(nest, "v", 4, sq);
	int32_t nv[10] = {0};
	put(f, "nest", nest, nest, 2, nv, 0);
	H5Tclose(nest);
	H5Tclose(sq);
	H5Tclose(op);
	H5Tclose(arr);
	H5Tclose(marr);
	H5Fclose(f);
	const char *files[] = {"ty.h5"};
	const char *d1[] = {"/arr"}, *d2[] = {"/op"};
	pl_hdf5_options o;
	opts(&o, files, 1, d1, 1, NULL);
	const char *w1[] = {"ty.h5:/arr", "unsupported type",
			    "array of 3 32-bit signed integer", NULL};
	expect_error(&o, PL_ERR_DATA, w1);
	pl_hdf5_options_free(&o);
	opts(&o, files, 1, d2, 1, NULL);
	const char *w2[] = {"ty.h5:/op", "unsupported type opaque", NULL};
	expect_error(&o, PL_ERR_DATA, w2);
	pl_hdf5_options_free(&o);
	opts(&o, files, 1, NULL, 0, "/nest");
	const char *w3[] = {"ty.h5:/nest", "field 'v'", "array of 4", NULL};
	expect_error(&o, PL_ERR_DATA, w3);
	pl_hdf5_options_free(&o);
	opts(&o, files, 1, NULL, 0, "/op");
	const char *w4[] = {"ty.h5:/op", "not a compound dataset", NULL};
	expect_error(&o, PL_ERR_DATA, w4);
	pl_hdf5_options_free(&o);
	teardown();
}

/* A 1-D array field is a column per element, v_0 .. v_2, each read from
 * its place in the row; enums read as their members' names. */
static void test_array_fields_and_enums(void)
{
	setup();
	hid_t f = new_file("arr.h5");
	hsize_t three = 3;
	hid_t marr = H5Tarray_create2(H5T_NATIVE_INT32, 1, &three);
	hid_t col = H5Tenum_create(H5T_NATIVE_INT8);
	int8_t red = -1, blue = 42;
	H5Tenum_insert(col, "RED", &red);
	H5Tenum_insert(col, "BLUE", &blue);
	hid_t rtype = H5Tcreate(H5T_COMPOUND, 20);
	H5Tinsert(rtype, "k", 0, H5T_NATIVE_INT32);
	H5Tinsert(rtype, "v", 4, marr);
	H5Tinsert(rtype, "c", 16, col);
	struct {
		int32_t k, v[3];
		int8_t c, pad[3];
	} rows[4];
	memset(rows, 0, sizeof(rows));
	for (int i = 0; i < 4; i++) {
		rows[i].k = i;
		for (int j = 0; j < 3; j++)
			rows[i].v[j] = 10 * i + j;
		rows[i].c = i % 2 ? blue : red;
	}
	put(f, "t", rtype, rtype, 4, rows, 0);
	H5Tclose(rtype);
	H5Tclose(col);
	H5Tclose(marr);
	H5Fclose(f);
	const char *files[] = {"arr.h5"};
	pl_hdf5_options o;
	opts(&o, files, 1, NULL, 0, "/t");
	pl_hdf5_reader *r = open_ok(&o);
	const char *names[] = {"k", "v_0", "v_1", "v_2", "c"};
	pl_type types[] = {PL_INT64, PL_INT64, PL_INT64, PL_INT64, PL_STRING};
	check_schema(r, names, types, 5);
	size_t seen = 0;
	pl_batch *b;
	while ((b = next_ok(r, 3)) != NULL) {
		for (size_t i = 0; i < b->nrows; i++, seen++) {
			for (int j = 0; j < 3; j++)
				CU_ASSERT_EQUAL(pl_col_i64(&b->cols[1 + j])[i],
						10 * (int64_t)seen + j);
			check_str(&b->cols[4], i, seen % 2 ? "BLUE" : "RED");
		}
	}
	CU_ASSERT_EQUAL(seen, 4);
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_files_disagree(void)
{
	setup();
	int64_t v[2] = {1, 2};
	double d[2] = {1, 2};
	hid_t f = new_file("a.h5");
	put_i64(f, "x", 2, v, 0);
	H5Fclose(f);
	f = new_file("b.h5");
	put(f, "x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d, 0);
	H5Fclose(f);
	const char *files[] = {"a.h5", "b.h5"}, *ds[] = {"/x"};
	pl_hdf5_options o;
	opts(&o, files, 2, ds, 1, NULL);
	const char *words[] = {"b.h5:/x", "float64", "a.h5", "int64", NULL};
	expect_error(&o, PL_ERR_DATA, words);
	pl_hdf5_options_free(&o);
	teardown();
}

/* A batch of the writer tests' schema: i (int64), x (float64), ok (bool),
 * s (string), rows [first, first + n); row r is NULL in every column when
 * r % 5 == 3 and nulls is set. */
static pl_batch *make_batch(const pl_schema *s, int first, int n, int nulls)
{
	pl_batch *b = pl_batch_new(s, (size_t)n, pool, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (int r = first; r < first + n; r++) {
		if (nulls && r % 5 == 3) {
			for (size_t c = 0; c < 4; c++)
				pl_column_push_null(&b->cols[c], pool, &err);
			continue;
		}
		char text[32];
		snprintf(text, sizeof(text), r % 4 ? "s%d" : "", r);
		pl_column_push_i64(&b->cols[0], r * 1000003LL, pool, &err);
		pl_column_push_f64(&b->cols[1], r + 0.25, pool, &err);
		pl_column_push_bool(&b->cols[2], r % 2, pool, &err);
		pl_column_push_str(&b->cols[3], text, strlen(text), pool, &err);
	}
	pl_batch_sync_rows(b);
	return b;
}

static void writer_schema(pl_schema *s)
{
	pl_schema_init(s);
	pl_schema_add(s, "i", PL_INT64, &err);
	pl_schema_add(s, "x", PL_FLOAT64, &err);
	pl_schema_add(s, "ok", PL_BOOL, &err);
	pl_schema_add(s, "s", PL_STRING, &err);
}

/* Writes rows 0..n in batches of 7; NULLs from the second batch on. The
 * shape comes first (as the output does it), then each batch at its row. */
static void write_file(const char *name, int layout, const char *group,
		       int level, int n)
{
	char p[128];
	pl_hdf5_sink_options so = {in_dir(name, p, sizeof(p)),
				   layout,
				   group,
				   level,
				   "myjob",
				   "csv: in.csv"};
	pl_schema s;
	writer_schema(&s);
	pl_batch *b[64];
	int nb = 0;
	pl_hdf5_shape sh;
	CU_ASSERT_EQUAL_FATAL(pl_hdf5_shape_init(&sh, &s, &err), 0);
	for (int first = 0; first < n && nb < 64; first += 7) {
		int m = n - first < 7 ? n - first : 7;
		b[nb] = make_batch(&s, first, m, first > 0);
		pl_hdf5_shape_add(&sh, b[nb++]);
	}
	CU_ASSERT_EQUAL(sh.rows, (uint64_t)n);
	FILE *f = fopen(p, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fclose(f);
	pl_hdf5_writer *w = NULL;
	int rc = pl_hdf5_writer_open(&so, p, &s, &sh, MPI_COMM_NULL, &w, &err);
	if (rc != 0)
		fprintf(stderr, "\n  writer: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	for (int k = 0; k < nb; k++) {
		CU_ASSERT_EQUAL(
		    pl_hdf5_writer_write(w, (uint64_t)k * 7, b[k], &err), 0);
		pl_batch_free(b[k], pool);
	}
	CU_ASSERT_EQUAL(pl_hdf5_writer_close(w, &err), 0);
	pl_hdf5_shape_free(&sh);
	pl_schema_free(&s);
}

static void check_round_trip(const pl_hdf5_options *o, int n)
{
	pl_hdf5_reader *r = open_ok(o);
	const pl_schema *s = pl_hdf5_reader_schema(r);
	CU_ASSERT_EQUAL_FATAL(s->n, 4);
	CU_ASSERT_EQUAL(s->fields[0].type, PL_INT64);
	CU_ASSERT_EQUAL(s->fields[1].type, PL_FLOAT64);
	CU_ASSERT_EQUAL(s->fields[2].type, PL_BOOL);
	CU_ASSERT_EQUAL(s->fields[3].type, PL_STRING);
	CU_ASSERT_STRING_EQUAL(s->fields[2].name, "ok");
	int next = 0;
	pl_batch *b;
	while ((b = next_ok(r, 6)) != NULL) {
		for (size_t i = 0; i < b->nrows; i++, next++) {
			int null = next >= 7 && next % 5 == 3;
			for (size_t c = 0; c < 4; c++)
				CU_ASSERT_EQUAL(
				    pl_column_is_null(&b->cols[c], i), null);
			if (null) {
				CU_ASSERT_EQUAL(pl_col_f64(&b->cols[1])[i], 0);
				check_str(&b->cols[3], i, "");
				continue;
			}
			char text[32];
			snprintf(text, sizeof(text), next % 4 ? "s%d" : "",
				 next);
			CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[i],
					next * 1000003LL);
			CU_ASSERT_EQUAL(pl_col_f64(&b->cols[1])[i],
					next + 0.25);
			CU_ASSERT_EQUAL(pl_col_bool(&b->cols[2])[i], next % 2);
			check_str(&b->cols[3], i, text);
		}
	}
	CU_ASSERT_EQUAL(next, n);
	pl_hdf5_reader_close(r);
}

static void round_trip(int layout, int level)
{
	setup();
	write_file("out.h5", layout, "/res/run1", level, 40);
	const char *files[] = {"out.h5"};
	const char *ds[] = {"/res/run1/i", "/res/run1/x", "/res/run1/ok",
			    "/res/run1/s"};
	pl_hdf5_options o;
	if (layout == PL_HDF5_COMPOUND)
		opts(&o, files, 1, NULL, 0, "/res/run1/table");
	else
		opts(&o, files, 1, ds, 4, NULL);
	check_round_trip(&o, 40);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_write_columns(void)
{
	round_trip(PL_HDF5_COLUMNS, 0);
}
static void test_write_columns_zstd(void)
{
	round_trip(PL_HDF5_COLUMNS, 5);
}
static void test_write_compound(void)
{
	round_trip(PL_HDF5_COMPOUND, 0);
}
static void test_write_compound_zstd(void)
{
	round_trip(PL_HDF5_COMPOUND, 3);
}

/* A compressed compound table, read once per field for every batch, gets
 * a cache of 64 MiB (within the budget's share); an uncompressed one the
 * usual two chunks (4 MiB at least). */
static void test_chunk_cache_compound(void)
{
	setup();
	write_file("cz.h5", PL_HDF5_COMPOUND, "/", 3, 20);
	write_file("cp.h5", PL_HDF5_COMPOUND, "/", 0, 20);
	const char *zf[] = {"cz.h5"}, *pf[] = {"cp.h5"};
	pl_hdf5_options o;
	opts(&o, zf, 1, NULL, 0, "/table");
	CU_ASSERT_EQUAL(cache_of(&o, 0), (size_t)64 << 20);
	o.cache_budget = (uint64_t)5 << 20;
	CU_ASSERT_EQUAL(cache_of(&o, 0), (size_t)5 << 20);
	pl_hdf5_options_free(&o);
	opts(&o, pf, 1, NULL, 0, "/table");
	CU_ASSERT_EQUAL(cache_of(&o, 0), (size_t)4 << 20);
	pl_hdf5_options_free(&o);
	teardown();
}

/* Runs cmd through the shell with the test's directory as $D. */
static int sh(const char *cmd)
{
	char full[2048];
	snprintf(full, sizeof(full), "D=%s; %s", dir, cmd);
	return system(full);
}

/* h5dump, another reader, sees the filter, the types and the values. */
static void test_h5dump_reads_output(void)
{
	setup();
	write_file("z.h5", PL_HDF5_COLUMNS, "/", 4, 10);
	write_file("plain.h5", PL_HDF5_COMPOUND, "/g", 0, 10);
	CU_ASSERT_EQUAL(sh("h5dump -p -H -d /i $D/z.h5 | grep -q 'FILTER_ID "
			   "32015'"),
			0);
	CU_ASSERT_EQUAL(sh("h5dump -H $D/z.h5 | grep -q 'H5T_STD_I64LE'"), 0);
	CU_ASSERT_EQUAL(sh("h5dump -H -d /s $D/z.h5 | grep -q 'H5T_CSET_UTF8'"),
			0);
	CU_ASSERT_EQUAL(sh("h5dump -H -d /ok $D/z.h5 | grep -q 'H5T_ENUM'"), 0);
	CU_ASSERT_EQUAL(sh("h5dump -A -d /i $D/z.h5 | grep -q 'myjob'"), 0);
	CU_ASSERT_EQUAL(sh("h5dump -d /g/table -y -w 0 $D/plain.h5 | tr -d "
			   "' \\n' | grep -q '{3000009,3.25,TRUE,\"s3\"}'"),
			0);
	CU_ASSERT_EQUAL(
	    sh("h5dump -d /g/x__valid -y -w 0 $D/plain.h5 | tr -d ' "
	       "\\n' | grep -q '1,1,1,1,1,1,1,1,0,1'"),
	    0);
	teardown();
}

/* h5py (Debian's python3-h5py) reads our output with the types it would
 * have written itself: int64, float64, bool and str. */
static void test_h5py_reads_output(void)
{
	setup();
	write_file("cols.h5", PL_HDF5_COLUMNS, "/", 0, 10);
	write_file("comp.h5", PL_HDF5_COMPOUND, "/g", 0, 10);
	CU_ASSERT_EQUAL(
	    sh("/usr/bin/python3 -c 'import sys, h5py; "
	       "f = h5py.File(sys.argv[1]); "
	       "assert list(f[\"i\"][:3]) == [0, 1000003, 2000006]; "
	       "assert f[\"s\"][1].decode() == \"s1\"; "
	       "assert f[\"s\"].asstr()[1] == \"s1\"; "
	       "assert f[\"ok\"].dtype == bool and f[\"ok\"][1]; "
	       "assert f[\"x\"][8] != f[\"x\"][8]; "
	       "assert list(f[\"x__valid\"][7:10]) == [1, 0, 1]; "
	       "assert f[\"i\"].attrs[\"job\"] == \"myjob\"; "
	       "g = h5py.File(sys.argv[2])[\"g/table\"]; "
	       "assert g.dtype.names == (\"i\", \"x\", \"ok\", \"s\"); "
	       "assert g[3][\"i\"] == 3000009 and g[3][\"ok\"]' "
	       "$D/cols.h5 $D/comp.h5"),
	    0);
	teardown();
}

/* We read what h5py writes: numpy's integer widths, bool, float32, str,
 * fixed-width bytes, and a compound of them. */
static void test_reads_h5py_file(void)
{
	setup();
	CU_ASSERT_EQUAL_FATAL(
	    sh("/usr/bin/python3 -c 'import sys, h5py, numpy as np; "
	       "f = h5py.File(sys.argv[1], \"w\"); "
	       "f[\"i1\"] = np.array([-128, 0, 127], dtype=\"i1\"); "
	       "f[\"u2\"] = np.array([0, 1, 65535], dtype=\">u2\"); "
	       "f[\"b\"] = np.array([True, False, True]); "
	       "f[\"f4\"] = np.array([0.5, -2, 1e30], dtype=\"f4\"); "
	       "f[\"s\"] = [\"a\", \"\", \"\u00e9t\u00e9\"]; "
	       "f[\"fx\"] = np.array([b\"ab\", b\"\", b\"xyz\"], "
	       "dtype=\"S3\"); "
	       "dt = np.dtype([(\"k\", \"<i4\"), (\"on\", bool), "
	       "(\"v\", \"<f8\")]); "
	       "f.create_dataset(\"t\", data=np.array([(1, True, 1.5), "
	       "(2, False, -3)], dtype=dt), chunks=(1,))' $D/py.h5"),
	    0);
	const char *files[] = {"py.h5"};
	const char *ds[] = {"/i1", "/u2", "/b", "/f4", "/s", "/fx"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 6, NULL);
	pl_hdf5_reader *r = open_ok(&o);
	CU_ASSERT_EQUAL(pl_hdf5_reader_schema(r)->fields[2].type, PL_BOOL);
	pl_batch *b = next_ok(r, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[0], -128);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[1])[2], 65535);
	CU_ASSERT(pl_col_bool(&b->cols[2])[0] == 1 &&
		  pl_col_bool(&b->cols[2])[1] == 0);
	CU_ASSERT_EQUAL(pl_col_f64(&b->cols[3])[2], 1e30f);
	check_str(&b->cols[4], 2, "\xc3\xa9t\xc3\xa9");
	check_str(&b->cols[5], 0, "ab");
	check_str(&b->cols[5], 1, "");
	check_str(&b->cols[5], 2, "xyz");
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	opts(&o, files, 1, NULL, 0, "/t");
	r = open_ok(&o);
	CU_ASSERT_EQUAL(pl_hdf5_reader_schema(r)->fields[1].type, PL_BOOL);
	b = next_ok(r, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->nrows, 2);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[1], 2);
	CU_ASSERT_EQUAL(pl_col_bool(&b->cols[1])[0], 1);
	CU_ASSERT_EQUAL(pl_col_f64(&b->cols[2])[1], -3);
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

/* Our chunks are single zstd frames, as hdf5plugin writes them (Debian
 * has no zstd HDF5 plugin to check against): a chunk read raw decodes
 * with ZSTD_decompress, and a frame written raw reads back. */
static void test_zstd_chunks_are_frames(void)
{
	setup();
	write_file("z.h5", PL_HDF5_COLUMNS, "/", 3, 10);
	char p[128];
	hid_t f =
	    H5Fopen(in_dir("z.h5", p, sizeof(p)), H5F_ACC_RDWR, H5P_DEFAULT);
	CU_ASSERT_FATAL(f >= 0);
	hid_t d = H5Dopen2(f, "i", H5P_DEFAULT);
	hsize_t at = 0, size = 0;
	uint32_t mask = 0;
	CU_ASSERT(H5Dget_chunk_storage_size(d, &at, &size) >= 0);
	char *raw = malloc(size);
	CU_ASSERT(H5Dread_chunk(d, H5P_DEFAULT, &at, &mask, raw) >= 0);
	int64_t v[65536];
	CU_ASSERT_EQUAL(ZSTD_decompress(v, sizeof(v), raw, size), sizeof(v));
	CU_ASSERT(v[9] == 9 * 1000003LL && v[10] == 0);
	for (int k = 0; k < 10; k++)
		v[k] = -k;
	size_t cap = ZSTD_compressBound(sizeof(v));
	char *frame = realloc(raw, cap);
	size_t n = ZSTD_compress(frame, cap, v, sizeof(v), 1);
	CU_ASSERT(H5Dwrite_chunk(d, H5P_DEFAULT, 0, &at, n, frame) >= 0);
	free(frame);
	H5Dclose(d);
	H5Fclose(f);
	const char *files[] = {"z.h5"}, *ds[] = {"/i"};
	pl_hdf5_options o;
	opts(&o, files, 1, ds, 1, NULL);
	pl_hdf5_reader *r = open_ok(&o);
	pl_batch *b = next_ok(r, 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->nrows, 10);
	for (int k = 0; k < 10; k++) /* row 8 is NULL, read as 0 */
		CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[k], k == 8 ? 0 : -k);
	CU_ASSERT(pl_column_is_null(&b->cols[0], 8));
	pl_hdf5_reader_close(r);
	pl_hdf5_options_free(&o);
	teardown();
}

/* The shape counts rows, NULLs per column, and string widths up to the
 * first NUL (where an HDF5 string ends). */
static void test_writer_shape(void)
{
	setup();
	pl_schema s;
	writer_schema(&s);
	pl_hdf5_shape sh;
	CU_ASSERT_EQUAL_FATAL(pl_hdf5_shape_init(&sh, &s, &err), 0);
	pl_batch *b = make_batch(&s, 0, 3, 0);
	pl_hdf5_shape_add(&sh, b);
	pl_batch_free(b, pool);
	CU_ASSERT_EQUAL(sh.rows, 3);
	CU_ASSERT_EQUAL(sh.width[3], 2); /* "s1", "s2" */
	CU_ASSERT_EQUAL(sh.nulls[0] + sh.nulls[3], 0);
	b = make_batch(&s, 3, 1, 1); /* row 3: NULL everywhere */
	pl_hdf5_shape_add(&sh, b);
	pl_batch_free(b, pool);
	CU_ASSERT(sh.nulls[0] && sh.nulls[1] && sh.nulls[2] && sh.nulls[3]);
	b = pl_batch_new(&s, 1, pool, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	pl_column_push_i64(&b->cols[0], 1, pool, &err);
	pl_column_push_f64(&b->cols[1], 1, pool, &err);
	pl_column_push_bool(&b->cols[2], 1, pool, &err);
	pl_column_push_str(&b->cols[3], "abc\0defghij", 11, pool, &err);
	pl_batch_sync_rows(b);
	pl_hdf5_shape_add(&sh, b);
	pl_batch_free(b, pool);
	CU_ASSERT_EQUAL(sh.width[3], 3);
	CU_ASSERT_EQUAL(sh.rows, 5);
	pl_hdf5_shape_free(&sh);
	pl_schema_free(&s);
	teardown();
}

/* Opening fails cleanly: a file that cannot be created names the output,
 * a column name that cannot name a dataset is a data error. */
static void test_writer_open_errors(void)
{
	setup();
	pl_hdf5_sink_options so = {
	    "/nonexistent-dir/x.h5", PL_HDF5_COLUMNS, "/", 1, NULL, NULL};
	pl_schema s;
	writer_schema(&s);
	pl_hdf5_shape sh;
	CU_ASSERT_EQUAL_FATAL(pl_hdf5_shape_init(&sh, &s, &err), 0);
	pl_hdf5_writer *w = NULL;
	CU_ASSERT_EQUAL(
	    pl_hdf5_writer_open(&so, so.path, &s, &sh, MPI_COMM_NULL, &w, &err),
	    PL_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent-dir/x.h5"));
	CU_ASSERT_PTR_NULL(w);
	pl_hdf5_shape_free(&sh);
	pl_schema_free(&s);
	pl_schema_init(&s);
	pl_schema_add(&s, "a/b", PL_INT64, &err);
	CU_ASSERT_EQUAL_FATAL(pl_hdf5_shape_init(&sh, &s, &err), 0);
	char p[128];
	so.path = in_dir("bad.h5", p, sizeof(p));
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(
	    pl_hdf5_writer_open(&so, so.path, &s, &sh, MPI_COMM_NULL, &w, &err),
	    PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'a/b'"));
	CU_ASSERT_PTR_NULL(w);
	CU_ASSERT_EQUAL(pl_hdf5_writer_close(NULL, &err), 0);
	pl_hdf5_shape_free(&sh);
	pl_schema_free(&s);
	teardown();
}

/* Every pool allocation of open and reading fails in turn; each failure
 * is a clean PL_ERR_NOMEM and leaks nothing. */
static void test_fault_walk(void)
{
	setup();
	write_file("fw.h5", PL_HDF5_COLUMNS, "/", 0, 30);
	const char *files[] = {"fw.h5", "fw.h5"};
	const char *ds[] = {"/i", "/x", "/ok", "/s"};
	pl_hdf5_options o;
	opts(&o, files, 2, ds, 4, NULL);
	int done = 0;
	for (uint64_t n = 1; n < 500 && !done; n++) {
		pl_error_clear(&err);
		pl_pool_fail_after(pool, n, 0);
		pl_hdf5_reader *r = NULL;
		int rc = pl_hdf5_reader_open(&o, pool, &r, &err);
		pl_batch *b;
		size_t rows = 0;
		while (rc == 0 &&
		       (rc = pl_hdf5_reader_next(r, 8, &b, &err)) == 0 &&
		       b != NULL)
			rows += b->nrows;
		pl_hdf5_reader_close(r);
		pl_pool_fail_after(pool, 0, 0);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
		if (rc == 0) {
			CU_ASSERT_EQUAL(rows, 60);
			done = 1;
		}
	}
	CU_ASSERT(done);
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_options(void)
{
	setup();
	make_parts();
	pl_kv kv[] = {{"path", "p*.h5", 3},
		      {"datasets", "v, /g/w", 4},
		      {"dataset", "/t", 5}};
	pl_section sec = {"source", 2, 1, "job.conf", dir, 2, kv};
	pl_hdf5_options o;
	CU_ASSERT_EQUAL_FATAL(pl_hdf5_options_from_section(&sec, &o, &err), 0);
	CU_ASSERT_EQUAL_FATAL(o.npaths, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.paths[2], "/p3.h5"));
	CU_ASSERT_EQUAL_FATAL(o.ndatasets, 2);
	CU_ASSERT_STRING_EQUAL(o.datasets[0], "/v");
	CU_ASSERT_STRING_EQUAL(o.datasets[1], "/g/w");
	CU_ASSERT_PTR_NULL(o.dataset);
	pl_hdf5_options_free(&o);
	sec.n = 3;
	CU_ASSERT_EQUAL(pl_hdf5_options_from_section(&sec, &o, &err),
			PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "job.conf:5"));
	pl_hdf5_options_free(&o);
	pl_error_clear(&err);
	kv[0].value = "nope.h5";
	CU_ASSERT_EQUAL(pl_hdf5_options_from_section(&sec, &o, &err),
			PL_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nope.h5"));
	pl_hdf5_options_free(&o);
	teardown();
}

static void test_register_twice(void)
{
	setup();
	CU_ASSERT_EQUAL(pl_hdf5_register_zstd(&err), 0);
	CU_ASSERT_EQUAL(pl_hdf5_register_zstd(&err), 0);
	CU_ASSERT(H5Zfilter_avail(32015) > 0);
	teardown();
}

static const pl_test tests[] = {
    {"int_widths", test_int_widths},
    {"uint64_too_big", test_uint64_too_big},
    {"floats", test_floats},
    {"strings", test_strings},
    {"compound", test_compound},
    {"column_selection", test_column_selection},
    {"unknown_column", test_unknown_column},
    {"multi_file", test_multi_file},
    {"set_range", test_set_range},
    {"chunk_aligned", test_chunk_aligned},
    {"align_to_chunks", test_align_to_chunks},
    {"chunk_cache_budget", test_chunk_cache_budget},
    {"not_hdf5", test_not_hdf5},
    {"missing_file", test_missing_file},
    {"truncated", test_truncated},
    {"missing_dataset", test_missing_dataset},
    {"unequal_lengths", test_unequal_lengths},
    {"two_d", test_two_d},
    {"unsupported_types", test_unsupported_types},
    {"array_fields_and_enums", test_array_fields_and_enums},
    {"files_disagree", test_files_disagree},
    {"write_columns", test_write_columns},
    {"write_columns_zstd", test_write_columns_zstd},
    {"write_compound", test_write_compound},
    {"write_compound_zstd", test_write_compound_zstd},
    {"chunk_cache_compound", test_chunk_cache_compound},
    {"h5dump_reads_output", test_h5dump_reads_output},
    {"h5py_reads_output", test_h5py_reads_output},
    {"reads_h5py_file", test_reads_h5py_file},
    {"zstd_chunks_are_frames", test_zstd_chunks_are_frames},
    {"writer_shape", test_writer_shape},
    {"writer_open_errors", test_writer_open_errors},
    {"fault_walk", test_fault_walk},
    {"options", test_options},
    {"register_twice", test_register_twice},
    {NULL, NULL}};

PL_TEST_MAIN("hdf5", tests)
