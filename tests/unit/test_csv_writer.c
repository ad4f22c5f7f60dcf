#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#include "harness.h"
#include "io/csv_encode.h"
#include "io/csv_writer.h"

static pl_pool *pool;
static pl_error err;

static void setup(void)
{
	pool = pl_pool_create(1 << 20);
	pl_error_clear(&err);
}

static void teardown(void)
{
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
}

static void check_double(double v, const char *want)
{
	char buf[40];
	size_t n = pl_format_double(v, buf);
	CU_ASSERT_STRING_EQUAL(buf, want);
	CU_ASSERT_EQUAL(n, strlen(want));
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "\n  got '%s', want '%s'\n", buf, want);
}

static void test_doubles(void)
{
	check_double(0.1, "0.1");
	check_double(0.1 + 0.2, "0.30000000000000004");
	check_double(1e300, "1e+300");
	check_double(1.5e300, "1.5e+300");
	check_double(1e-5, "1e-05");
	check_double(-2.5e-7, "-2.5e-07");
	check_double(1e16, "1e+16");
	check_double(1e15, "1000000000000000.0");
	check_double(123.456, "123.456");
	check_double(-0.0, "-0.0");
	check_double(0.0, "0.0");
	check_double(NAN, "nan");
	check_double(INFINITY, "inf");
	check_double(-INFINITY, "-inf");
	check_double(5e-324, "5e-324");
	check_double(1.5e-320, "1.5e-320");
	check_double(-2.225073858507e-310, "-2.225073858507e-310");
	check_double(1.7976931348623157e308, "1.7976931348623157e+308");
	check_double(100.0, "100.0");
	check_double(0.5, "0.5");
	check_double(3.0, "3.0");
	check_double(0.0001, "0.0001");
	check_double(0.00012345, "0.00012345");
	check_double(-1234.5, "-1234.5");
	check_double(1.0 / 3, "0.3333333333333333");
	check_double(2.0 / 3, "0.6666666666666666");
	check_double(9007199254740993.0, "9007199254740992.0");
	check_double(123456789012345680.0, "1.2345678901234568e+17");
	check_double(1e23, "1e+23");
	check_double(2.2250738585072014e-308, "2.2250738585072014e-308");
	/* 2^-1017: the nearest 16-digit decimal falls short below a power of
	 * two, the next one up reads back. */
	check_double(ldexp(1, -1017), "7.120236347223045e-307");
	/* The fast path for at most 15 digits, at its edges. */
	check_double(45.123456, "45.123456");
	check_double(0.001, "0.001");
	check_double(123456789.01234, "123456789.01234");
	check_double(99999999999999.9, "99999999999999.9");
	check_double(999999999999999.9, "999999999999999.9");
	check_double(0.1234567890123456, "0.1234567890123456");
	check_double(1.5e-7, "1.5e-07");
	check_double(-1.2345e-5, "-1.2345e-05");
	check_double(1.0 / 1024, "0.0009765625");
}

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double short_decimal(void)
{
	double m = (double)(rng() % 1000000000000000u >> (rng() % 50));
	return m / pow(10, (double)(rng() % 23));
}

/* A double of kind k: random bits, short decimals and their neighbours,
 * integers, tiny, huge, near powers of ten and of two. */
static double random_double(int k)
{
	uint64_t bits = rng();
	double v;
	switch (k) {
	case 0:
		memcpy(&v, &bits, sizeof(v));
		return v;
	case 1:
		return short_decimal();
	case 2:
		return nextafter(short_decimal(), rng() % 2 ? INFINITY : 0);
	case 3:
		return (double)(int64_t)(bits >> (rng() % 64));
	case 4:
		return ldexp((double)(bits >> 11), -(int)(rng() % 1130));
	case 5:
		return ldexp((double)(bits >> 11), (int)(rng() % 970));
	case 6:
		v = pow(10, (double)(rng() % 60) - 30);
		return rng() % 3 ? nextafter(v, rng() % 2 ? INFINITY : 0) : v;
	default:
		v = ldexp(1, (int)(rng() % 2000) - 1000);
		return rng() % 2 ? nextafter(v, rng() % 2 ? INFINITY : 0) : v;
	}
}

