/*
 * test_search.c — logs.search: keywords, phrases, prefixes, filters, time zones,
 * keyset paging under concurrent inserts, hostile keyword text, and the two
 * keyword plans returning the same rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <pthread.h>

#include "imhost.h"
#include "fixture.h"

#define T0 1795700000   /* 2026-11-26T13:33:20Z */

static void add(sqlite3 *db, int64_t ts, const char *from, const char *to, const char *room,
                const char *kind, const char *body, const char *enc)
{
	sqlite3_stmt *st;
	int64_t id;

	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO log_message(ts, domain, sender, recipient, room, "
	                 "kind, stanza_id, size, body, encrypted) VALUES(?,?,?,?,?,?,'sid',100,?,?)", -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(st, 1, ts);
	sqlite3_bind_text(st, 2, strchr(from, '@') + 1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, room, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, body, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, enc, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	id = sqlite3_last_insert_rowid(db);
	if (body == NULL)
		return;
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO log_message_fts(rowid, body) VALUES(?,?)", -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static int setup(void **state)
{
	fx *f = fx_new("search", FX_OPEN);
	int i;

	sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL);
	add(f->db, T0 + 1, "alice@a.example", "bob@a.example", NULL, "chat", "Hello Bob, the invoice 4711 is ready", NULL);
	add(f->db, T0 + 2, "bob@a.example", "alice@a.example", NULL, "chat", "thanks for the invoice", NULL);
	add(f->db, T0 + 3, "carol@b.example", "alice@a.example", NULL, "chat", "meeting tomorrow at noon", NULL);
	add(f->db, T0 + 4, "alice@a.example", NULL, "lounge@conf.a.example", "groupchat", "lunch anyone? pizza or pasta", NULL);
	add(f->db, T0 + 5, "bob@a.example", NULL, "lounge@conf.a.example", "groupchat", "pizza please", NULL);
	add(f->db, T0 + 6, "alice@a.example", "alice@a.example", NULL, "chat", "note to self: buy milk", NULL);
	add(f->db, T0 + 7, "bob@a.example", "carol@b.example", NULL, "normal", "Der B\xc3\xa4" "cker hat ge\xc3\xb6" "ffnet", NULL);
	add(f->db, T0 + 8, "bob@a.example", "carol@b.example", NULL, "chat", NULL, "omemo");
	/* 120 fillers a day earlier, pairs sharing a timestamp to exercise (ts, id) ties */
	for (i = 0; i < 120; i++) {
		char body[64];
		snprintf(body, sizeof body, "filler message %d common", i);
		add(f->db, T0 - 86400 + i / 2, "dave@c.example", "erin@c.example", NULL, "chat", body, NULL);
	}
	fx_exec(f->db, "COMMIT");
	*state = f;
	return 0;
}

static im_search_q base(void)
{
	im_search_q q;

	memset(&q, 0, sizeof q);
	q.since = 0;
	q.until = INT64_MAX;
	q.limit = 50;
	return q;
}

/* Runs q; returns the items' ids, newest first, in ids (count returned). */
static int run(fx *f, const im_search_q *q, int64_t *ids, int max, char *next, size_t nextsz)
{
	json_t *res = NULL, *it;
	char *err = NULL;
	size_t i;
	int n = 0;

	if (im_logsearch(f->db, q, &res, NULL, &err) != IM_OK)
		fail_msg("search failed: %s", err ? err : "?");
	json_array_foreach(json_object_get(res, "items"), i, it) {
		assert_true(n < max);
		ids[n++] = json_integer_value(json_object_get(it, "id"));
	}
	if (next) {
		const char *c = json_string_value(json_object_get(res, "next_cursor"));
		snprintf(next, nextsz, "%s", c ? c : "");
	}
	json_decref(res);
	return n;
}

static int count(fx *f, const im_search_q *q)
{
	int64_t ids[500];
	return run(f, q, ids, 500, NULL, 0);
}

static int count_kw(fx *f, const char *kw)
{
	im_search_q q = base();
	q.keyword = kw;
	return count(f, &q);
}

static void test_fts_query_builder(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(im_fts_query("foo \"bar baz\" qu*", out, sizeof out), 3);
	assert_string_equal(out, "\"foo\" \"bar baz\" \"qu\" *");
	assert_int_equal(im_fts_query("a OR b", out, sizeof out), 3);
	assert_string_equal(out, "\"a\" \"OR\" \"b\"");
	assert_int_equal(im_fts_query("\"unbalanced phrase", out, sizeof out), 1);
	assert_string_equal(out, "\"unbalanced phrase\"");
	assert_int_equal(im_fts_query("* ** ( ) \"\" -", out, sizeof out), 0);
	assert_string_equal(out, "");
	assert_int_equal(im_fts_query("x\"y", out, sizeof out), 2);
	assert_string_equal(out, "\"x\" \"y\"");
	assert_int_equal(im_fts_query("NEAR(a b)", out, sizeof out), 2);
	assert_string_equal(out, "\"NEAR(a\" \"b)\"");
	assert_int_equal(im_fts_query("abcdefghij", out, 8), -1);
}

static void test_keywords(void **state)
{
	fx *f = *state;
	int64_t ids[10];
	im_search_q q = base();

	assert_int_equal(count_kw(f, "invoice"), 2);
	assert_int_equal(count_kw(f, "INVOICE"), 2);
	assert_int_equal(count_kw(f, "\"invoice 4711\""), 1);
	assert_int_equal(count_kw(f, "\"4711 invoice\""), 0);
	assert_int_equal(count_kw(f, "piz*"), 2);
	assert_int_equal(count_kw(f, "pizza please"), 1);       /* AND */
	assert_int_equal(count_kw(f, "pizza OR milk"), 0);      /* OR is a word, not an operator */
	assert_int_equal(count_kw(f, "backer"), 1);             /* diacritics folded */
	assert_int_equal(count_kw(f, "nothinglikethis"), 0);
	q.keyword = "invoice";
	assert_int_equal(run(f, &q, ids, 10, NULL, 0), 2);
	assert_true(ids[0] > ids[1]);                            /* newest first */
}

static void test_hostile_keywords_never_error(void **state)
{
	static const char *const kws[] = {
		"\"", "\"\"", "\"\"\"", "\"unbalanced", "*", "**", "*pizza", "pizza**", "a OR b", "NOT pizza",
		"pizza NOT pasta", "NEAR(pizza pasta)", "NEAR(pizza pasta, 2)", "body:pizza", "{body}: x",
		"^pizza", "(", ")", "((pizza)", "pizza AND", "AND", "OR", "-pizza", "+pizza", "pi\"zza",
		"'", "\\", "%", "_", "\xc3\xa4", "\xe2\x80\x9cpizza\xe2\x80\x9d", "pizza*please", ":",
		"col : pizza", "\t\n", "", "a b c d e f g h i j k l m n o p q r s t u v w x y z",
	};
	fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof kws / sizeof kws[0]; i++) {
		im_search_q q = base();
		json_t *res = NULL;
		char *err = NULL;
		q.keyword = kws[i];
		if (im_logsearch(f->db, &q, &res, NULL, &err) != IM_OK)
			fail_msg("keyword <%s> failed: %s", kws[i], err ? err : "?");
		assert_true(json_is_array(json_object_get(res, "items")));
		json_decref(res);
	}
	assert_int_equal(count_kw(f, "NEAR(pizza pasta)"), 0);   /* words "near", "pizza", "pasta": AND */
	assert_int_equal(count_kw(f, "((pizza)"), 2);
}

static void test_filters(void **state)
{
	fx *f = *state;
	im_search_q q = base();
	int64_t ids[200];
	int n, i;

	q.user = "alice@a.example";                 /* either side; the self-note once */
	n = run(f, &q, ids, 200, NULL, 0);
	assert_int_equal(n, 5);
	for (i = 1; i < n; i++)
		assert_true(ids[i - 1] != ids[i]);
	q.user = "carol@b.example";
	assert_int_equal(count(f, &q), 3);
	q.keyword = "meeting";
	assert_int_equal(count(f, &q), 1);
	q = base();
	q.room = "lounge@conf.a.example";
	assert_int_equal(count(f, &q), 2);
	q.keyword = "please";
	assert_int_equal(count(f, &q), 1);
	q = base();
	q.kind = "normal";
	assert_int_equal(count(f, &q), 1);
	q = base();
	q.domain = "c.example";
	q.limit = 500;
	assert_int_equal(count(f, &q), 120);
	q = base();
	q.since = T0 + 2;
	q.until = T0 + 5;                            /* [since, until) */
	assert_int_equal(count(f, &q), 3);
}

static void test_range_in_time_zone_via_registry(void **state)
{
	fx *f = *state;
	im_env env = { f->db, NULL, IM_ERASE_DELETE };
	const char *ctx = "{\"actor\":\"admin@a.example\",\"roles\":[\"server_admin\"],"
	                  "\"surface\":\"http\",\"tz\":\"Europe/Berlin\"}";
	char *res;
	int ok;
	json_t *r;

	/* T0+1..8 is 2026-11-26 14:33 in Berlin; fillers are the day before. */
	res = im_registry_call(&env, "logs.search",
	                       "{\"since\":\"2026-11-26\",\"until\":\"2026-11-26T14:33:23\"}", ctx, &ok);
	assert_true(ok);
	r = json_loads(res, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(r, "items")), 2);  /* T0+1, T0+2 */
	json_decref(r);
	free(res);
	/* The same wall-clock times read as UTC cover an hour more. */
	res = im_registry_call(&env, "logs.search", "{\"since\":\"2026-11-26\",\"until\":\"2026-11-26T14:33:23\"}",
	                       "{\"surface\":\"cli\",\"tz\":\"UTC\"}", &ok);
	assert_true(ok);
	r = json_loads(res, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(r, "items")), 8);
	json_decref(r);
	free(res);
	res = im_registry_call(&env, "logs.search", "{\"since\":\"26.11.2026\"}", ctx, &ok);
	assert_false(ok);
	assert_non_null(strstr(res, "\"param\":\"since\""));
	free(res);
	res = im_registry_call(&env, "logs.search", "{\"cursor\":\"zz-1\"}", ctx, &ok);
	assert_false(ok);
	assert_non_null(strstr(res, "\"invalid\""));
	free(res);
}

