/* Value rows of median, quantile and count_distinct: how a group-by's
 * value list leaves as partial rows (see aggregates.h).
 *
 * One row a value repeats the group's keys and tag for every value: a
 * rank's 5e6 values of db-benchmark q6 (1e4 groups) cost as much to
 * export, ship and merge as the rows themselves, so aggregating locally
 * never paid and every row went to its owner one by one (12% more
 * instructions over 2 ranks than one process). Packed, the same values
 * leave as about one row per group, 8 bytes a value.
 *
 * Packing groups the list by group a slice at a time (counting sort), so
 * that the scratch stays bounded: a slice holds at least SLICE_PER_GROUP
 * values a group, so that most rows carry many values. */
#include <string.h>

#include "operators/aggregates.h"

#define SLICE_MIN ((size_t)1 << 20)
#define SLICE_PER_GROUP 16

static size_t slice_cap(size_t ngroups)
{
	size_t per = SLICE_PER_GROUP * ngroups;
	return per > SLICE_MIN ? per : SLICE_MIN;
}

/* Numbers, about two values a group or more: packing saves rows. */
static int packs(const pl_agg *a, size_t ngroups)
{
	return pl_agg_has_values(a) && a->type != PL_STRING && ngroups > 0 &&
	       a->vl.list.len >= 2 * ngroups;
}

size_t pl_agg_value_rows(const pl_agg *a, size_t ngroups)
{
	size_t len = a->vl.list.len;
	if (!packs(a, ngroups))
		return len;
	/* A slice makes a row per group present plus one per full pack. */
	double rows =
	    (double)ngroups +
	    (double)len * (double)ngroups / (double)slice_cap(ngroups) +
	    (double)len / PL_AGG_PACK_VALUES;
	return rows < (double)len ? (size_t)rows : len;
}

void pl_agg_cursor_free(pl_agg *a, pl_agg_cursor *c)
{
	pl_pool_free(a->pool, c->seg);
	pl_pool_free(a->pool, c->buf);
	memset(c, 0, sizeof(*c));
}

/* Groups the list's next slice into c->buf; afterwards c->seg[g] is where
 * group g's values end (and g + 1's start). */
static int load_slice(pl_agg *a, pl_agg_cursor *c, pl_error *err)
{
	const pl_value_list *l = &a->vl.list;
	size_t cap = slice_cap(c->ngroups), n = l->len - c->next;
	if (n > cap)
		n = cap;
	if (c->buf == NULL) {
		size_t room = l->len < cap ? l->len : cap;
		c->buf = pl_pool_alloc(a->pool, room * 8);
		c->seg = pl_pool_alloc(a->pool, c->ngroups * sizeof(size_t));
		if (c->buf == NULL || c->seg == NULL)
			return pl_error_nomem(err, "packing group-by values");
	}
	size_t *seg = c->seg;
	memset(seg, 0, c->ngroups * sizeof(size_t));
	pl_value_list_count(l, c->next, c->next + n, seg);
	for (size_t g = 0, at = 0; g < c->ngroups; g++) {
		size_t k = seg[g];
		seg[g] = at;
		at += k;
	}
	pl_value_list_scatter(l, c->next, c->next + n, seg, c->buf);
	c->next += n;
	c->nslice = n;
	c->g = 0;
	c->pos = 0;
	if (c->consume)
		pl_value_list_drop(&a->vl.list, a->pool, c->next);
	return 0;
}

/* Packed rows from the current slice until it or max_values run out. */
static int pack_rows(pl_agg *a, pl_agg_cursor *c, size_t max_values,
		     uint32_t *gid, size_t *nrows, size_t *used,
		     pl_column *pack, pl_error *err)
{
	while (c->g < c->ngroups && *used < max_values) {
		size_t end = c->seg[c->g];
		if (c->pos >= end) {
			c->g++;
			continue;
		}
		size_t k = end - c->pos;
		if (k > PL_AGG_PACK_VALUES)
			k = PL_AGG_PACK_VALUES;
		if (k > max_values - *used)
			k = max_values - *used;
		int rc =
		    pl_column_push_str(pack, (const char *)c->buf + c->pos * 8,
				       k * 8, a->pool, err);
		if (rc)
			return rc;
		gid[(*nrows)++] = (uint32_t)c->g;
		c->pos += k;
		*used += k;
	}
	return 0;
}

static int export_packed(pl_agg *a, pl_agg_cursor *c, size_t max_values,
			 uint32_t *gid, size_t *nrows, pl_column *cols,
			 pl_error *err)
{
	size_t used = 0;
	int rc = 0;
	while (rc == 0 && used < max_values) {
		if (c->g >= c->ngroups || c->nslice == 0) {
			if (c->next >= a->vl.list.len)
				break;
			rc = load_slice(a, c, err);
			continue;
		}
		rc = pack_rows(a, c, max_values, gid, nrows, &used, &cols[1],
			       err);
	}
	return rc ? rc : pl_agg_append_nulls(&cols[0], *nrows, a->pool, err);
}

static int push_value(pl_agg *a, size_t i, pl_column *col, pl_error *err)
{
	const pl_value_list *l = &a->vl.list;
	int64_t bits = pl_value_list_val(l, i);
	if (a->type == PL_FLOAT64) {
		double x;
		memcpy(&x, &bits, sizeof(x));
		return pl_column_push_f64(col, x, a->pool, err);
	}
	if (a->type == PL_BOOL)
		return pl_column_push_bool(col, bits != 0, a->pool, err);
	if (pl_type_is_i64(a->type))
		return pl_column_push_i64(col, bits, a->pool, err);
	size_t len;
	const char *s = pl_value_list_str(l, i, &len);
	return pl_column_push_str(col, s, len, a->pool, err);
}

static int export_single(pl_agg *a, pl_agg_cursor *c, size_t max_values,
			 uint32_t *gid, size_t *nrows, pl_column *cols,
			 pl_error *err)
{
	const pl_value_list *l = &a->vl.list;
	size_t n = l->len - c->next;
	if (n > max_values)
		n = max_values;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = push_value(a, c->next + i, &cols[0], err);
		gid[i] = pl_value_list_gid(l, c->next + i);
	}
	if (rc == 0)
		rc = pl_agg_append_nulls(&cols[1], n, a->pool, err);
	if (rc)
		return rc;
	c->next += n;
	*nrows = n;
	/* string next's start is read from value next - 1 */
	if (c->consume && c->next > 0)
		pl_value_list_drop(&a->vl.list, a->pool,
				   c->next < l->len ? c->next - 1 : c->next);
	return 0;
}

int pl_agg_export_values(pl_agg *a, size_t ngroups, pl_agg_cursor *c,
			 size_t max_values, uint32_t *gid, size_t *nrows,
			 pl_column *cols, pl_error *err)
{
	if (!c->started) {
		c->started = 1;
		c->packed = packs(a, ngroups);
		c->ngroups = ngroups;
	}
	*nrows = 0;
	if (c->packed)
		return export_packed(a, c, max_values, gid, nrows, cols, err);
	return export_single(a, c, max_values, gid, nrows, cols, err);
}
