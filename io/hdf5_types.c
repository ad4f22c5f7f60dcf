/* HDF5 datatypes to pipeline types and back. Reading converts in HDF5
 * (H5Dread with a native memory type), so every integer width and byte
 * order lands as int64 and every float as double without code of ours. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/hdf5_types.h"

/* h5py's bool: FALSE and TRUE, whatever the base integer. HDF5 converts
 * enums by member name, so the values do not matter. */
static int is_bool_enum(hid_t t)
{
	if (H5Tget_nmembers(t) != 2 || H5Tget_size(t) > 8)
		return 0;
	unsigned char v[8];
	return H5Tenum_valueof(t, "FALSE", v) >= 0 &&
	       H5Tenum_valueof(t, "TRUE", v) >= 0;
}

static int classify_int(hid_t t, pl_h5_type *out)
{
	size_t size = H5Tget_size(t);
	if (size > 8)
		return -1;
	int is_unsigned = H5Tget_sign(t) == H5T_SGN_NONE;
	out->kind = is_unsigned && size == 8 ? PL_H5_UINT64 : PL_H5_INT;
	out->type = PL_INT64;
	return 0;
}

static int classify_string(hid_t t, pl_h5_type *out)
{
	out->type = PL_STRING;
	out->cset = H5Tget_cset(t);
	if (H5Tis_variable_str(t) > 0) {
		out->kind = PL_H5_VSTR;
		return 0;
	}
	out->kind = PL_H5_FSTR;
	out->size = H5Tget_size(t);
	out->spacepad = H5Tget_strpad(t) == H5T_STR_SPACEPAD;
	return out->size > 0 ? 0 : -1;
}

/* Any other enum reads as its members' names. */
static int classify_enum(hid_t t, pl_h5_type *out)
{
	if (is_bool_enum(t)) {
		out->kind = PL_H5_BOOL;
		out->type = PL_BOOL;
		return 0;
	}
	out->size = H5Tget_size(t);
	if (out->size == 0 || out->size > 8 || H5Tget_nmembers(t) < 1)
		return -1;
	out->native = H5Tget_native_type(t, H5T_DIR_ASCEND);
	if (out->native < 0)
		return -1;
	out->kind = PL_H5_ENUM;
	out->type = PL_STRING;
	return 0;
}

int pl_h5_classify(hid_t t, pl_h5_type *out, char *why, size_t cap)
{
	memset(out, 0, sizeof(*out));
	out->native = H5I_INVALID_HID;
	int rc = -1;
	switch (H5Tget_class(t)) {
	case H5T_INTEGER:
		rc = classify_int(t, out);
		break;
	case H5T_FLOAT:
		out->kind = PL_H5_FLOAT;
		out->type = PL_FLOAT64;
		rc = 0;
		break;
	case H5T_STRING:
		rc = classify_string(t, out);
		break;
	case H5T_ENUM:
		rc = classify_enum(t, out);
		break;
	case H5T_BITFIELD:
		if (H5Tget_size(t) == 1) {
			out->kind = PL_H5_BITS;
			out->type = PL_BOOL;
			rc = 0;
		}
		break;
	default:
		break;
	}
	if (rc != 0)
		pl_h5_describe(t, why, cap);
	return rc;
}

void pl_h5_type_free(pl_h5_type *t)
{
	if (t->native >= 0)
		H5Tclose(t->native);
	t->native = H5I_INVALID_HID;
}

static void describe_array(hid_t t, char *buf, size_t cap)
{
	hsize_t dims[H5S_MAX_RANK];
	int rank = H5Tget_array_ndims(t);
	hsize_t n = 1;
	if (rank > 0 && H5Tget_array_dims2(t, dims) >= 0)
		for (int i = 0; i < rank; i++)
			n *= dims[i];
	char inner[128] = "?";
	hid_t base = H5Tget_super(t);
	if (base >= 0) {
		pl_h5_describe(base, inner, sizeof(inner));
		H5Tclose(base);
	}
	snprintf(buf, cap, "array of %llu %s", (unsigned long long)n, inner);
}

