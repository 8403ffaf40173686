/*
 * store.c — opening the imhost database and applying the schema's steps.
 *
 * Every connection gets the same pragmas (WAL, foreign keys, synchronous=NORMAL,
 * busy timeout) so that the writer thread, the operation workers and a second
 * process (prosodyctl) all see one consistent database.  Migrations run one step
 * per BEGIN IMMEDIATE transaction and re-read user_version inside it, so two
 * processes opening a fresh file at once apply each step exactly once.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imhost_err.h"
#include "store.h"

#define BUSY_TIMEOUT_MS 5000

void im_store_set_err(char **err, const char *what, sqlite3 *db)
{
	im_set_errf(err, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* Reads a single integer pragma; -1 on error. */
static int64_t pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int im_store_version(sqlite3 *db)
{
	return (int)pragma_int(db, "PRAGMA user_version");
}

int64_t im_store_size_bytes(sqlite3 *db)
{
	int64_t pages = pragma_int(db, "PRAGMA page_count");
	int64_t size = pragma_int(db, "PRAGMA page_size");

	if (pages < 0 || size < 0)
		return -1;
	return pages * size;
}

/* Applies one step inside its own IMMEDIATE transaction.  Re-checks the version
 * under the write lock: another process may have applied the step meanwhile. */
static int apply_step(sqlite3 *db, int version, char **err)
{
	char sql[64];
	int cur;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		im_store_set_err(err, "migration: begin", db);
		return IM_ERR;
	}
	cur = im_store_version(db);
	if (cur < 0) {
		im_store_set_err(err, "migration: user_version", db);
		goto fail;
	}
	if (cur >= version) {   /* someone else got there first */
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			im_store_set_err(err, "migration: commit", db);
			goto fail;
		}
		return IM_OK;
	}
	if (cur != version - 1) {
		im_set_errf(err, "migration: database at version %d, expected %d", cur, version - 1);
		goto fail;
	}
	if (sqlite3_exec(db, im_migration_sql(version), NULL, NULL, NULL) != SQLITE_OK) {
		im_set_errf(err, "migration %d: %s", version, sqlite3_errmsg(db));
		goto fail;
	}
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		im_store_set_err(err, "migration: set user_version", db);
		goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		im_store_set_err(err, "migration: commit", db);
		goto fail;
	}
	return IM_OK;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);   /* may fail if none is open: fine */
	return IM_ERR;
}

int im_store_migrate(sqlite3 *db, int target_version, char **err)
{
	int cur = im_store_version(db);
	int v;

	if (cur < 0) {
		im_store_set_err(err, "migration: user_version", db);
		return IM_ERR;
	}
	if (cur > im_migration_count()) {
		im_set_errf(err, "database schema version %d is newer than this imhost (%d)",
		         cur, im_migration_count());
		return IM_ERR;
	}
	if (target_version < cur || target_version > im_migration_count()) {
		im_set_errf(err, "migration: bad target version %d (database at %d, latest %d)",
		         target_version, cur, im_migration_count());
		return IM_EINVAL;
	}
	for (v = cur + 1; v <= target_version; v++)
		if (apply_step(db, v, err) != IM_OK)
			return IM_ERR;
	return IM_OK;
}

/* Switches to WAL.  The switch on a brand-new file can report "database is
 * locked" at once when another process is creating the same file: it does not
 * always go through the busy handler, so retry here within the same budget. */
static int set_wal(sqlite3 *db)
{
	const struct timespec pause = { 0, 10 * 1000000 };
	int waited_ms, rc = SQLITE_BUSY;

	for (waited_ms = 0; waited_ms <= BUSY_TIMEOUT_MS; waited_ms += 10) {
		sqlite3_stmt *st = NULL;

		rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW) {
				const unsigned char *mode = sqlite3_column_text(st, 0);
				rc = mode != NULL && strcmp((const char *)mode, "wal") == 0
				     ? SQLITE_OK : SQLITE_ERROR;
			}
		}
		sqlite3_finalize(st);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			return rc;
		nanosleep(&pause, NULL);
	}
	return rc;
}

static pthread_once_t sqlite_setup_once = PTHREAD_ONCE_INIT;

/* Process-wide, before SQLite initializes: no memory statistics (nothing reads
 * them, and they take a global mutex on every allocation).  If SQLite is
 * already initialized (another Prosody module uses it) this is refused with
 * SQLITE_MISUSE, which is harmless: the defaults stay. */
static void sqlite_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Opens a connection with the common settings.  WAL is set only on read-write
 * connections (a read-only one cannot change the journal mode). */
static int open_conn(const char *path, int flags, sqlite3 **out, char **err)
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	if (path == NULL || *path == '\0') {
		im_set_errf(err, "open: empty database path");
		return IM_EINVAL;
	}
	/* Every connection belongs to one thread (the loop's, the log writer's, one
	 * per worker; opened before that thread starts using it), never used by
	 * two at once: SQLite's per-call mutexes would be pure cost. */
	pthread_once(&sqlite_setup_once, sqlite_setup);
	rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		im_set_errf(err, "open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return IM_ERR;
	}
	sqlite3_extended_result_codes(db, 1);
	/* The busy timeout first: the journal-mode switch below may need to wait for
	 * another process that is opening the same file. */
	if (sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS) != SQLITE_OK)
		goto fail;
	if (!(flags & SQLITE_OPEN_READONLY)) {
		if (set_wal(db) != SQLITE_OK) {
			im_set_errf(err, "open %s: cannot switch to WAL: %s", path, sqlite3_errmsg(db));
			sqlite3_close(db);
			return IM_ERR;
		}
		if (sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	if (sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	*out = db;
	return IM_OK;
fail:
	im_set_errf(err, "open %s: %s", path, sqlite3_errmsg(db));
	sqlite3_close(db);
	return IM_ERR;
}

int im_store_open(const char *path, sqlite3 **out, char **err)
{
	sqlite3 *db = NULL;
	int rc = open_conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db, err);

	if (rc != IM_OK)
		return rc;
	if (im_store_migrate(db, im_migration_count(), err) != IM_OK) {
		sqlite3_close(db);
		*out = NULL;
		return IM_ERR;
	}
	*out = db;
	return IM_OK;
}

int im_store_open_readonly(const char *path, sqlite3 **out, char **err)
{
	return open_conn(path, SQLITE_OPEN_READONLY, out, err);
}
