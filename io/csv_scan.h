/* The CSV record scanner: splits one record of a buffer into fields
 * without copying. The buffer must hold a '\n' sentinel at end[0], so the
 * unquoted-field loop needs no bounds check.
 *
 * Rules: fields are split by the delimiter, records end at LF or CRLF
 * outside quotes. A field that starts with the quote character is quoted:
 * it runs to the matching quote, a doubled quote standing for one, and may
 * hold delimiters and line ends byte for byte; after the closing quote only
 * a delimiter or a line end may follow (else the record is bad). A quote
 * inside an unquoted field is plain data (lenient, as most readers). NUL
 * bytes are data. A lone CR is data. */
#ifndef PIPELINE_IO_CSV_SCAN_H
#define PIPELINE_IO_CSV_SCAN_H

#include <stddef.h>
#include <stdint.h>

typedef struct pl_csv_field {
	const char *p; /* content (inside the quotes when quoted) */
	size_t len;
	uint8_t quoted;	 /* started with a quote */
	uint8_t escaped; /* holds doubled quotes to undo */
} pl_csv_field;

enum {
	PL_SCAN_RECORD = 0, /* a record: fields, end, lines filled */
	PL_SCAN_EMPTY,	    /* an empty line: end and lines filled */
	PL_SCAN_MORE,	    /* the record runs past end: read more */
	PL_SCAN_END	    /* no bytes left and at eof */
};

enum {
	PL_BAD_NONE = 0,
	PL_BAD_UNTERMINATED, /* a quoted field open at eof */
	PL_BAD_AFTER_QUOTE   /* something other than a delimiter follows */
};

typedef struct pl_csv_record {
	size_t nfields;	  /* fields found (may exceed the room given) */
	const char *end;  /* one past the record's line end */
	size_t lines;	  /* LF bytes in the record, its terminator too */
	int bad;	  /* PL_BAD_* */
	size_t bad_field; /* 0-based field where it went bad */
} pl_csv_record;

typedef struct pl_csv_scanner {
	char delim;
	char quote;
	uint8_t stop[256]; /* bytes that end an unquoted field */
} pl_csv_scanner;

void pl_csv_scanner_init(pl_csv_scanner *s, char delim, char quote);

/* Scans the record starting at p (p <= end, *end == '\n'). At most room
 * fields are stored into f. eof says no bytes follow end. */
int pl_csv_scan_record(const pl_csv_scanner *s, const char *p, const char *end,
		       int eof, pl_csv_field *f, size_t room,
		       pl_csv_record *rec);

/* Copies a field's content to dst, undoing doubled quotes; returns the
 * bytes written (at most f->len). */
size_t pl_csv_unescape(const pl_csv_field *f, char quote, char *dst);

#endif