void pl_h5_describe(hid_t t, char *buf, size_t cap)
{
	size_t bits = H5Tget_size(t) * 8;
	switch (H5Tget_class(t)) {
	case H5T_INTEGER:
		snprintf(buf, cap, "%zu-bit %s integer", bits,
			 H5Tget_sign(t) == H5T_SGN_NONE ? "unsigned"
							: "signed");
		break;
	case H5T_FLOAT:
		snprintf(buf, cap, "%zu-bit float", bits);
		break;
	case H5T_STRING:
		snprintf(buf, cap, "string");
		break;
	case H5T_TIME:
		snprintf(buf, cap, "time");
		break;
	case H5T_BITFIELD:
		snprintf(buf, cap, "%zu-bit bitfield", bits);
		break;
	case H5T_OPAQUE:
		snprintf(buf, cap, "opaque (%zu bytes)", bits / 8);
		break;
	case H5T_COMPOUND:
		snprintf(buf, cap, "compound of %d fields", H5Tget_nmembers(t));
		break;
	case H5T_REFERENCE:
		snprintf(buf, cap, "reference");
		break;
	case H5T_ENUM:
		snprintf(buf, cap, "enum of %d members over %zu bytes",
			 H5Tget_nmembers(t), bits / 8);
		break;
	case H5T_VLEN:
		snprintf(buf, cap, "variable-length sequence");
		break;
	case H5T_ARRAY:
		describe_array(t, buf, cap);
		break;
	default:
		snprintf(buf, cap, "unknown type");
		break;
	}
}

static hid_t fixed_string_type(const pl_h5_type *t)
{
	hid_t m = H5Tcopy(H5T_C_S1);
	if (m < 0)
		return m;
	if (H5Tset_size(m, t->size) < 0 ||
	    H5Tset_strpad(m, t->spacepad ? H5T_STR_SPACEPAD : H5T_STR_NULLPAD) <
		0 ||
	    H5Tset_cset(m, t->cset) < 0) {
		H5Tclose(m);
		return H5I_INVALID_HID;
	}
	return m;
}

static hid_t var_string_type(H5T_cset_t cset)
{
	hid_t m = H5Tcopy(H5T_C_S1);
	if (m < 0)
		return m;
	if (H5Tset_size(m, H5T_VARIABLE) < 0 || H5Tset_cset(m, cset) < 0) {
		H5Tclose(m);
		return H5I_INVALID_HID;
	}
	return m;
}

hid_t pl_h5_mem_type(const pl_h5_type *t)
{
	switch (t->kind) {
	case PL_H5_INT:
		return H5Tcopy(H5T_NATIVE_INT64);
	case PL_H5_UINT64:
		return H5Tcopy(H5T_NATIVE_UINT64);
	case PL_H5_FLOAT:
		return H5Tcopy(H5T_NATIVE_DOUBLE);
	case PL_H5_BOOL:
		return pl_h5_bool_type(H5T_NATIVE_UINT8);
	case PL_H5_FSTR:
		return fixed_string_type(t);
	case PL_H5_VSTR:
		return var_string_type(t->cset);
	case PL_H5_BITS:
		return H5Tcopy(H5T_NATIVE_B8);
	case PL_H5_ENUM:
		return H5Tcopy(t->native);
	}
	return H5I_INVALID_HID;
}

hid_t pl_h5_bool_type(hid_t base)
{
	/* 0 and 1 are the same byte in any one-byte integer, signed or not. */
	if (H5Tget_size(base) != 1)
		return H5I_INVALID_HID;
	hid_t e = H5Tenum_create(base);
	if (e < 0)
		return e;
	uint8_t no = 0, yes = 1;
	if (H5Tenum_insert(e, "FALSE", &no) < 0 ||
	    H5Tenum_insert(e, "TRUE", &yes) < 0) {
		H5Tclose(e);
		return H5I_INVALID_HID;
	}
	return e;
}

hid_t pl_h5_vstr_type(void)
{
	return var_string_type(H5T_CSET_UTF8);
}

hid_t pl_h5_fixed_str_type(size_t width)
{
	pl_h5_type t = {.kind = PL_H5_FSTR,
			.type = PL_STRING,
			.size = width ? width : 1,
			.cset = H5T_CSET_UTF8,
			.native = H5I_INVALID_HID};
	return fixed_string_type(&t);
}

hid_t pl_h5_file_type(pl_type t, size_t width)
{
	switch (t) {
	case PL_DATE:
	case PL_TIMESTAMP:
	case PL_INT64:
		return H5Tcopy(H5T_STD_I64LE);
	case PL_FLOAT64:
		return H5Tcopy(H5T_IEEE_F64LE);
	case PL_BOOL:
		return pl_h5_bool_type(H5T_STD_I8LE);
	default:
		return pl_h5_fixed_str_type(width);
	}
}

hid_t pl_h5_write_type(pl_type t, size_t width)
{
	switch (t) {
	case PL_DATE:
	case PL_TIMESTAMP:
	case PL_INT64:
		return H5Tcopy(H5T_NATIVE_INT64);
	case PL_FLOAT64:
		return H5Tcopy(H5T_NATIVE_DOUBLE);
	case PL_BOOL:
		/* The stored type itself (0 and 1 are the same byte): parallel
		 * HDF5 1.10 cannot write filtered data collectively when a
		 * conversion is needed. */
		return pl_h5_bool_type(H5T_STD_I8LE);
	default:
		return pl_h5_fixed_str_type(width);
	}
}
