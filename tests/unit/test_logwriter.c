/*
 * test_logwriter.c — the log writer: entries land, batches, rollups, FTS,
 * text repair, bounded queue, sync mode, close, degraded mode and recovery.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <cmocka.h>

#include "logwriter.h"
#include "store.h"
#include "fixture.h"

#define T0 INT64_C(1700000000)   /* 2023-11-14T22:13:20Z */
#define HOUR(t) ((t) - (t) % 3600)
#define DAY(t) ((t) - (t) % 86400)

static int setup(void **state)
{
	fx *f = fx_new("lw", FX_DIR_ONLY);

	*state = f;
	return 0;
}

static im_writer *wopen(fx *f, int sync, int queue_max, int batch_max, int flush_ms)
{
	im_writer_opts o = { .path = f->path, .sync = sync, .queue_max = queue_max,
	                     .batch_max = batch_max, .flush_ms = flush_ms };
	im_writer *w = NULL;
	char *err = NULL;

	assert_int_equal(im_writer_open(&o, &w, &err), IM_OK);
	assert_null(err);
	return w;
}

/* Threads of this process under SCHED_BATCH (field 41 of /proc/self/task/T/stat). */
static int batch_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[1024], *p;   /* d_name is up to 255 bytes */
		FILE *fp;
		int field = 3, policy = -1;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;                    /* the thread just ended */
		p = fgets(buf, sizeof buf, fp) ? strrchr(buf, ')') : NULL;
		fclose(fp);
		for (p = p ? strtok(p + 1, " ") : NULL; p; p = strtok(NULL, " "), field++)
			if (field == 41)
				policy = atoi(p);
		n += policy == SCHED_BATCH;
	}
	closedir(d);
	return n;
}

static sqlite3 *dbopen(fx *f)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(im_store_open(f->path, &db, &err), IM_OK);
	return db;
}

/* First column as a malloc'd string (NULL for SQL NULL or no row) + its length. */
static char *q_text(sqlite3 *db, const char *sql, const char *arg, size_t *len)
{
	sqlite3_stmt *st = NULL;
	char *v = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		v = malloc(n + 1);
		assert_non_null(v);
		memcpy(v, sqlite3_column_text(st, 0), n);
		v[n] = '\0';
		if (len)
			*len = n;
	}
	sqlite3_finalize(st);
	return v;
}

static int msg(im_writer *w, int64_t ts, const char *from, const char *to, const char *room,
               const char *kind, const char *body, const char *enc, int64_t size)
{
	im_log_message m = { .ts = ts, .domain = "example.com", .from = from, .to = to,
	                     .room = room, .kind = kind, .stanza_id = "id1", .size = size,
	                     .body = body, .body_len = body ? strlen(body) : 0,
	                     .encrypted = enc };
	return im_writer_message(w, &m);
}

static int sess(im_writer *w, int64_t ts, const char *user, const char *event)
{
	im_log_session s = { .ts = ts, .domain = "example.com", .user = user,
	                     .resource = "phone", .client = "Conversations", .event = event };
	return im_writer_session(w, &s);
}

static void entries_land_in_batches(void **state)
{
	fx *f = *state;
	im_writer *w = wopen(f, 0, 0, 100, 50);
	im_writer_stats s;
	sqlite3 *db;
	int i;

	for (i = 0; i < 250; i++)
		assert_int_equal(msg(w, T0 + i, "alice@example.com", "bob@example.com", NULL,
		                     "chat", "hello", NULL, 100), IM_OK);
	assert_int_equal(im_writer_flush(w), IM_OK);
	im_writer_stats_get(w, &s);
	assert_int_equal(s.written, 250);
	assert_true(s.batches >= 3);          /* batch_max 100 */
	assert_true(s.last_batch_size <= 100);
	assert_int_equal(s.dropped, 0);
	assert_int_equal(s.queue_depth, 0);
	assert_int_equal(s.queue_max, 65536);
	assert_true(s.db_bytes > 0);
	assert_int_equal(s.degraded, 0);
	db = dbopen(f);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message", NULL), 250);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message WHERE sender='alice@example.com'"
	                           " AND recipient='bob@example.com' AND kind='chat' AND size=100"
	                           " AND stanza_id='id1' AND truncated=0", NULL), 250);
	sqlite3_close(db);
	im_writer_close(w);
}

