/*
 * test_store.c — connection settings, read-only opens, sizes, error reporting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"
#include "fixture.h"

static int setup(void **state)
{
	fx *f = fx_new("st", FX_DIR_ONLY);

	*state = f;
	return 0;
}

static char *q_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	char *v = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_non_null(v);
	return v;
}

static void expect(sqlite3 *db, const char *sql, const char *want)
{
	char *got = q_text(db, sql);

	assert_string_equal(got, want);
	free(got);
}

static void open_sets_pragmas_and_migrates(void **state)
{
	fx *f = *state;
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(im_store_open(f->path, &db, &err), IM_OK);
	assert_null(err);
	expect(db, "PRAGMA journal_mode", "wal");
	expect(db, "PRAGMA foreign_keys", "1");
	expect(db, "PRAGMA synchronous", "1");       /* NORMAL */
	expect(db, "PRAGMA busy_timeout", "5000");
	assert_int_equal(im_store_version(db), im_migration_count());
	assert_true(im_store_size_bytes(db) >= 4096);
	sqlite3_close(db);
	/* Reopening an up-to-date database is a no-op. */
	assert_int_equal(im_store_open(f->path, &db, NULL), IM_OK);
	assert_int_equal(im_store_version(db), im_migration_count());
	sqlite3_close(db);
}

static void readonly_open(void **state)
{
	fx *f = *state;
	sqlite3 *db = NULL, *raw = NULL;
	char *err = NULL;

	/* Missing file: refused with a message. */
	assert_int_equal(im_store_open_readonly(f->path, &db, &err), IM_ERR);
	assert_null(db);
	assert_non_null(err);
	free(err);
	err = NULL;
	/* A version-0 file stays at version 0: read-only opens never migrate. */
	assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(im_store_open_readonly(f->path, &db, &err), IM_OK);
	assert_int_equal(im_store_version(db), 0);
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO t VALUES(1)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void bad_paths_fail_cleanly(void **state)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(im_store_open("/nonexistent-dir/x/db.sqlite", &db, &err), IM_ERR);
	assert_null(db);
	assert_non_null(err);
	assert_non_null(strstr(err, "/nonexistent-dir"));
	free(err);
	assert_int_equal(im_store_open("", &db, NULL), IM_EINVAL);
	assert_int_equal(im_store_open(NULL, &db, NULL), IM_EINVAL);
	/* A file that is not a database. */
	{
		char dir[] = "/tmp/imhost-st-XXXXXX", p[64];
		FILE *fp;

		assert_non_null(mkdtemp(dir));
		snprintf(p, sizeof p, "%s/junk", dir);
		fp = fopen(p, "w");
		assert_non_null(fp);
		fputs("this is not an sqlite database, just some text that is long enough ..........", fp);
		fclose(fp);
		err = NULL;
		assert_int_equal(im_store_open(p, &db, &err), IM_ERR);
		assert_null(db);
		assert_non_null(err);
		free(err);
		unlink(p);
		rmdir(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(open_sets_pragmas_and_migrates, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(readonly_open, setup, fx_teardown),
		cmocka_unit_test(bad_paths_fail_cleanly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
