/*
 * test_logmaint.c — erasure (delete and pseudonymize), retention in chunks, and
 * the GDPR export, on data written through the real log writer.
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

#include "logmaint.h"
#include "logwriter.h"
#include "sha256.h"
#include "store.h"
#include "fixture.h"

#define T0 INT64_C(1700000000)
#define ALICE "alice@example.com"
#define BOB "bob@example.com"

static void put(im_writer *w, int64_t ts, const char *from, const char *to, const char *body)
{
	im_log_message m = { .ts = ts, .domain = "example.com", .from = from, .to = to,
	                     .kind = "chat", .size = 10, .body = body,
	                     .body_len = body ? strlen(body) : 0 };
	assert_int_equal(im_writer_message(w, &m), IM_OK);
}

static void login(im_writer *w, int64_t ts, const char *user, const char *event)
{
	im_log_session s = { .ts = ts, .domain = "example.com", .user = user, .resource = "laptop",
	                     .client = "Gajim", .event = event };
	assert_int_equal(im_writer_session(w, &s), IM_OK);
}

/* alice <-> bob, bob -> carol, a room message by alice, sessions for both. */
static int setup(void **state)
{
	fx *f = fx_new("lm", FX_DIR_ONLY);
	im_writer_opts o = { 0 };
	im_writer *w = NULL;

	o.path = f->path;
	assert_int_equal(im_writer_open(&o, &w, NULL), IM_OK);
	put(w, T0 + 1, ALICE, BOB, "alpha from alice");
	put(w, T0 + 2, BOB, ALICE, "bravo to alice");
	put(w, T0 + 3, BOB, "carol@example.com", "charlie for carol");
	put(w, T0 + 4, ALICE, BOB, NULL);
	{
		im_log_message m = { .ts = T0 + 5, .domain = "example.com", .from = ALICE,
		                     .room = "room@muc.example.com", .kind = "groupchat", .size = 3,
		                     .body = "delta in room", .body_len = 13 };
		assert_int_equal(im_writer_message(w, &m), IM_OK);
	}
	login(w, T0, ALICE, "login");
	login(w, T0, BOB, "login");
	login(w, T0 + 10, ALICE, "logout");
	im_writer_close(w);
	assert_int_equal(im_store_open(f->path, &f->db, NULL), IM_OK);
	*state = f;
	return 0;
}

static int64_t fts_hits(sqlite3 *db, const char *word)
{
	return fx_q_int_arg(db, "SELECT count(*) FROM log_message_fts WHERE log_message_fts MATCH ?", word);
}

static void fts_consistent(sqlite3 *db)
{
	assert_int_equal(sqlite3_exec(db, "INSERT INTO log_message_fts(log_message_fts)"
	                              " VALUES('integrity-check')", NULL, NULL, NULL), SQLITE_OK);
}

/* Every place a user JID can be stored. */
static int64_t traces(sqlite3 *db, const char *jid)
{
	return fx_q_int_arg(db, "SELECT (SELECT count(*) FROM log_message WHERE sender=?1 OR recipient=?1)"
	                 " + (SELECT count(*) FROM log_session WHERE user=?1)"
	                 " + (SELECT count(*) FROM rollup_user_day WHERE user=?1)"
	                 " + (SELECT count(*) FROM known_user WHERE user=?1)", jid);
}

