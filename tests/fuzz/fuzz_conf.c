#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framework/conf.h"

static const char *const known[] = {"path",   "keys",	   "where",
				    "memory", "overwrite", NULL};

/* Runs the section helpers over every key, as operators would. */
static void exercise(const pl_conf *conf)
{
	for (size_t i = 0; i < conf->n; i++) {
		const pl_section *s = &conf->sections[i];
		pl_error err;
		char path[256];
		char **names;
		size_t n;
		long long count;
		int flag;
		uint64_t size;
		pl_error_clear(&err);
		pl_section_check_keys(s, known, &err);
		for (size_t j = 0; j < s->n; j++) {
			const char *key = s->kv[j].key;
			pl_error_clear(&err);
			if (pl_split_names(s->kv[j].value, &names, &n, &err) ==
			    0)
				pl_names_free(names, n);
			pl_parse_size(s->kv[j].value, 1000000, &size);
			pl_section_get_count(s, key, 0, &count, &err);
			pl_section_get_bool(s, key, 0, &flag, &err);
			pl_section_path(s, s->kv[j].value, path, sizeof(path),
					&err);
			pl_suggest(key, known);
		}
	}
}

/* The first line of the input doubles as a --set. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pl_conf conf;
	pl_error err;
	pl_error_clear(&err);
	if (pl_conf_parse((const char *)data, size, "fuzz.conf", "dir", &conf,
			  &err) != 0)
		return 0;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) : size;
	char *set = malloc(len + 1);
	if (set != NULL) {
		memcpy(set, data, len);
		set[len] = '\0';
		pl_error_clear(&err);
		pl_conf_apply_set(&conf, set, &err);
		free(set);
	}
	pl_error_clear(&err);
	pl_conf_apply_set(&conf, "job.memory=${PL_FUZZ_UNSET:-60%}", &err);
	exercise(&conf);
	pl_conf_free(&conf);
	return 0;
}