static void rollups_are_correct(void **state)
{
	fx *f = *state;
	im_writer *w = wopen(f, 0, 0, 0, 0);
	int64_t h0 = HOUR(T0), d0 = DAY(T0);
	sqlite3 *db;
	sqlite3_stmt *st;

	/* Hour h0: 3 messages; hour h0+1h: 1; next day: 1 (alice 4, bob 1). */
	assert_int_equal(msg(w, h0 + 10, "alice@example.com", "bob@example.com", NULL, "chat", "a", NULL, 100), IM_OK);
	assert_int_equal(msg(w, h0 + 20, "alice@example.com", "dave@remote.org", NULL, "chat", "b", NULL, 50), IM_OK);
	assert_int_equal(msg(w, h0 + 30, "bob@example.com", NULL, "room@muc.example.com", "groupchat", "c", NULL, 7), IM_OK);
	assert_int_equal(msg(w, h0 + 3600, "alice@example.com", NULL, "room@muc.example.com", "groupchat", "d", NULL, 1), IM_OK);
	assert_int_equal(msg(w, d0 + 86400 + 5, "alice@example.com/laptop", "bob@example.com", NULL, "chat", "e", NULL, 2), IM_OK);
	/* Sessions in h0: alice in, bob in, alice out, carol in -> peak 2, online 2. */
	assert_int_equal(sess(w, h0 + 100, "alice@example.com", "login"), IM_OK);
	assert_int_equal(sess(w, h0 + 200, "bob@example.com", "login"), IM_OK);
	assert_int_equal(sess(w, h0 + 300, "alice@example.com", "logout"), IM_OK);
	assert_int_equal(sess(w, h0 + 400, "carol@example.com", "login"), IM_OK);
	assert_int_equal(im_writer_flush(w), IM_OK);
	/* A second batch reads the stored online count: 2 + 1 = 3 in hour h0+1h;
	 * then more logouts than logins never go below zero. */
	assert_int_equal(sess(w, h0 + 3700, "alice@example.com", "login"), IM_OK);
	assert_int_equal(im_writer_flush(w), IM_OK);
	assert_int_equal(sess(w, h0 + 3800, "alice@example.com", "logout"), IM_OK);
	assert_int_equal(sess(w, h0 + 3801, "bob@example.com", "logout"), IM_OK);
	assert_int_equal(sess(w, h0 + 3802, "carol@example.com", "logout"), IM_OK);
	assert_int_equal(sess(w, h0 + 3803, "zed@example.com", "logout"), IM_OK);
	im_writer_close(w);

	db = dbopen(f);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT messages, bytes, peak_sessions FROM rollup_hour"
	                 " WHERE domain='example.com' AND hour=?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, h0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 3);
	assert_int_equal(sqlite3_column_int64(st, 1), 157);
	assert_int_equal(sqlite3_column_int64(st, 2), 2);
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, h0 + 3600);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 1);
	assert_int_equal(sqlite3_column_int64(st, 2), 3);
	sqlite3_finalize(st);
	assert_int_equal(fx_q_int_arg(db, "SELECT online FROM session_online WHERE domain='example.com'", NULL), 0);
	assert_int_equal(fx_q_int_arg(db, "SELECT sum(messages) FROM rollup_hour", NULL), 5);

	assert_int_equal(fx_q_int_arg(db, "SELECT messages FROM rollup_user_day WHERE user=? AND day=" "1699920000", "alice@example.com"), 3);
	assert_int_equal(d0, 1699920000);
	assert_int_equal(fx_q_int_arg(db, "SELECT messages FROM rollup_user_day WHERE user=? AND day=1700006400", "alice@example.com"), 1);
	assert_int_equal(fx_q_int_arg(db, "SELECT messages FROM rollup_user_day WHERE user=? AND day=1699920000", "bob@example.com"), 1);
	assert_int_equal(fx_q_int_arg(db, "SELECT logins FROM rollup_user_day WHERE user=? AND day=1699920000", "alice@example.com"), 2);
	assert_int_equal(fx_q_int_arg(db, "SELECT logins FROM rollup_user_day WHERE user=? AND day=1699920000", "carol@example.com"), 1);
	assert_int_equal(fx_q_int_arg(db, "SELECT messages FROM rollup_room_day WHERE room=? AND day=1699920000", "room@muc.example.com"), 2);
	/* known_user: senders and local recipients, not remote ones. */
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM known_user WHERE user=?", "dave@remote.org"), 0);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM known_user WHERE user=?", "bob@example.com"), 1);
	assert_int_equal(fx_q_int_arg(db, "SELECT first_seen FROM known_user WHERE user=?", "alice@example.com"), h0 + 10);
	assert_int_equal(fx_q_int_arg(db, "SELECT last_seen FROM known_user WHERE user=?", "alice@example.com"), d0 + 86400 + 5);
	/* The resource was cut from the sender: bare JIDs only. */
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message WHERE sender LIKE '%/%'", NULL), 0);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message WHERE kind='groupchat' AND recipient IS NULL", NULL), 2);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_session", NULL), 9);
	sqlite3_close(db);
}