static void erase_delete(void **state)
{
	fx *f = *state;
	int64_t n = -1;
	char *err = NULL;

	assert_true(traces(f->db, ALICE) > 0);
	assert_int_equal(fts_hits(f->db, "alpha"), 1);
	assert_int_equal(im_logs_erase_user(f->db, ALICE, IM_ERASE_DELETE, &n, &err), IM_OK);
	assert_null(err);
	assert_int_equal(n, 4 + 2);        /* 4 messages (sent or received), 2 session events */
	assert_int_equal(traces(f->db, ALICE), 0);
	assert_int_equal(fts_hits(f->db, "alpha"), 0);
	assert_int_equal(fts_hits(f->db, "bravo"), 0);
	assert_int_equal(fts_hits(f->db, "delta"), 0);
	assert_int_equal(fts_hits(f->db, "charlie"), 1);   /* bob -> carol untouched */
	fts_consistent(f->db);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM log_message", NULL), 1);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM log_session WHERE user=?", BOB), 1);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM known_user WHERE user=?", BOB), 1);
	/* Aggregates without identities stay: trends outlive the person. */
	assert_int_equal(fx_q_int_arg(f->db, "SELECT sum(messages) FROM rollup_hour", NULL), 5);
	/* Erasing again is harmless. */
	assert_int_equal(im_logs_erase_user(f->db, ALICE, IM_ERASE_DELETE, &n, NULL), IM_OK);
	assert_int_equal(n, 0);
}

static void erase_pseudonymize(void **state)
{
	fx *f = *state;
	char p[128], hex[65], expect[128];
	int64_t n = -1;

	im_sha256_hex(ALICE, strlen(ALICE), hex);
	snprintf(expect, sizeof expect, "erased-%.12s@example.com", hex);
	assert_int_equal(im_logs_pseudonym(ALICE, p, sizeof p), IM_OK);
	assert_string_equal(p, expect);
	assert_int_equal(im_logs_erase_user(f->db, ALICE, IM_ERASE_PSEUDONYMIZE, &n, NULL), IM_OK);
	assert_int_equal(n, 6);
	assert_int_equal(traces(f->db, ALICE), 0);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM log_message WHERE sender=?", p), 3);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM log_message WHERE recipient=?", p), 1);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM log_message WHERE (sender=?1 OR recipient=?1)"
	                              " AND body IS NOT NULL", p), 0);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM log_session WHERE user=?1 AND resource IS NULL", p), 2);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT messages FROM rollup_user_day WHERE user=?", p), 3);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT logins FROM rollup_user_day WHERE user=?", p), 1);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM known_user WHERE user=?", p), 0);
	assert_int_equal(fts_hits(f->db, "alpha"), 0);
	assert_int_equal(fts_hits(f->db, "bravo"), 0);
	assert_int_equal(fts_hits(f->db, "charlie"), 1);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM log_message", NULL), 5);
	fts_consistent(f->db);
	/* Twice: the pseudonym's rollup rows merge, nothing fails. */
	assert_int_equal(im_logs_erase_user(f->db, ALICE, IM_ERASE_PSEUDONYMIZE, &n, NULL), IM_OK);
	assert_int_equal(n, 0);
}

static void erase_refuses_bad_input(void **state)
{
	fx *f = *state;
	int64_t n;
	char *err = NULL;

	assert_int_equal(im_logs_erase_user(f->db, "nodomain", 0, &n, &err), IM_EINVAL);
	assert_non_null(err);
	free(err);
	assert_int_equal(im_logs_erase_user(f->db, ALICE "/res", 0, &n, NULL), IM_EINVAL);
	assert_int_equal(im_logs_erase_user(f->db, NULL, 0, &n, NULL), IM_EINVAL);
	assert_int_equal(im_logs_erase_user(f->db, ALICE, 7, &n, NULL), IM_EINVAL);
	/* Nothing was touched: 4 messages, 2 session events, 1 rollup row, 1 known_user. */
	assert_int_equal(traces(f->db, ALICE), 8);
}

