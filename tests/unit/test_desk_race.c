/*
 * test_desk_race.c — desk.incoming from two worker threads at once, each on
 * its own connection (as the operation workers run it).  A flood from one
 * sender used to come back with 2-3 "internal: not an error" answers in
 * 1,000: a write upgraded from a read snapshot (SQLITE_BUSY_SNAPSHOT, which
 * skips the busy handler) and "no open ticket" decided outside the write
 * transaction.  Here every call must succeed, the sender must end up with
 * exactly one ticket, every distinct message stored once, and a message
 * sent twice (same stanza id, both threads) stored once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imhost.h"
#include "fixture.h"
#include "desk.h"
#include "store.h"

#define T0 1773043200LL   /* Mon 2026-03-09 09:00 Europe/Berlin */
#define ALICE "alice@a.example"
#define PER_THREAD 500

typedef struct {
	const char *path;
	int thread;       /* 0 or 1 */
	int same_ids;     /* both threads send the same stanza ids */
	int failures;     /* calls that did not return IM_OK */
	int created;      /* "created" answers */
	char first_err[256];
} worker;

static void *run(void *arg)
{
	worker *w = arg;
	sqlite3 *db = NULL;
	im_desk_conf conf;
	int i;

	if (im_store_open(w->path, &db, NULL) != IM_OK || im_desk_conf_load(db, &conf) != IM_OK) {
		w->failures = PER_THREAD;
		sqlite3_close(db);
		return NULL;
	}
	for (i = 0; i < PER_THREAD; i++) {
		char id[32], body[64];
		json_t *out = NULL;
		int n = w->same_ids ? i : w->thread * PER_THREAD + i;

		snprintf(id, sizeof id, "m%d", n);
		snprintf(body, sizeof body, "flood message %d", n);
		if (im_desk_incoming(db, &conf, ALICE, body, id, T0 + i / 100, &out) != IM_OK) {
			if (w->failures++ == 0)
				snprintf(w->first_err, sizeof w->first_err, "%s", sqlite3_errmsg(db));
		} else if (strcmp(json_string_value(json_object_get(out, "action")), "created") == 0) {
			w->created++;
		}
		json_decref(out);
	}
	sqlite3_close(db);
	return NULL;
}

static void race(fx *f, int same_ids)
{
	pthread_t th[2];
	worker w[2];
	int i;

	fx_exec(f->db, "INSERT INTO staff(jid, role) VALUES('tech@support.example','technician');"
	               "INSERT INTO customer(id, name, created) VALUES(1,'A',0);"
	               "INSERT INTO domain(name, customer_id, created) VALUES('a.example',1,0);"
	               "INSERT INTO desk_setting(key, value) VALUES('rate_per_min','10000');");
	for (i = 0; i < 2; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].path = f->path;
		w[i].thread = i;
		w[i].same_ids = same_ids;
		assert_int_equal(pthread_create(&th[i], NULL, run, &w[i]), 0);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (i = 0; i < 2; i++)
		if (w[i].failures)
			fail_msg("thread %d: %d of %d calls failed, first: %s", i, w[i].failures, PER_THREAD, w[i].first_err);
	/* One ticket: the second thread's first message must see the first's. */
	assert_int_equal(w[0].created + w[1].created, 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_ticket"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_post"), same_ids ? PER_THREAD : 2 * PER_THREAD);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_fts"), same_ids ? PER_THREAD : 2 * PER_THREAD);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_rate"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(DISTINCT idem) FROM desk_post"),
	                 same_ids ? PER_THREAD : 2 * PER_THREAD);
}

static void two_threads_distinct_messages(void **state)
{
	race(*state, 0);
}

static void two_threads_same_stanzas(void **state)
{
	race(*state, 1);
}

static int setup(void **state)
{
	*state = fx_new("desk-race", FX_OPEN);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(two_threads_distinct_messages, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(two_threads_same_stanzas, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