static void test_paging_stable_under_inserts(void **state)
{
	fx *f = *state;
	im_search_q q = base();
	char cursor[64] = "";
	int64_t all[200], page[7];
	int total = 0, pages = 0, n, i, j;

	q.domain = "c.example";
	q.limit = 7;
	do {
		q.cursor = *cursor ? cursor : NULL;
		n = run(f, &q, page, 7, cursor, sizeof cursor);
		for (i = 0; i < n; i++)
			all[total++] = page[i];
		/* Meanwhile new entries arrive: newer, and at the very same second. */
		add(f->db, T0 - 86400 + 200 + pages, "dave@c.example", "erin@c.example", NULL, "chat", "late", NULL);
		add(f->db, T0 - 86400 + 59 - pages % 3, "dave@c.example", "erin@c.example", NULL, "chat", "late", NULL);
		pages++;
	} while (*cursor && pages < 100);
	/* Every entry of the first snapshot exactly once, in (ts, id) DESC order;
	 * entries that arrived "above" the cursor never shift later pages. */
	assert_true(total >= 120);
	for (i = 0; i < total; i++)
		for (j = i + 1; j < total; j++)
			assert_true(all[i] != all[j]);
	{
		int originals = 0;
		for (i = 0; i < total; i++)
			originals += all[i] >= 9 && all[i] <= 128;
		assert_int_equal(originals, 120);
	}
}

