/*
 * fixture.c — shared unit-test fixtures (fixture.h).
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixture.h"

void fx_tmpdir(char *dir, size_t size, const char *tag)
{
	int n = snprintf(dir, size, "/tmp/imhost-%s-XXXXXX", tag);

	if (n < 0 || (size_t)n >= size)
		fail_msg("fx_tmpdir: tag %s too long", tag);
	if (mkdtemp(dir) == NULL)
		fail_msg("fx_tmpdir: mkdtemp %s failed", dir);
}

/* nftw callback: files and links are unlinked, directories (reached after
 * their contents, FTW_DEPTH) removed.  Goes on after a failure so one stuck
 * file does not leave the rest behind; fx_rmtree reports it. */
static int rm_failed;

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0)
		rm_failed = 1;
	return 0;
}

int fx_rmtree(const char *dir)
{
	rm_failed = 0;
	/* FTW_PHYS: never follow a link out of the tree. */
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return -1;
	return rm_failed ? -1 : 0;
}

fx *fx_new(const char *tag, int open)
{
	fx *f = calloc(1, sizeof *f);
	char *err = NULL;
	int n;

	assert_non_null(f);
	fx_tmpdir(f->dir, sizeof f->dir, tag);
	n = snprintf(f->path, sizeof f->path, "%s/db.sqlite", f->dir);
	assert_true(n > 0 && (size_t)n < sizeof f->path);
	if (open && im_store_open(f->path, &f->db, &err) != IM_OK)
		fail_msg("im_store_open %s: %s", f->path, err ? err : "?");
	f->env.db = f->db;
	f->env.writer = NULL;
	f->env.erasure = IM_ERASE_DELETE;
	return f;
}

int fx_free(fx *f)
{
	int rc;

	if (f == NULL)
		return 0;
	im_clock_real();
	if (f->db != NULL && sqlite3_close(f->db) != SQLITE_OK)
		fail_msg("sqlite3_close: %s (a statement left unfinalized?)", sqlite3_errmsg(f->db));
	rc = fx_rmtree(f->dir);
	free(f);
	return rc;
}

int fx_teardown(void **state)
{
	return fx_free(*state);
}

void fx_exec(sqlite3 *db, const char *sql)
{
	char *e = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK)
		fail_msg("%s: %s", sql, e ? e : sqlite3_errmsg(db));
}

int64_t fx_q_int_arg(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (arg != NULL)
		assert_int_equal(sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int64_t fx_q_int(sqlite3 *db, const char *sql)
{
	return fx_q_int_arg(db, sql, NULL);
}

json_t *fx_call(sqlite3 *db, const char *op, const char *params, const char *ctx, const char **code)
{
	im_env env = { db, NULL, IM_ERASE_DELETE };
	int ok = 0;
	char *s = im_registry_call(&env, op, params, ctx, &ok);
	json_t *r;
	const char *c;

	assert_non_null(s);
	r = json_loads(s, 0, NULL);
	if (r == NULL)
		fail_msg("%s: result is not JSON: %s", op, s);
	free(s);
	c = ok ? "ok" : fx_errcode(r);
	if (c == NULL)
		fail_msg("%s: an error without a code", op);
	if (code != NULL)
		*code = c;
	return r;
}

void fx_expect(sqlite3 *db, const char *op, const char *params, const char *ctx, const char *want)
{
	const char *code;
	json_t *r = fx_call(db, op, params, ctx, &code);

	if (strcmp(code, want) != 0) {
		char *s = json_dumps(r, JSON_COMPACT);
		fail_msg("%s %s: expected %s, got %s: %s", op, params ? params : "", want, code, s);
	}
	json_decref(r);
}

json_t *fx_must(sqlite3 *db, const char *op, const char *params, const char *ctx)
{
	const char *code;
	json_t *r = fx_call(db, op, params, ctx, &code);

	if (strcmp(code, "ok") != 0) {
		char *s = json_dumps(r, JSON_COMPACT);
		fail_msg("%s %s: %s", op, params ? params : "", s);
	}
	return r;
}

const char *fx_errcode(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"), "code"));
}

/* True when s can stand inside a JSON string as it is. */
static int json_plain(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return 0;
	return 1;
}

const char *fx_ctx(char *buf, size_t size, const char *actor, const char *tz)
{
	int n;

	if (!json_plain(actor) || !json_plain(tz))
		fail_msg("fx_ctx: actor/tz need escaping");
	if (*actor)
		n = snprintf(buf, size, "{\"surface\":\"adhoc\",\"actor\":\"%s\",\"tz\":\"%s\"}", actor, tz);
	else
		n = snprintf(buf, size, "{\"surface\":\"cli\",\"tz\":\"%s\"}", tz);
	if (n < 0 || (size_t)n >= size)
		fail_msg("fx_ctx: buffer too small");
	return buf;
}

int64_t fx_utc(int y, int m, int d, int hh)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	return (int64_t)timegm(&tm);
}

im_bill_run_stats fx_bill_run(sqlite3 *db, int64_t now)
{
	im_bill_run_stats st;
	char *err = NULL;

	if (im_bill_run(db, now, &st, &err) != IM_OK)
		fail_msg("run: %s", err);
	return st;
}
