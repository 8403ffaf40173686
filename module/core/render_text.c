/*
 * render_text.c — operation results as plain text for chat and the CLI.
 *
 * One line per item, times in UTC with the zone named once in a header (chat
 * clients and terminals have no shared zone; the JSON carries epoch seconds for
 * anything that wants local time).  Control characters in user text become
 * spaces so an entry is always exactly one line.  Unknown results fall back to
 * indented JSON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "render.h"

static void put_time(FILE *f, int64_t t, int with_time)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char buf[32];

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, sizeof buf, with_time ? "%Y-%m-%d %H:%M" : "%Y-%m-%d", &tm) == 0)
		fprintf(f, "%" PRId64, t);
	else
		fputs(buf, f);
}

/* User text on one line: control characters (newlines, tabs, ESC) become spaces. */
static void put_clean(FILE *f, const char *s)
{
	for (; s && *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
}

static const char *sv(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int64_t iv(json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

static void search(FILE *f, json_t *r)
{
	json_t *items = json_object_get(r, "items"), *it;
	size_t i;

	fprintf(f, "%zu entries (times in UTC)\n", json_array_size(items));
	json_array_foreach(items, i, it) {
		put_time(f, iv(it, "ts"), 1);
		fputc(' ', f);
		put_clean(f, sv(it, "from"));
		fputs(" \xe2\x86\x92 ", f);   /* → */
		put_clean(f, json_is_string(json_object_get(it, "room")) ? sv(it, "room") : sv(it, "to"));
		fputs(": ", f);
		if (json_is_string(json_object_get(it, "encrypted")))
			fprintf(f, "[%s encrypted]", sv(it, "encrypted"));
		else if (json_is_string(json_object_get(it, "body")))
			put_clean(f, sv(it, "body"));
		else
			fprintf(f, "[no body, %" PRId64 " bytes]", iv(it, "size"));
		if (json_is_true(json_object_get(it, "truncated")))
			fputs(" [truncated]", f);
		fputc('\n', f);
	}
	if (json_is_string(json_object_get(r, "next_cursor")))
		fprintf(f, "more: cursor=%s\n", sv(r, "next_cursor"));
}

static void trends(FILE *f, json_t *r)
{
	json_t *list, *it;
	size_t i;
	int hourly = strcmp(sv(r, "granularity"), "hour") == 0;

	if ((list = json_object_get(r, "top")) != NULL) {
		fprintf(f, "%s\n", sv(r, "metric"));
		json_array_foreach(list, i, it) {
			fprintf(f, "%8" PRId64 " ", iv(it, "value"));
			put_clean(f, sv(it, "name"));
			fputc('\n', f);
		}
		return;
	}
	fprintf(f, "%s per %s (UTC)\n", sv(r, "metric"), sv(r, "granularity"));
	json_array_foreach(json_object_get(r, "series"), i, it) {
		put_time(f, iv(it, "bucket"), hourly);
		fprintf(f, " %" PRId64 "\n", iv(it, "value"));
	}
}

static void users(FILE *f, json_t *r)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(r, "users"), i, it) {
		put_clean(f, json_string_value(it));
		fputc('\n', f);
	}
}

static void status(FILE *f, json_t *r)
{
	json_t *w = json_object_get(r, "writer");

	fprintf(f, "schema version: %" PRId64 "\ndatabase: %" PRId64 " bytes\n",
	        iv(r, "schema_version"), iv(r, "db_bytes"));
	if (!json_is_object(w)) {
		fputs("writer: not running\n", f);
		return;
	}
	fprintf(f, "writer: %s\nqueue: %" PRId64 " / %" PRId64 "\nwritten: %" PRId64
	        "\ndropped: %" PRId64 "\nlast batch: %" PRId64 " entries in %" PRId64 " us\n",
	        json_is_true(json_object_get(w, "degraded")) ? "DEGRADED" : "ok",
	        iv(w, "queue_depth"), iv(w, "queue_max"), iv(w, "written"), iv(w, "dropped"),
	        iv(w, "batch_size"), iv(w, "flush_us"));
	if (*sv(w, "last_error")) {
		fputs("last error: ", f);
		put_clean(f, sv(w, "last_error"));
		fputc('\n', f);
	}
}

static void fallback(FILE *f, json_t *r)
{
	char *s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s) {
		fputs(s, f);
		fputc('\n', f);
	}
	free(s);
}

char *im_format_text(const char *op, const char *json)
{
	json_error_t jerr;
	json_t *r = json_loads(json ? json : "", 0, &jerr), *e;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (r == NULL || !json_is_object(r)) {
		json_decref(r);
		return strdup("(unreadable result)\n");
	}
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		json_decref(r);
		return NULL;
	}
	if ((e = json_object_get(r, "error")) != NULL) {
		fprintf(f, "error (%s): ", sv(e, "code"));
		put_clean(f, sv(e, "message"));
		fputc('\n', f);
	} else if (strcmp(op, "logs.search") == 0) {
		search(f, r);
	} else if (strcmp(op, "logs.trends") == 0) {
		trends(f, r);
	} else if (strcmp(op, "logs.users") == 0) {
		users(f, r);
	} else if (strcmp(op, "logs.status") == 0) {
		status(f, r);
	} else if (strcmp(op, "logs.erase") == 0) {
		fprintf(f, "erased %" PRId64 " entries (%s)\n", iv(r, "erased"), sv(r, "mode"));
	} else if (strcmp(op, "logs.retention") == 0) {
		fprintf(f, "deleted %" PRId64 " entries older than ", iv(r, "deleted"));
		put_time(f, iv(r, "cutoff"), 1);
		fputs(" UTC\n", f);
	} else if (strcmp(op, "auth.token") == 0) {
		fprintf(f, "token: %s\nexpires: ", sv(r, "token"));
		put_time(f, iv(r, "expires"), 1);
		fputs(" UTC\n", f);
	} else {
		fallback(f, r);
	}
	json_decref(r);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
