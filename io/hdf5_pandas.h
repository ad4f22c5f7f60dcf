/* pandas' HDFStore layouts (DataFrame.to_hdf), read with the frame's own
 * column names:
 *   format='fixed' (the default): a group with pandas_type "frame", the
 *     index in axis1, the columns in blocks of one dtype each, blockK_values
 *     a 2-D dataset (rows x columns) named by blockK_items, the frame's
 *     order in axis0. Blocks of Python objects (strings) are pickled,
 *     which pipeline does not read: the error says so and names them.
 *   format='table': a group with pandas_type "frame_table" holding a
 *     compound dataset `table`: the index, then values_block_K fields,
 *     arrays whose element names are in the table's values_block_K_kind
 *     attribute (a protocol-0 pickle of a list of names, of which only
 *     that grammar is read), and data columns as plain fields; the frame's
 *     order in the group's non_index_axes.
 * The index becomes a column named "index", first. */
#ifndef PIPELINE_IO_HDF5_PANDAS_H
#define PIPELINE_IO_HDF5_PANDAS_H

#include "io/hdf5_table.h"

/* When key names a group pandas wrote (attribute pandas_type "frame" or
 * "frame_table"), opens its columns into t (open file, nothing else yet)
 * and sets *found; otherwise leaves t alone and *found 0. Errors name the
 * file and the dataset. */
int pl_h5_pandas_open(pl_h5_table *t, const char *key, int *found,
		      pl_error *err);

/* The unicode strings of a protocol-0 pickle made only of marks, lists,
 * tuples, ints, memo puts and gets, appends and unicode or string values
 * (what pandas writes for a list of column names): *names (malloc'd, each
 * malloc'd, UTF-8) and *n. Returns 0, or -1 for anything else. */
int pl_h5_pickle_names(const char *p, size_t len, char ***names, size_t *n);

#endif