static void fts_and_encryption(void **state)
{
	fx *f = *state;
	im_writer *w = wopen(f, 0, 0, 0, 0);
	sqlite3 *db;

	assert_int_equal(msg(w, T0, "alice@example.com", "bob@example.com", NULL, "chat",
	                     "Meet me at the zeppelin hangar", NULL, 10), IM_OK);
	assert_int_equal(msg(w, T0 + 1, "alice@example.com", "bob@example.com", NULL, "chat",
	                     "secret zeppelin plans", "omemo", 10), IM_OK);
	assert_int_equal(msg(w, T0 + 2, "alice@example.com", "bob@example.com", NULL, "chat",
	                     "weird scheme zeppelin", "rot13", 10), IM_OK);
	assert_int_equal(msg(w, T0 + 3, "alice@example.com", "bob@example.com", NULL, "chat",
	                     NULL, NULL, 10), IM_OK);
	im_writer_close(w);
	db = dbopen(f);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message_fts WHERE log_message_fts MATCH ?", "zeppelin"), 1);
	assert_int_equal(fx_q_int_arg(db, "SELECT rowid FROM log_message_fts WHERE log_message_fts MATCH ?", "hangar"), 1);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message_fts WHERE log_message_fts MATCH ?", "zepp*"), 1);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message WHERE encrypted IS NOT NULL AND body IS NULL", NULL), 2);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message WHERE encrypted='omemo'", NULL), 1);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message WHERE encrypted='encrypted'", NULL), 1);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message WHERE body IS NULL", NULL), 3);
	/* The external-content index agrees with its table. */
	assert_int_equal(sqlite3_exec(db, "INSERT INTO log_message_fts(log_message_fts) VALUES('integrity-check')",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void long_body_truncated_utf8_safe(void **state)
{
	fx *f = *state;
	im_writer *w = wopen(f, 0, 0, 0, 0);
	size_t n = 1024 * 1024, i, len = 0;
	char *big = malloc(n + 1), *got;
	sqlite3 *db;
	im_log_message m = { .ts = T0, .domain = "example.com", .from = "alice@example.com",
	                     .to = "bob@example.com", .kind = "chat", .size = (int64_t)n };

	assert_non_null(big);
	for (i = 0; i + 3 <= n; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);   /* U+20AC, 3 bytes: 65536 is mid-character */
	n = i;
	big[n] = '\0';
	m.body = big;
	m.body_len = n;
	assert_int_equal(im_writer_message(w, &m), IM_OK);
	im_writer_close(w);
	db = dbopen(f);
	got = q_text(db, "SELECT body FROM log_message WHERE truncated=1", NULL, &len);
	assert_non_null(got);
	assert_int_equal(len, 65535);            /* the cut character is dropped, not mangled */
	assert_memory_equal(got, big, len);
	free(got);
	sqlite3_close(db);
	free(big);
}

static void invalid_text_repaired_and_entries_refused(void **state)
{
	fx *f = *state;
	im_writer *w = wopen(f, 0, 0, 0, 0);
	im_log_message m = { .ts = T0, .domain = "example.com", .from = "alice@example.com",
	                     .to = "bob@example.com", .kind = "chat", .size = 1,
	                     .body = "a\xff" "b\x01" "c\td\xc3", .body_len = 9 };
	im_log_message bad = m;
	im_log_session s = { .ts = T0, .domain = "example.com", .user = "alice@example.com",
	                     .resource = "r\x02" "es\xfe", .event = "login" };
	im_writer_stats st;
	sqlite3 *db;
	char *got;
	size_t len = 0;

	assert_int_equal(im_writer_message(w, &m), IM_OK);
	assert_int_equal(im_writer_session(w, &s), IM_OK);
	bad.domain = NULL;
	assert_int_equal(im_writer_message(w, &bad), IM_EINVAL);
	bad = m; bad.from = NULL;
	assert_int_equal(im_writer_message(w, &bad), IM_EINVAL);
	bad = m; bad.from = "/res";
	assert_int_equal(im_writer_message(w, &bad), IM_EINVAL);
	bad = m; bad.kind = "spam";
	assert_int_equal(im_writer_message(w, &bad), IM_EINVAL);
	bad = m; bad.kind = NULL;
	assert_int_equal(im_writer_message(w, &bad), IM_EINVAL);
	bad = m; bad.kind = "groupchat";    /* without a room */
	assert_int_equal(im_writer_message(w, &bad), IM_EINVAL);
	bad = m; bad.ts = -1;
	assert_int_equal(im_writer_message(w, &bad), IM_EINVAL);
	bad = m; bad.size = -5;
	assert_int_equal(im_writer_message(w, &bad), IM_EINVAL);
	assert_int_equal(im_writer_message(w, NULL), IM_EINVAL);
	s.event = "reboot";
	assert_int_equal(im_writer_session(w, &s), IM_EINVAL);
	s.event = "logout"; s.user = NULL;
	assert_int_equal(im_writer_session(w, &s), IM_EINVAL);
	assert_int_equal(im_writer_flush(w), IM_OK);
	im_writer_stats_get(w, &st);
	assert_int_equal(st.written, 2);
	assert_int_equal(st.dropped, 0);
	im_writer_close(w);

	db = dbopen(f);
	got = q_text(db, "SELECT body FROM log_message", NULL, &len);
	assert_non_null(got);
	/* \xff -> U+FFFD, \x01 dropped, tab kept, the lone lead byte at the end -> U+FFFD */
	assert_string_equal(got, "a\xef\xbf\xbd" "bc\td\xef\xbf\xbd");
	free(got);
	got = q_text(db, "SELECT resource FROM log_session", NULL, NULL);
	assert_non_null(got);
	assert_string_equal(got, "res\xef\xbf\xbd");
	free(got);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message_fts WHERE log_message_fts MATCH 'bc'", NULL), 1);
	sqlite3_close(db);
}

static void queue_overflow_drops_and_counts(void **state)
{
	fx *f = *state;
	/* flush_ms 1000 and a large batch: the writer leaves the queue alone for a
	 * second, so the 11th..15th pushes find it full. */
	im_writer *w = wopen(f, 0, 10, 1000, 1000);
	im_writer_stats s;
	int i, full = 0;

	for (i = 0; i < 15; i++) {
		int rc = msg(w, T0 + i, "alice@example.com", "bob@example.com", NULL, "chat", "x", NULL, 1);
		assert_true(rc == IM_OK || rc == IM_EFULL);
		full += rc == IM_EFULL;
	}
	assert_int_equal(full, 5);
	im_writer_stats_get(w, &s);
	assert_int_equal(s.dropped, 5);
	assert_int_equal(s.queue_depth, 10);
	assert_int_equal(im_writer_flush(w), IM_OK);
	im_writer_stats_get(w, &s);
	assert_int_equal(s.written, 10);
	assert_int_equal(s.queue_depth, 0);
	/* Room again once drained. */
	assert_int_equal(msg(w, T0, "alice@example.com", "bob@example.com", NULL, "chat", "x", NULL, 1), IM_OK);
	im_writer_close(w);
}

static void sync_mode_commits_before_return(void **state)
{
	fx *f = *state;
	im_writer *w = wopen(f, 1, 0, 0, 1000);
	sqlite3 *db = dbopen(f);
	int i;

	for (i = 1; i <= 5; i++) {
		assert_int_equal(msg(w, T0 + i, "alice@example.com", "bob@example.com", NULL, "chat", "s", NULL, 1), IM_OK);
		assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message", NULL), i);
	}
	assert_int_equal(sess(w, T0, "alice@example.com", "login"), IM_OK);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_session", NULL), 1);
	sqlite3_close(db);
	im_writer_close(w);
}

static void close_flushes_everything(void **state)
{
	fx *f = *state;
	im_writer *w = wopen(f, 0, 0, 0, 1000);
	sqlite3 *db;
	int i;

	for (i = 0; i < 1000; i++)
		assert_int_equal(msg(w, T0 + i, "alice@example.com", "bob@example.com", NULL, "chat", "c", NULL, 1), IM_OK);
	im_writer_close(w);
	im_writer_close(NULL);
	db = dbopen(f);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message", NULL), 1000);
	assert_int_equal(fx_q_int_arg(db, "SELECT messages FROM rollup_user_day WHERE user=?", "alice@example.com"), 1000);
	sqlite3_close(db);
}

struct producer { im_writer *w; int n, ok; };

static void *produce(void *arg)
{
	struct producer *p = arg;
	int i;

	for (i = 0; i < p->n; i++)
		p->ok += msg(p->w, T0 + i, "alice@example.com", "bob@example.com", NULL, "chat", "p", NULL, 1) == IM_OK;
	return NULL;
}

static void concurrent_producers(void **state)
{
	fx *f = *state;
	im_writer *w = wopen(f, 0, 0, 256, 20);
	struct producer p[3] = { { w, 4000, 0 }, { w, 4000, 0 }, { w, 4000, 0 } };
	pthread_t t[3];
	im_writer_stats s;
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(im_writer_flush(w), IM_OK);
	im_writer_stats_get(w, &s);
	assert_int_equal(p[0].ok + p[1].ok + p[2].ok, 12000);
	assert_int_equal(s.written, 12000);
	im_writer_close(w);
}

static int notified;
static pthread_mutex_t notify_mu = PTHREAD_MUTEX_INITIALIZER;
static void on_notify(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&notify_mu);
	notified++;
	pthread_mutex_unlock(&notify_mu);
}

static void degraded_mode_and_recovery(void **state)
{
	fx *f = *state;
	im_writer_opts o = { .path = f->path, .queue_max = 100, .batch_max = 10, .flush_ms = 20,
	                     .notify = on_notify };
	im_writer *w = NULL;
	sqlite3 *lock = NULL;
	im_writer_stats s;
	int i, ok = 0, n0;

	assert_int_equal(im_writer_open(&o, &w, NULL), IM_OK);
	assert_int_equal(msg(w, T0, "alice@example.com", "bob@example.com", NULL, "chat", "before", NULL, 1), IM_OK);
	assert_int_equal(im_writer_flush(w), IM_OK);
	pthread_mutex_lock(&notify_mu);
	n0 = notified;
	pthread_mutex_unlock(&notify_mu);
	assert_true(n0 >= 1);                  /* after a commit */

	/* Another process holds the write lock. */
	lock = dbopen(f);
	assert_int_equal(sqlite3_exec(lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	for (i = 0; i < 150; i++)
		ok += msg(w, T0 + i, "alice@example.com", "bob@example.com", NULL, "chat", "during", NULL, 1) == IM_OK;
	assert_int_equal(im_writer_flush(w), IM_ERR);   /* returns once an attempt failed */
	im_writer_stats_get(w, &s);
	assert_int_equal(s.degraded, 1);
	assert_true(strlen(s.last_error) > 0);
	/* The queue absorbed what fit (100 queued + the 10 held by the writer at most)
	 * and counted the rest. */
	assert_true(ok >= 100 && ok <= 110);
	assert_int_equal(s.dropped, 150 - ok);
	assert_int_equal(s.written, 1);
	pthread_mutex_lock(&notify_mu);
	assert_true(notified > n0);            /* the state change */
	pthread_mutex_unlock(&notify_mu);

	/* Released: the writer recovers and loses nothing it accepted. */
	assert_int_equal(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	for (i = 0; i < 50 && im_writer_flush(w) != IM_OK; i++)
		usleep(50 * 1000);
	im_writer_stats_get(w, &s);
	assert_int_equal(s.degraded, 0);
	assert_int_equal(s.written, 1 + ok);
	assert_int_equal(fx_q_int_arg(lock, "SELECT count(*) FROM log_message WHERE body='during'", NULL), ok);
	assert_int_equal(fx_q_int_arg(lock, "SELECT messages FROM rollup_user_day WHERE user=?", "alice@example.com"), 1 + ok);
	sqlite3_close(lock);
	im_writer_close(w);
}

static void close_while_locked_gives_up_in_bounded_time(void **state)
{
	fx *f = *state;
	im_writer *w = wopen(f, 0, 0, 0, 20);
	sqlite3 *lock = dbopen(f);
	struct timespec a, b;
	int i;

	assert_int_equal(sqlite3_exec(lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	for (i = 0; i < 5; i++)
		assert_int_equal(msg(w, T0 + i, "alice@example.com", "bob@example.com", NULL, "chat", "x", NULL, 1), IM_OK);
	clock_gettime(CLOCK_MONOTONIC, &a);
	im_writer_close(w);                    /* must not hang on a lock it never gets */
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec <= 6);
	assert_int_equal(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fx_q_int_arg(lock, "SELECT count(*) FROM log_message", NULL), 0);
	sqlite3_close(lock);
}

/* A child process logs, waits past the flush window, logs more and is killed:
 * everything older than the window is on disk. */
static void hard_kill_loses_at_most_the_flush_window(void **state)
{
	fx *f = *state;
	int pipefd[2], status;
	char c;
	pid_t pid;
	sqlite3 *db;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		im_writer_opts o = { .path = f->path, .flush_ms = 100 };
		im_writer *w = NULL;
		int i;

		close(pipefd[0]);
		if (im_writer_open(&o, &w, NULL) != IM_OK)
			_exit(1);
		for (i = 0; i < 500; i++)
			msg(w, T0 + i, "alice@example.com", "bob@example.com", NULL, "chat", "k", NULL, 1);
		usleep(400 * 1000);            /* > flush_ms: these must be committed */
		for (i = 0; i < 500; i++)
			msg(w, T0 + i, "alice@example.com", "bob@example.com", NULL, "chat", "late", NULL, 1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();                       /* killed here, never closed */
		_exit(0);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	db = dbopen(f);
	assert_int_equal(fx_q_int_arg(db, "SELECT count(*) FROM log_message WHERE body='k'", NULL), 500);
	assert_int_equal(fx_q_int_arg(db, "SELECT messages FROM rollup_user_day WHERE user=?", "alice@example.com"),
	                 fx_q_int_arg(db, "SELECT count(*) FROM log_message", NULL));
	sqlite3_close(db);
}

/* The writer yields to the event loop when push() wakes it (thread_prio.h). */
static void writer_thread_is_background(void **state)
{
	fx *f = *state;
	int before = batch_threads();
	im_writer *w = wopen(f, 0, 100, 10, 50);
	int i;

	for (i = 0; i < 2000 && batch_threads() == before; i++)
		usleep(1000);                    /* the thread sets it once it runs */
	assert_int_equal(batch_threads(), before + 1);
	im_writer_close(w);
	assert_int_equal(batch_threads(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(writer_thread_is_background, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(entries_land_in_batches, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(rollups_are_correct, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(fts_and_encryption, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(long_body_truncated_utf8_safe, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(invalid_text_repaired_and_entries_refused, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(queue_overflow_drops_and_counts, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(sync_mode_commits_before_return, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(close_flushes_everything, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(concurrent_producers, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(degraded_mode_and_recovery, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(close_while_locked_gives_up_in_bounded_time, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(hard_kill_loses_at_most_the_flush_window, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