/* A writer thread keeps logging (newer and older timestamps, same domain)
 * while pages are read: keyset paging must still hand out every entry of the
 * original set exactly once, in strictly descending (ts, id) order. */
/* The writer thread's handle and stop flag, shared with the test. */
typedef struct { im_writer *w; int stop; } writer_run;

static void *keep_writing(void *arg)
{
	writer_run *wr = arg;
	int i = 0;

	while (!__atomic_load_n(&wr->stop, __ATOMIC_SEQ_CST) && i < 3000) {
		im_log_message m;
		memset(&m, 0, sizeof m);
		m.ts = T0 - 86400 + (i % 2 ? 500 + i : 30 - i % 60);
		m.domain = "c.example";
		m.from = "dave@c.example";
		m.to = "erin@c.example";
		m.kind = "chat";
		m.body = "concurrent";
		m.body_len = 10;
		m.size = 10;
		if (im_writer_message(wr->w, &m) == IM_OK)
			i++;
		if (i % 50 == 0)
			usleep(200);
	}
	return NULL;
}

static void test_paging_with_a_concurrent_writer(void **state)
{
	fx *f = *state;
	im_writer_opts o;
	writer_run wr = { NULL, 0 };
	char cursor[64] = "";
	im_search_q q = base();
	static int64_t all[30000], keys[30000][2];
	int total = 0, pages = 0, i, originals = 0;
	pthread_t th;

	memset(&o, 0, sizeof o);
	o.path = f->path;
	o.flush_ms = 5;
	assert_int_equal(im_writer_open(&o, &wr.w, NULL), IM_OK);
	wr.stop = 0;
	assert_int_equal(pthread_create(&th, NULL, keep_writing, &wr), 0);
	for (i = 0; i < 5000; i++) {   /* the writer is committing before paging starts */
		im_writer_stats st;
		im_writer_stats_get(wr.w, &st);
		if (st.written >= 200)
			break;
		usleep(1000);
	}
	q.domain = "c.example";
	q.limit = 5;
	do {
		json_t *res = NULL, *it;
		size_t k;
		char *err = NULL;
		q.cursor = *cursor ? cursor : NULL;
		assert_int_equal(im_logsearch(f->db, &q, &res, NULL, &err), IM_OK);
		json_array_foreach(json_object_get(res, "items"), k, it) {
			keys[total][0] = json_integer_value(json_object_get(it, "ts"));
			keys[total][1] = json_integer_value(json_object_get(it, "id"));
			all[total] = keys[total][1];
			total++;
		}
		snprintf(cursor, sizeof cursor, "%s", json_is_string(json_object_get(res, "next_cursor"))
		         ? json_string_value(json_object_get(res, "next_cursor")) : "");
		json_decref(res);
		pages++;
		usleep(500);
	} while (*cursor && total < 29000);
	__atomic_store_n(&wr.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
	im_writer_close(wr.w);
	wr.w = NULL;
	assert_true(pages > 20);
	assert_true(total > 220);      /* rows written meanwhile did show up */
	for (i = 1; i < total; i++)   /* strictly descending: no repeats, no going back */
		assert_true(keys[i][0] < keys[i - 1][0] || (keys[i][0] == keys[i - 1][0] && keys[i][1] < keys[i - 1][1]));
	for (i = 0; i < total; i++)
		originals += all[i] >= 9 && all[i] <= 128;
	assert_int_equal(originals, 120);
}

static void test_plans_agree(void **state)
{
	static const char *const kws[] = { "common", "filler 7*", "invoice", "pizza", "message",
	                                   "\"filler message 1\"", "nothing" };
	fx *f = *state;
	size_t i;
	int k, p;

	/* The same page whichever plan runs: SQL join (FTS), streamed merge, and
	 * merge with per-candidate checks; first and second page. */
	for (i = 0; i < sizeof kws / sizeof kws[0]; i++) {
		int64_t ids[3][200];
		char cur[3][64], next[3][64];
		int n[3];
		im_search_q q = base();
		static const int plans[3] = { IM_PLAN_FTS, 0, IM_PLAN_MERGE_CHECK };
		q.keyword = kws[i];
		q.limit = 9;
		q.user = i % 2 ? "dave@c.example" : NULL;
		q.domain = i % 2 ? NULL : "c.example";
		for (p = 0; p < 3; p++) {
			q.force_plan = plans[p];
			q.cursor = NULL;
			n[p] = run(f, &q, ids[p], 200, cur[p], sizeof cur[p]);
			if (*cur[p]) {   /* page two */
				q.cursor = cur[p];
				n[p] += run(f, &q, ids[p] + n[p], 200 - n[p], next[p], sizeof next[p]);
			}
		}
		for (p = 1; p < 3; p++) {
			assert_int_equal(n[0], n[p]);
			for (k = 0; k < n[0]; k++)
				assert_int_equal(ids[0][k], ids[p][k]);
			assert_string_equal(cur[0], cur[p]);
		}
	}
}

static void test_merge_plan_is_chosen(void **state)
{
	fx *f = *state;
	im_search_q q = base();
	im_search_info info;
	json_t *res = NULL;

	q.keyword = "common";
	q.user = "dave@c.example";
	assert_int_equal(im_logsearch(f->db, &q, &res, &info, NULL), IM_OK);
	assert_int_equal(info.plan, IM_PLAN_MERGE);
	assert_int_equal(info.candidates, 120);
	assert_int_equal(json_array_size(json_object_get(res, "items")), 50);
	json_decref(res);
	q.user = NULL;
	assert_int_equal(im_logsearch(f->db, &q, &res, &info, NULL), IM_OK);
	assert_int_equal(info.plan, IM_PLAN_FTS);
	json_decref(res);
	q.keyword = NULL;
	assert_int_equal(im_logsearch(f->db, &q, &res, &info, NULL), IM_OK);
	assert_int_equal(info.plan, IM_PLAN_INDEX);
	json_decref(res);
}

/* ts need not follow id: entries written late with old timestamps are still
 * found in (ts, id) order by the merge's early stop. */
static void test_merge_with_out_of_order_ts(void **state)
{
	fx *f = *state;
	im_search_q q = base();
	int64_t a[20], b[20];
	int na, nb, k;

	add(f->db, T0 - 86400 + 100, "dave@c.example", "erin@c.example", NULL, "chat", "common late newest", NULL);
	add(f->db, T0 - 2 * 86400, "dave@c.example", "erin@c.example", NULL, "chat", "common late oldest", NULL);
	q.keyword = "common";
	q.user = "dave@c.example";
	q.limit = 3;
	na = run(f, &q, a, 20, NULL, 0);
	q.force_plan = IM_PLAN_FTS;
	nb = run(f, &q, b, 20, NULL, 0);
	assert_int_equal(na, 3);
	assert_int_equal(na, nb);
	for (k = 0; k < na; k++)
		assert_int_equal(a[k], b[k]);
	assert_int_equal(a[0], 129);   /* the late row with the newest ts comes first */
}

/* Ground truth straight from SQL: ids matching keyword (already an FTS query)
 * with since <= ts < until, newest first. */
static int truth(fx *f, const char *fts, int64_t since, int64_t until, int64_t *ids, int max)
{
	sqlite3_stmt *st;
	int n = 0;

	assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT id FROM log_message WHERE id IN (SELECT rowid FROM "
	                 "log_message_fts WHERE log_message_fts MATCH ?1) AND ts >= ?2 AND ts < ?3 "
	                 "ORDER BY ts DESC, id DESC LIMIT ?4", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, fts, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int64(st, 3, until);
	sqlite3_bind_int(st, 4, max);
	while (sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A keyword with thousands of matches and a time window far in the past: the
 * stream switches to the window's rowid range; a late row (new id, old ts)
 * inside the window must still be found, in (ts, id) order. */
static void test_fts_stream_window(void **state)
{
	fx *f = *state;
	int64_t got[60], want[60];
	int i, ng, nw, pass;

	sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL);
	for (i = 0; i < 6000; i++)
		add(f->db, T0 + 1000 + i * 10, "x@d.example", "y@d.example", NULL, "chat", "plenty words", NULL);
	add(f->db, T0 + 1000 + 500 * 10 + 5, "x@d.example", "y@d.example", NULL, "chat", "plenty late", NULL);
	sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL);
	for (pass = 0; pass < 3; pass++) {
		im_search_q q = base();
		q.keyword = "plenty";
		q.since = T0 + 1000 + (pass == 2 ? 0 : 400 * 10);
		q.until = T0 + 1000 + (pass == 0 ? 520 : 5990) * 10;
		q.limit = 50;
		q.kind = "chat";              /* no indexed filter: IM_PLAN_FTS */
		ng = run(f, &q, got, 60, NULL, 0);
		nw = truth(f, "\"plenty\"", q.since, q.until, want, 50);
		assert_int_equal(ng, nw);
		for (i = 0; i < ng; i++)
			assert_int_equal(got[i], want[i]);
	}
}

static void test_item_shape(void **state)
{
	fx *f = *state;
	im_search_q q = base();
	json_t *res = NULL, *it;
	char *err = NULL;

	q.user = "carol@b.example";
	q.limit = 1;
	assert_int_equal(im_logsearch(f->db, &q, &res, NULL, &err), IM_OK);
	it = json_array_get(json_object_get(res, "items"), 0);
	assert_int_equal(json_integer_value(json_object_get(it, "ts")), T0 + 8);
	assert_true(json_is_null(json_object_get(it, "body")));
	assert_string_equal(json_string_value(json_object_get(it, "encrypted")), "omemo");
	assert_string_equal(json_string_value(json_object_get(it, "from")), "bob@a.example");
	assert_string_equal(json_string_value(json_object_get(it, "to")), "carol@b.example");
	assert_true(json_is_null(json_object_get(it, "room")));
	assert_true(json_is_false(json_object_get(it, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(it, "size")), 100);
	assert_true(json_is_string(json_object_get(res, "next_cursor")));
	json_decref(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fts_query_builder),
		cmocka_unit_test_setup_teardown(test_keywords, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_keywords_never_error, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_filters, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_range_in_time_zone_via_registry, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_paging_stable_under_inserts, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_paging_with_a_concurrent_writer, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_plans_agree, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_merge_plan_is_chosen, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_merge_with_out_of_order_ts, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fts_stream_window, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_item_shape, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
