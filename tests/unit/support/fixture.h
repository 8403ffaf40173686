/*
 * fixture.h — the fixtures every C unit test shares: a temp directory holding
 * a fresh store, calling an operation through the registry and decoding the
 * outcome, one-value SQL queries, and removing it all again.
 *
 * Linked into every tests/unit binary (Makefile: UNIT_SUPPORT).  Failures are
 * reported through cmocka (fail_msg / assert_*), so these helpers may only be
 * called from inside a cmocka test, setup or teardown.  Nothing here is
 * thread-safe: tests that start threads give each thread its own connection
 * and keep these helpers on the main thread.
 */
#ifndef IMHOST_TEST_FIXTURE_H
#define IMHOST_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>

#include "imhost.h"
#include "billing.h"

/* The operator context: cli surface, UTC. */
#define FX_CLI "{\"surface\":\"cli\",\"tz\":\"UTC\"}"

/* One test's world: a temp dir with a store in it.  Owned by the caller of
 * fx_new; fx_free releases everything in it. */
typedef struct {
	char dir[64];     /* /tmp/imhost-<tag>-XXXXXX, created by fx_new */
	char path[128];   /* dir/db.sqlite */
	sqlite3 *db;      /* open on path (FX_OPEN), else NULL */
	im_env env;       /* { db, NULL writer, IM_ERASE_DELETE } */
} fx;

enum { FX_DIR_ONLY = 0, FX_OPEN = 1 };

/* Creates /tmp/imhost-<tag>-XXXXXX into dir (size bytes); fails the test when
 * it cannot. */
void fx_tmpdir(char *dir, size_t size, const char *tag);

/* Removes dir and everything below it (nftw, depth first, links not followed).
 * Returns 0, or -1 when anything could not be removed. */
int fx_rmtree(const char *dir);

/* A new fixture: temp dir, and with FX_OPEN the store opened (migrated) on
 * path.  Never NULL: fails the test instead. */
fx *fx_new(const char *tag, int open);

/* Closes the store, puts the clock back to real time, removes the dir and
 * frees f (NULL is fine).  Returns 0, or -1 when the dir could not be removed. */
int fx_free(fx *f);

/* cmocka teardown for a state that is a bare fx. */
int fx_teardown(void **state);

/* Runs sql (one or more statements); fails the test with SQLite's message. */
void fx_exec(sqlite3 *db, const char *sql);

/* The first column of the first row of sql as an integer; -1 when there is no
 * row.  Fails the test when sql does not prepare. */
int64_t fx_q_int(sqlite3 *db, const char *sql);

/* The same with arg (when not NULL) bound to ?1 as text. */
int64_t fx_q_int_arg(sqlite3 *db, const char *sql, const char *arg);

/* Calls op on db with params and ctx (JSON text; params may be NULL) through
 * im_registry_call with writer NULL and IM_ERASE_DELETE.  Returns the decoded
 * result or error object (caller decrefs).  *code (may be NULL) is "ok" or the
 * error's code; it points into the returned object. */
json_t *fx_call(sqlite3 *db, const char *op, const char *params, const char *ctx, const char **code);

/* fx_call that fails the test unless the code is want; returns nothing. */
void fx_expect(sqlite3 *db, const char *op, const char *params, const char *ctx, const char *want);

/* fx_call that fails the test unless the call succeeds; returns the result. */
json_t *fx_must(sqlite3 *db, const char *op, const char *params, const char *ctx);

/* The error code of a call's error object, or NULL when r is no error. */
const char *fx_errcode(json_t *r);

/* Writes the ctx of actor in zone tz into buf: surface adhoc, or cli when
 * actor is "".  Fails the test when buf is too small or a value would need
 * JSON escaping (test data never does).  Returns buf. */
const char *fx_ctx(char *buf, size_t size, const char *actor, const char *tz);

/* Epoch seconds of y-m-d hh:00:00 UTC (timegm). */
int64_t fx_utc(int y, int m, int d, int hh);

/* One invoice run at now (billing.h); fails the test on error. */
im_bill_run_stats fx_bill_run(sqlite3 *db, int64_t now);

#endif