/* The fast path for short values against the printf and strtod search. */
static void test_doubles_match_reference(void)
{
	char got[40], want[40];
	int bad = 0;
	for (int i = 0; i < 1000000; i++) {
		double v = random_double(i % 8);
		if (rng() % 2)
			v = -v;
		size_t n = pl_format_double(v, got);
		size_t m = pl_format_double_reference(v, want);
		if (n != m || strcmp(got, want) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "\n  %a: got '%s', want '%s'\n",
					v, got, want);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static pl_batch *mixed_batch(void)
{
	pl_schema s;
	pl_schema_init(&s);
	pl_schema_add(&s, "i", PL_INT64, &err);
	pl_schema_add(&s, "f", PL_FLOAT64, &err);
	pl_schema_add(&s, "b", PL_BOOL, &err);
	pl_schema_add(&s, "s", PL_STRING, &err);
	pl_batch *b = pl_batch_new(&s, 4, pool, &err);
	pl_schema_free(&s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	pl_column *c = b->cols;
	pl_column_push_i64(&c[0], INT64_MIN, pool, &err);
	pl_column_push_i64(&c[0], INT64_MAX, pool, &err);
	pl_column_push_null(&c[0], pool, &err);
	pl_column_push_i64(&c[0], 0, pool, &err);
	pl_column_push_f64(&c[1], 0.1, pool, &err);
	pl_column_push_null(&c[1], pool, &err);
	pl_column_push_f64(&c[1], -0.0, pool, &err);
	pl_column_push_f64(&c[1], 1e-5, pool, &err);
	pl_column_push_bool(&c[2], true, pool, &err);
	pl_column_push_bool(&c[2], false, pool, &err);
	pl_column_push_null(&c[2], pool, &err);
	pl_column_push_bool(&c[2], true, pool, &err);
	pl_column_push_str(&c[3], "", 0, pool, &err);
	pl_column_push_null(&c[3], pool, &err);
	pl_column_push_str(&c[3], "say \"hi\", ok", 12, pool, &err);
	pl_column_push_str(&c[3], " lead\r\nx", 8, pool, &err);
	pl_batch_sync_rows(b);
	CU_ASSERT_EQUAL(err.code, 0);
	return b;
}

static const char mixed_text[] = "-9223372036854775808,0.1,true,\"\"\n"
				 "9223372036854775807,,false,\n"
				 ",-0.0,,\"say \"\"hi\"\", ok\"\n"
				 "0,1e-05,true,\" lead\r\nx\"\n";

static void test_encode_batch(void)
{
	setup();
	pl_batch *b = mixed_batch();
	char *buf = NULL;
	size_t len = 0, cap = 0;
	CU_ASSERT_EQUAL(pl_csv_encode_batch(b, &buf, &len, &cap, &err), 0);
	CU_ASSERT_EQUAL(len, strlen(mixed_text));
	CU_ASSERT(len <= cap && memcmp(buf, mixed_text, len) == 0);
	free(buf);
	pl_batch_free(b, pool);
	teardown();
}

static void test_encode_header(void)
{
	pl_schema s;
	pl_schema_init(&s);
	pl_schema_add(&s, "plain", PL_INT64, &err);
	pl_schema_add(&s, "a,b", PL_INT64, &err);
	pl_schema_add(&s, "first name", PL_STRING, &err);
	pl_schema_add(&s, "q\"", PL_STRING, &err);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	CU_ASSERT_EQUAL(pl_csv_encode_header(&s, &buf, &len, &cap, &err), 0);
	const char *want = "plain,\"a,b\",first name,\"q\"\"\"\n";
	CU_ASSERT_EQUAL(len, strlen(want));
	CU_ASSERT(memcmp(buf, want, len) == 0);
	/* Appends after what is there. */
	CU_ASSERT_EQUAL(pl_csv_encode_header(&s, &buf, &len, &cap, &err), 0);
	CU_ASSERT_EQUAL(len, 2 * strlen(want));
	CU_ASSERT(memcmp(buf + len / 2, want, len / 2) == 0);
	free(buf);
	pl_schema_free(&s);
}

/* A fresh empty directory; the caller removes it. */
static void make_dir(char *dir)
{
	strcpy(dir, "/tmp/pl_wr_XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n +=
		    strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)n + 1);
	*len = fread(p, 1, (size_t)n, f);
	fclose(f);
	return p;
}

static pl_schema mixed_schema(void)
{
	pl_schema s;
	pl_schema_init(&s);
	pl_schema_add(&s, "i", PL_INT64, &err);
	pl_schema_add(&s, "f", PL_FLOAT64, &err);
	pl_schema_add(&s, "b", PL_BOOL, &err);
	pl_schema_add(&s, "s", PL_STRING, &err);
	return s;
}

/* Writes the mixed batch `times` times into dir/out.csv. */
static int write_file(const char *path, int level, int times)
{
	pl_schema s = mixed_schema();
	pl_csv_writer *w;
	int rc = pl_csv_writer_open(path, &s, level, &w, &err);
	pl_schema_free(&s);
	if (rc != 0)
		return rc;
	pl_batch *b = mixed_batch();
	for (int i = 0; i < times && rc == 0; i++)
		rc = pl_csv_writer_write(w, b, &err);
	pl_batch_free(b, pool);
	if (rc != 0) {
		pl_csv_writer_abort(w);
		return rc;
	}
	CU_ASSERT_EQUAL(pl_csv_writer_bytes(w),
			8 + (uint64_t)times * strlen(mixed_text));
	return pl_csv_writer_commit(w, &err);
}

static void test_commit_plain(void)
{
	setup();
	char dir[64], path[128];
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/out.csv", dir);
	CU_ASSERT_EQUAL(write_file(path, 0, 1), 0);
	size_t len = 0;
	char *got = slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(len, 8 + strlen(mixed_text));
	CU_ASSERT(memcmp(got, "i,f,b,s\n", 8) == 0);
	CU_ASSERT(memcmp(got + 8, mixed_text, len - 8) == 0);
	CU_ASSERT_EQUAL(count_entries(dir), 1);
	free(got);
	unlink(path);
	rmdir(dir);
	teardown();
}

/* Over 1 MiB of text, so that the buffer is flushed several times. */
static void test_commit_large(void)
{
	setup();
	char dir[64], path[128];
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/big.csv", dir);
	int times = 30000;
	CU_ASSERT_EQUAL(write_file(path, 0, times), 0);
	size_t len, tl = strlen(mixed_text);
	char *got = slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL_FATAL(len, 8 + times * tl);
	int same = 1;
	for (int i = 0; i < times; i++)
		same &= memcmp(got + 8 + i * tl, mixed_text, tl) == 0;
	CU_ASSERT(same);
	free(got);
	unlink(path);
	rmdir(dir);
	teardown();
}

/* One field bigger than the write buffer. */
static void test_huge_field(void)
{
	setup();
	char dir[64], path[128];
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/huge.csv", dir);
	size_t n = 3 << 20;
	char *s = malloc(n);
	memset(s, 'x', n);
	s[10] = ',';
	pl_schema sc;
	pl_schema_init(&sc);
	pl_schema_add(&sc, "s", PL_STRING, &err);
	pl_batch *b = pl_batch_new(&sc, 1, pool, &err);
	pl_column_push_str(&b->cols[0], s, n, pool, &err);
	pl_batch_sync_rows(b);
	pl_csv_writer *w;
	CU_ASSERT_EQUAL_FATAL(pl_csv_writer_open(path, &sc, 0, &w, &err), 0);
	CU_ASSERT_EQUAL(pl_csv_writer_write(w, b, &err), 0);
	CU_ASSERT_EQUAL(pl_csv_writer_commit(w, &err), 0);
	size_t len = 0;
	char *got = slurp(path, &len);
	CU_ASSERT_EQUAL(len, 2 + 1 + n + 1 + 1);
	CU_ASSERT(got && memcmp(got, "s\n\"", 3) == 0 &&
		  memcmp(got + 3, s, n) == 0 &&
		  memcmp(got + 3 + n, "\"\n", 2) == 0);
	free(got);
	free(s);
	pl_batch_free(b, pool);
	pl_schema_free(&sc);
	unlink(path);
	rmdir(dir);
	teardown();
}

/* Writer w's rows: "w,ppp...", of 1 to 2000 bytes and one of 1.5 MiB
 * (past the write buffer). */
static pl_batch *shared_rows(const pl_schema *sc, int w, const char *payload)
{
	pl_batch *b = pl_batch_new(sc, 1000, pool, &err);
	for (size_t r = 0; r < 1000; r++) {
		pl_column_push_i64(&b->cols[0], w, pool, &err);
		size_t n = r == 500 ? (size_t)3 << 19 : 1 + r * 2;
		pl_column_push_str(&b->cols[1], payload, n, pool, &err);
	}
	pl_batch_sync_rows(b);
	return b;
}

/* Two writers append to one file in turn, as two ranks do: every line is
 * one writer's whole row, none cut by the other's, the header first. */
static void test_shared_whole_rows(void)
{
	setup();
	char dir[64], path[128], proc[64];
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/out.csv", dir);
	char *payload = malloc((size_t)3 << 19);
	memset(payload, 'p', (size_t)3 << 19);
	pl_schema sc;
	pl_schema_init(&sc);
	pl_schema_add(&sc, "w", PL_INT64, &err);
	pl_schema_add(&sc, "p", PL_STRING, &err);
	pl_batch *b0 = shared_rows(&sc, 0, payload);
	pl_batch *b1 = shared_rows(&sc, 1, payload);
	pl_csv_writer *w0, *w1;
	CU_ASSERT_EQUAL_FATAL(
	    pl_csv_writer_open_part(path, &sc, 0, 1, &w0, &err), 0);
	CU_ASSERT_EQUAL_FATAL(pl_csv_writer_share(w0, proc, sizeof(proc), &err),
			      0);
	CU_ASSERT_EQUAL_FATAL(
	    pl_csv_writer_open_shared(path, proc, &sc, &w1, &err), 0);
	int times = 5;
	for (int i = 0; i < times; i++) {
		CU_ASSERT_EQUAL(pl_csv_writer_write(w0, b0, &err), 0);
		CU_ASSERT_EQUAL(pl_csv_writer_write(w1, b1, &err), 0);
	}
	int fd;
	uint64_t size;
	CU_ASSERT_EQUAL(pl_csv_writer_finish_part(w1, &fd, &size, &err), 0);
	CU_ASSERT_EQUAL(pl_csv_writer_finish_part(w0, &fd, &size, &err), 0);
	uint64_t bytes = pl_csv_writer_bytes(w0) + pl_csv_writer_bytes(w1);
	pl_csv_writer_abort(w1);
	CU_ASSERT_EQUAL(pl_csv_writer_link_part(w0, &err), 0);
	CU_ASSERT_EQUAL(pl_csv_writer_commit(w0, &err), 0);
	size_t len = 0;
	char *got = slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(len, bytes);
	CU_ASSERT(len > 4 && memcmp(got, "w,p\n", 4) == 0);
	int rows[2] = {0, 0}, bad = 0;
	for (char *line = got + 4; line < got + len;) {
		char *end = memchr(line, '\n', (size_t)(got + len - line));
		if (end == NULL || end - line < 3 || line[1] != ',' ||
		    (line[0] != '0' && line[0] != '1')) {
			bad++;
			break;
		}
		for (char *c = line + 2; c < end; c++)
			bad += *c != 'p';
		rows[line[0] - '0']++;
		line = end + 1;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(rows[0], times * 1000);
	CU_ASSERT_EQUAL(rows[1], times * 1000);
	CU_ASSERT_EQUAL(count_entries(dir), 1);
	free(got);
	free(payload);
	pl_batch_free(b0, pool);
	pl_batch_free(b1, pool);
	pl_schema_free(&sc);
	unlink(path);
	rmdir(dir);
	teardown();
}

static char *unzstd(const char *z, size_t zlen, size_t *len)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	ZSTD_inBuffer in = {z, zlen, 0};
	while (in.pos < in.size) {
		if (cap - n < (1 << 15))
			out = realloc(out, cap *= 2);
		ZSTD_outBuffer ob = {out + n, cap - n, 0};
		size_t r = ZSTD_decompressStream(ds, &ob, &in);
		CU_ASSERT_FALSE(ZSTD_isError(r));
		if (ZSTD_isError(r))
			break;
		n += ob.pos;
	}
	ZSTD_freeDStream(ds);
	*len = n;
	return out;
}

static void test_commit_zstd(void)
{
	setup();
	char dir[64], path[128];
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/out.csv.zst", dir);
	int times = 20000;
	CU_ASSERT_EQUAL(write_file(path, 3, times), 0);
	size_t zlen, len, tl = strlen(mixed_text);
	char *z = slurp(path, &zlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(z);
	CU_ASSERT(zlen < 8 + times * tl / 10);
	char *got = unzstd(z, zlen, &len);
	CU_ASSERT_EQUAL_FATAL(len, 8 + times * tl);
	CU_ASSERT(memcmp(got, "i,f,b,s\n", 8) == 0);
	CU_ASSERT(memcmp(got + 8 + (times - 1) * tl, mixed_text, tl) == 0);
	CU_ASSERT_EQUAL(count_entries(dir), 1);
	free(z);
	free(got);
	unlink(path);
	rmdir(dir);
	teardown();
}

static void test_replaces_existing(void)
{
	setup();
	char dir[64], path[128];
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/out.csv", dir);
	FILE *f = fopen(path, "w");
	fputs("old content that is longer than the new one\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(write_file(path, 0, 1), 0);
	size_t len = 0;
	char *got = slurp(path, &len);
	CU_ASSERT_EQUAL(len, 8 + strlen(mixed_text));
	CU_ASSERT_EQUAL(count_entries(dir), 1);
	free(got);
	unlink(path);
	rmdir(dir);
	teardown();
}

static void test_abort_leaves_nothing(void)
{
	setup();
	char dir[64], path[128];
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/out.csv", dir);
	pl_schema s = mixed_schema();
	pl_csv_writer *w;
	CU_ASSERT_EQUAL_FATAL(pl_csv_writer_open(path, &s, 0, &w, &err), 0);
	CU_ASSERT_EQUAL(count_entries(dir), 1);
	pl_batch *b = mixed_batch();
	CU_ASSERT_EQUAL(pl_csv_writer_write(w, b, &err), 0);
	pl_csv_writer_abort(w);
	pl_csv_writer_abort(NULL);
	CU_ASSERT_EQUAL(count_entries(dir), 0);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	pl_batch_free(b, pool);
	pl_schema_free(&s);
	rmdir(dir);
	teardown();
}

static void test_missing_dir(void)
{
	setup();
	pl_schema s = mixed_schema();
	pl_csv_writer *w = (pl_csv_writer *)1;
	const char *path = "/tmp/pl_no_such_dir_xyz/out.csv";
	CU_ASSERT_EQUAL(pl_csv_writer_open(path, &s, 0, &w, &err), PL_ERR_IO);
	CU_ASSERT_PTR_NULL(w);
	CU_ASSERT_EQUAL(err.code, PL_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
	pl_schema_free(&s);
	teardown();
}

/* A file size limit makes write(2) fail with EFBIG, as a full disk would
 * with ENOSPC: the error names the output and the temporary file goes. */
static void test_write_error(void)
{
	setup();
	char dir[64], path[128];
	make_dir(dir);
	snprintf(path, sizeof(path), "%s/out.csv", dir);
	struct rlimit old, small = {100000, 100000};
	getrlimit(RLIMIT_FSIZE, &old);
	small.rlim_max = old.rlim_max;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &small);
	int rc = write_file(path, 0, 30000);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, prev);
	CU_ASSERT_EQUAL(rc, PL_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
	CU_ASSERT_EQUAL(count_entries(dir), 0);
	rmdir(dir);
	teardown();
}

static const pl_test tests[] = {
    {"doubles", test_doubles},
    {"doubles_match_reference", test_doubles_match_reference},
    {"encode_batch", test_encode_batch},
    {"encode_header", test_encode_header},
    {"commit_plain", test_commit_plain},
    {"commit_large", test_commit_large},
    {"huge_field", test_huge_field},
    {"shared_whole_rows", test_shared_whole_rows},
    {"commit_zstd", test_commit_zstd},
    {"replaces_existing", test_replaces_existing},
    {"abort_leaves_nothing", test_abort_leaves_nothing},
    {"missing_dir", test_missing_dir},
    {"write_error", test_write_error},
    {NULL, NULL},
};

PL_TEST_MAIN("csv_writer", tests)
