/*
 * test_migrations.c — every earlier schema version upgrades to the latest with
 * its data intact; concurrent first opens are safe; bad targets are refused.
 *
 * When a step is appended to migrations.c, add a sample row for any table it
 * creates to samples[] below (with the version that created it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <cmocka.h>

#include "store.h"
#include "fixture.h"

/* A row to insert once the table exists (since = version), and a query that
 * must return 1 after the upgrade. */
static const struct sample {
	int since;
	const char *insert, *check;
} samples[] = {
	{ 1, "INSERT INTO log_message(ts,domain,sender,recipient,kind,size,body)"
	     " VALUES(1700000000,'example.com','a@example.com','b@example.com','chat',5,'hello');"
	     "INSERT INTO log_message_fts(rowid, body) SELECT id, body FROM log_message;",
	  "SELECT count(*) FROM log_message_fts WHERE log_message_fts MATCH 'hello'" },
	{ 1, "INSERT INTO log_session(ts,domain,user,event) VALUES(1,'example.com','a@example.com','login')",
	  "SELECT count(*) FROM log_session WHERE user='a@example.com'" },
	{ 1, "INSERT INTO rollup_hour(domain,hour,messages) VALUES('example.com',3600,7)",
	  "SELECT count(*) FROM rollup_hour WHERE messages=7" },
	{ 1, "INSERT INTO known_user VALUES('example.com','a@example.com',1,2)",
	  "SELECT count(*) FROM known_user" },
	{ 1, "INSERT INTO api_token VALUES('abc','a@example.com',1,2)",
	  "SELECT count(*) FROM api_token WHERE actor='a@example.com'" },
	{ 1, "INSERT INTO audit(ts,actor,surface,op,outcome) VALUES(1,'a','cli','x','ok')",
	  "SELECT count(*) FROM audit" },
	{ 2, "INSERT INTO customer(id,name,created) VALUES(7,'Acme',1);"
	     "INSERT INTO domain(name,customer_id,seats,created) VALUES('example.com',7,5,1);"
	     "INSERT INTO member VALUES(7,'a@example.com','owner');",
	  "SELECT count(*) FROM member JOIN domain USING(customer_id) WHERE role='owner' AND seats=5" },
	{ 2, "INSERT INTO account(jid,domain,created) VALUES('a@example.com','example.com',1)",
	  "SELECT count(*) FROM account WHERE version=1" },
	{ 2, "INSERT INTO reminder_sent VALUES('domain','example.com','30d','1800000000',1,2)",
	  "SELECT count(*) FROM reminder_sent" },
};

static const char *const v1_tables[] = {
	"log_message", "log_message_fts", "log_session", "rollup_hour", "rollup_user_day",
	"rollup_room_day", "session_online", "known_user", "api_token", "audit",
};

static void rm_db(const char *path)
{
	const char *sfx[] = { "", "-wal", "-shm" };
	char p[160];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		unlink(p);
	}
}

static int setup(void **state)
{
	fx *f = fx_new("mig", FX_DIR_ONLY);

	*state = f;
	return 0;
}

static void every_version_upgrades(void **state)
{
	fx *f = *state;
	int n = im_migration_count(), v;
	size_t i;

	assert_true(n >= 1);
	for (v = 0; v < n; v++) {
		sqlite3 *db = NULL;
		char *err = NULL;

		rm_db(f->path);
		/* Build the old database with plain SQLite, as an older imhost left it. */
		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(im_store_migrate(db, v, &err), IM_OK);
		assert_int_equal(im_store_version(db), v);
		for (i = 0; i < sizeof samples / sizeof samples[0]; i++)
			if (samples[i].since <= v)
				assert_int_equal(sqlite3_exec(db, samples[i].insert, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);

		assert_int_equal(im_store_open(f->path, &db, &err), IM_OK);
		assert_null(err);
		assert_int_equal(im_store_version(db), n);
		assert_int_equal(fx_q_int(db, "PRAGMA user_version"), n);
		for (i = 0; i < sizeof v1_tables / sizeof v1_tables[0]; i++) {
			char sql[160];
			snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name='%s'", v1_tables[i]);
			assert_int_equal(fx_q_int(db, sql), 1);
		}
		for (i = 0; i < sizeof samples / sizeof samples[0]; i++)
			if (samples[i].since <= v)
				assert_int_equal(fx_q_int(db, samples[i].check), 1);
		/* Step 5: the full-text index keeps no per-row sizes. */
		assert_int_equal(fx_q_int(db, "SELECT count(*) FROM sqlite_master"
		                              " WHERE name='log_message_fts_docsize'"), 0);
		assert_int_equal(sqlite3_exec(db, "PRAGMA integrity_check", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
}

static void steps_exist_and_bounds(void **state)
{
	int v;
	sqlite3 *db = NULL;
	char *err = NULL;

	(void)state;
	for (v = 1; v <= im_migration_count(); v++)
		assert_non_null(im_migration_sql(v));
	assert_null(im_migration_sql(0));
	assert_null(im_migration_sql(im_migration_count() + 1));
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(im_store_migrate(db, im_migration_count() + 1, &err), IM_EINVAL);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_int_equal(im_store_migrate(db, -1, NULL), IM_EINVAL);
	/* A database from a newer imhost is refused, not "downgraded". */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=999", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(im_store_migrate(db, im_migration_count(), &err), IM_ERR);
	assert_non_null(strstr(err, "newer"));
	free(err);
	sqlite3_close(db);
}

struct opener { const char *path; pthread_barrier_t *b; int rc, version; };

static void *open_one(void *arg)
{
	struct opener *o = arg;
	sqlite3 *db = NULL;
	char *err = NULL;

	pthread_barrier_wait(o->b);
	o->rc = im_store_open(o->path, &db, &err);
	if (o->rc == IM_OK)
		o->version = im_store_version(db);
	else
		fprintf(stderr, "open failed: %s\n", err ? err : "?");
	free(err);
	sqlite3_close(db);
	return NULL;
}

static void two_opens_at_once(void **state)
{
	fx *f = *state;
	int round;

	/* Separate connections, as two processes would have: the locking is SQLite's. */
	for (round = 0; round < 10; round++) {
		pthread_barrier_t b;
		struct opener o[2] = { { f->path, &b, -1, -1 }, { f->path, &b, -1, -1 } };
		pthread_t t[2];
		int i;

		rm_db(f->path);
		assert_int_equal(pthread_barrier_init(&b, NULL, 2), 0);
		for (i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&t[i], NULL, open_one, &o[i]), 0);
		for (i = 0; i < 2; i++) {
			assert_int_equal(pthread_join(t[i], NULL), 0);
			assert_int_equal(o[i].rc, IM_OK);
			assert_int_equal(o[i].version, im_migration_count());
		}
		pthread_barrier_destroy(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_version_upgrades, setup, fx_teardown),
		cmocka_unit_test(steps_exist_and_bounds),
		cmocka_unit_test_setup_teardown(two_opens_at_once, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