static void retention_in_chunks(void **state)
{
	fx *f = *state;
	im_writer_opts o = { 0 };
	im_writer *w = NULL;
	int64_t d = -1, total = 0;
	int i, calls = 0;

	/* 25 more old messages on another domain, with bodies. */
	o.path = f->path;
	assert_int_equal(im_writer_open(&o, &w, NULL), IM_OK);
	for (i = 0; i < 25; i++) {
		im_log_message m = { .ts = T0 - 1000 + i, .domain = "other.org", .from = "x@other.org",
		                     .to = "y@other.org", .kind = "chat", .size = 1,
		                     .body = "ancient words", .body_len = 13 };
		assert_int_equal(im_writer_message(w, &m), IM_OK);
	}
	im_writer_close(w);
	assert_int_equal(fts_hits(f->db, "ancient"), 25);

	/* Domain filter: other.org only, chunks of 10: 10, 10, 5. */
	do {
		assert_int_equal(im_logs_retention_chunk(f->db, "other.org", T0 + 100, 10, &d, NULL), IM_OK);
		total += d;
		calls++;
	} while (d == 10);
	assert_int_equal(calls, 3);
	assert_int_equal(total, 25);
	assert_int_equal(fts_hits(f->db, "ancient"), 0);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM log_message", NULL), 5);
	fts_consistent(f->db);

	/* All domains, cutoff between entries: ts < T0+3 removes 2 messages and the 2
	 * session events at T0. */
	assert_int_equal(im_logs_retention_chunk(f->db, NULL, T0 + 3, 100, &d, NULL), IM_OK);
	assert_int_equal(d, 4);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT min(ts) FROM log_message", NULL), T0 + 3);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM log_session", NULL), 1);
	assert_int_equal(fts_hits(f->db, "alpha"), 0);
	assert_int_equal(fts_hits(f->db, "charlie"), 1);
	fts_consistent(f->db);
	/* Rollups and known users are kept. */
	assert_int_equal(fx_q_int_arg(f->db, "SELECT sum(messages) FROM rollup_hour", NULL), 30);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM known_user WHERE user=?", ALICE), 1);

	assert_int_equal(im_logs_retention_chunk(f->db, NULL, T0, 0, &d, NULL), IM_EINVAL);
	assert_int_equal(im_logs_retention_chunk(f->db, "", T0, 10, &d, NULL), IM_EINVAL);
}

static void export_user(void **state)
{
	fx *f = *state;
	json_t *o = NULL, *msgs, *m, *sess;
	size_t i;

	assert_int_equal(im_logs_export_user(f->db, BOB, &o, NULL), IM_OK);
	assert_string_equal(json_string_value(json_object_get(o, "user")), BOB);
	msgs = json_object_get(o, "messages");
	assert_int_equal(json_array_size(msgs), 4);   /* alpha, bravo, charlie, the bodiless one */
	for (i = 1; i < json_array_size(msgs); i++)  /* oldest first */
		assert_true(json_integer_value(json_object_get(json_array_get(msgs, i - 1), "ts")) <=
		            json_integer_value(json_object_get(json_array_get(msgs, i), "ts")));
	m = json_array_get(msgs, 0);
	assert_string_equal(json_string_value(json_object_get(m, "from")), ALICE);
	assert_string_equal(json_string_value(json_object_get(m, "to")), BOB);
	assert_string_equal(json_string_value(json_object_get(m, "body")), "alpha from alice");
	assert_string_equal(json_string_value(json_object_get(m, "direction")), "received");
	assert_true(json_is_false(json_object_get(m, "truncated")));
	assert_true(json_is_null(json_object_get(m, "encrypted")));
	assert_int_equal(json_integer_value(json_object_get(m, "ts")), T0 + 1);
	m = json_array_get(msgs, 1);
	assert_string_equal(json_string_value(json_object_get(m, "direction")), "sent");
	assert_true(json_is_null(json_object_get(json_array_get(msgs, 3), "body")));
	sess = json_object_get(o, "sessions");
	assert_int_equal(json_array_size(sess), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(sess, 0), "event")), "login");
	assert_string_equal(json_string_value(json_object_get(json_array_get(sess, 0), "client")), "Gajim");
	json_decref(o);

	assert_int_equal(im_logs_export_user(f->db, "nobody@example.com", &o, NULL), IM_OK);
	assert_int_equal(json_array_size(json_object_get(o, "messages")), 0);
	json_decref(o);
	assert_int_equal(im_logs_export_user(f->db, "bad", &o, NULL), IM_EINVAL);
	assert_null(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(erase_delete, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(erase_pseudonymize, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(erase_refuses_bad_input, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(retention_in_chunks, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(export_user, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
