/* test_diskfull.c — the interaction log on a full disk, through a real Prosody
 * with mod_imhost (environment: test_diskfull.env, which puts imhost_database
 * on its own tmpfs at $DISKFULL_MNT and unmounts it on exit).
 *
 * The story (issue 2, "an unwritable or full database"): alice and bob chat
 * and it is logged; a filler file takes every free byte of the tmpfs; they go
 * on chatting with long bodies until the writer cannot commit.  Then, while
 * the disk is full: every message is still delivered, logs.status says
 * degraded with SQLite's "full" error, /metrics says degraded 1, searches
 * still answer, and more messages than the queue holds are sent, so some are
 * dropped and counted.  Then the tmpfs is grown: the writer recovers by itself
 * (degraded 0), and every entry that was queued can be found, exactly
 * sent - dropped of them.
 *
 * Words are unique per phase (puffin: before, ibis: filling, kiwi: while full,
 * heron: overflow, wren: after) so every count below is exact. */
#include "harness.h"

#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <time.h>

#define PW "pw-secret"
#define QUEUE_MAX 1024		/* imhost_queue_max in test_diskfull.env */
#define BATCH_MAX 32		/* imhost_batch_max there */
#define FILL_MAX 400		/* long messages at most until the writer degrades */
#define FILL_BODY 6000		/* bytes per long body (below the 64 KiB body_max) */
#define HERONS (QUEUE_MAX + 300)	/* more than the queue can hold */

static char *auth_admin;
static const char *mnt;
static char db_path[1024];

/* ---- the filesystem ------------------------------------------------------------ */

/* 1 when path is the root of a tmpfs mount (statfs says tmpfs and the parent
 * is another filesystem), so the test never fills a disk it does not own. */
static int is_own_tmpfs(const char *path)
{
	struct statfs fs;
	struct stat self, parent;
	char up[1100];

	if (statfs(path, &fs) != 0 || fs.f_type != TMPFS_MAGIC)
		return 0;
	snprintf(up, sizeof up, "%s/..", path);
	if (stat(path, &self) != 0 || stat(up, &parent) != 0)
		return 0;
	return self.st_dev != parent.st_dev;
}

/* Free bytes on mnt for an unprivileged writer, -1 on error. */
static long long free_bytes(void)
{
	struct statvfs v;

	if (statvfs(mnt, &v) != 0)
		return -1;
	return (long long)v.f_bavail * (long long)v.f_frsize;
}

/* ---- the HTTP API and the metrics ------------------------------------------------- */

/* logs.status as admin (new reference), NULL unless 200. */
static json_t *status(void)
{
	json_t *res = NULL;
	int st = h_api("GET", "a.test", auth_admin, "logs.status", NULL, NULL, &res);

	if (st != 200) {
		h_note("logs.status -> %d %s", st, h_err_code(res));
		json_decref(res);
		return NULL;
	}
	return res;
}

static int is_true(json_t *v)
{
	return json_is_true(v) || (json_is_integer(v) && json_integer_value(v) != 0);
}

/* logs.status's degraded flag: 1, 0, or -1 when status did not answer. */
static int degraded_now(void)
{
	json_t *s = status();
	int d = s ? is_true(h_find_key(s, "degraded")) : -1;

	json_decref(s);
	return d;
}

static long long status_int(const char *key)
{
	json_t *s = status();
	long long v = json_is_integer(h_find_key(s, key)) ?
		(long long)json_integer_value(h_find_key(s, key)) : -1;

	json_decref(s);
	return v;
}

/* Polls logs.status until degraded == want or timeout_ms passes; 1 if reached. */
static int await_degraded(int want, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 250) {
		if (degraded_now() == want)
			return 1;
		h_pump(250);	/* keeps the XMPP clients alive meanwhile */
	}
	return 0;
}

/* Value of the unlabelled sample prosody_mod_imhost__<name> in GET /metrics
 * (Prosody collects on request: statistics_interval = "manual"); -1 if absent. */
static double metric(const char *name)
{
	h_http_response r = { 0, NULL, 0, NULL };
	char want[128];
	double v = -1;
	const char *p;

	snprintf(want, sizeof want, "prosody_mod_imhost__%s ", name);
	if (h_http("GET", "/metrics", "a.test", NULL, NULL, &r) == 0 && r.status == 200 && r.body) {
		for (p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			if (strncmp(p, want, strlen(want)) == 0) {
				v = strtod(p + strlen(want), NULL);
				break;
			}
	} else {
		h_note("GET /metrics -> %d", r.status);
	}
	h_http_clear(&r);
	return v;
}

/* Number of entries logs.search finds for keyword, paging with the cursor
 * (a page holds at most 500); -1 on an error. */
static long count_all(const char *keyword)
{
	char *cursor = NULL;
	long n = 0;

	for (int page = 0; page < 100; page++) {
		const char *kv[] = { "keyword", keyword, "limit", "500",
				     cursor ? "cursor" : NULL, cursor, NULL };
		json_t *res = NULL, *items;
		const char *next;
		int st = h_api("GET", "a.test", auth_admin, "logs.search", kv, NULL, &res);

		items = json_object_get(res, "items");
		if (st != 200 || !json_is_array(items)) {
			h_note("logs.search %s -> %d %s", keyword, st, h_err_code(res));
			json_decref(res);
			free(cursor);
			return -1;
		}
		n += (long)json_array_size(items);
		next = json_string_value(json_object_get(res, "next_cursor"));
		free(cursor);
		cursor = next ? strdup(next) : NULL;
		json_decref(res);
		if (cursor == NULL)
			return n;
	}
	free(cursor);
	return -1;
}

/* Polls count_all until it is want or timeout_ms passes; the last count. */
static long await_count(const char *keyword, long want, int timeout_ms)
{
	long n = -1;

	for (int waited = 0; waited <= timeout_ms; waited += 250) {
		n = count_all(keyword);
		if (n == want)
			break;
		h_pump(250);
	}
	return n;
}

/* ---- messages ------------------------------------------------------------------- */

/* Sends body from -> to and waits for it; 1 when delivered. */
static int deliver(h_client *from, h_client *to, const char *to_jid, const char *id,
		   const char *body)
{
	xmpp_stanza_t *m;

	if (h_send_message(from, to_jid, "chat", id, body) != 0)
		return 0;
	m = h_await(to, h_pred_body, body, 5000);
	if (m)
		xmpp_stanza_release(m);
	return m != NULL;
}

/* ---- the phases ------------------------------------------------------------------- */

/* Takes every free byte of the tmpfs with a filler file (dd stops at ENOSPC). */
static int fill_disk(void)
{
	char *out;
	int st;
	long long left;

	out = h_run(&st, NULL, "dd if=/dev/zero of='%s/filler' bs=4096 2>/dev/null; "
		    "dd if=/dev/zero of='%s/filler2' bs=512 2>/dev/null; true", mnt, mnt);
	free(out);
	left = free_bytes();
	h_note("filler written; %lld bytes left on the tmpfs", left);
	return CHECK(left == 0, "a filler file takes every free byte of the tmpfs (%lld left)", left);
}

/* Long bodies until logs.status says degraded; returns how many were sent
 * (all delivered), 0 if the writer never degraded. */
static int fill_log(h_client *alice, h_client *bob)
{
	char *body = malloc(FILL_BODY + 1), id[32];
	int sent = 0, delivered = 0, degraded = 0;

	if (body == NULL)
		return 0;
	while (sent < FILL_MAX && !degraded) {
		int n = snprintf(body, FILL_BODY + 1, "ibis %d ", sent);

		/* distinct words, so the FTS index grows with the table */
		for (int w = 0; n < FILL_BODY - 16; w++)
			n += snprintf(body + n, (size_t)(FILL_BODY + 1 - n), "w%dx%d ", sent, w);
		snprintf(id, sizeof id, "ibis%d", sent);
		delivered += deliver(sent % 2 ? bob : alice, sent % 2 ? alice : bob,
				     sent % 2 ? "alice@a.test" : "bob@a.test", id, body);
		sent++;
		if (sent % 10 == 0) {
			h_pump(150);	/* one flush interval: let the writer try */
			degraded = degraded_now() == 1;
		}
	}
	if (!degraded)
		degraded = await_degraded(1, 3000);
	free(body);
	CHECK(delivered == sent, "all %d long messages were delivered while the disk filled (%d)",
	      sent, delivered);
	if (!CHECK(degraded, "the writer reports degraded after %d long messages on a full disk", sent))
		return 0;
	return sent;
}

static void while_full(h_client *alice, h_client *bob)
{
	json_t *s = status();
	const char *err = json_string_value(h_find_key(s, "last_error"));
	long n;

	h_note("logs.status last_error: %s", err ? err : "(none)");
	CHECK(s && is_true(h_find_key(s, "degraded")), "logs.status: degraded");
	CHECK(err && strcasestr(err, "full"), "logs.status carries the error: \"%s\"",
	      err ? err : "(none)");
	json_decref(s);
	CHECK(metric("degraded") == 1, "/metrics: prosody_mod_imhost__degraded 1");

	CHECK(deliver(alice, bob, "bob@a.test", "k1", "the kiwi waits in the queue"),
	      "alice -> bob is delivered while the disk is full");
	CHECK(deliver(bob, alice, "alice@a.test", "k2", "and the kiwi answers"),
	      "bob -> alice is delivered while the disk is full");
	n = count_all("puffin");
	CHECK(n == 1, "logs.search still answers from what is committed (%ld)", n);
	CHECK(degraded_now() == 1, "still degraded: nothing was freed");
}

/* More messages than the queue holds; returns the number dropped meanwhile
 * (-1 on error).  All of them must still be delivered. */
static long long overflow(h_client *alice, h_client *bob)
{
	long long d0 = status_int("dropped"), d1, depth, qmax;
	char body[64], id[32];
	int delivered = 0;

	for (int i = 0; i < HERONS; i++) {
		snprintf(id, sizeof id, "h%d", i);
		snprintf(body, sizeof body, "heron %d overflows", i);
		h_send_message(alice, "bob@a.test", "chat", id, body);
	}
	for (int i = 0; i < HERONS; i++) {
		xmpp_stanza_t *m;

		snprintf(body, sizeof body, "heron %d overflows", i);
		m = h_await(bob, h_pred_body, body, 5000);
		if (m == NULL)
			break;
		xmpp_stanza_release(m);
		delivered++;
	}
	CHECK(delivered == HERONS, "all %d messages beyond the queue's size are delivered (%d)",
	      HERONS, delivered);
	d1 = status_int("dropped");
	depth = status_int("queue_depth");
	qmax = status_int("queue_max");
	/* queue_depth also counts the batch the writer holds for its retry */
	CHECK(qmax == QUEUE_MAX && depth >= QUEUE_MAX && depth <= QUEUE_MAX + BATCH_MAX,
	      "the queue is full: queue_depth %lld, queue_max %lld (+ at most %d held)",
	      depth, qmax, BATCH_MAX);
	CHECK(d0 >= 0 && d1 > d0, "entries beyond the queue are dropped and counted (%lld -> %lld)",
	      d0, d1);
	CHECK(metric("dropped_entries") == (double)d1, "/metrics dropped_entries says %lld too", d1);
	return d0 >= 0 && d1 >= 0 ? d1 - d0 : -1;
}

static void recover(h_client *alice, h_client *bob, int ibis_sent, long long heron_dropped)
{
	char *out, *err = NULL;
	int st, ok, wait;
	long n, herons;

	out = h_run(&st, &err, "mount -o remount,size=64m '%s'", mnt);
	CHECK(st == 0, "the tmpfs grows to 64 MB (%s)", st == 0 ? "ok" : (err ? err : "?"));
	free(out);
	free(err);
	h_note("%lld bytes free now", free_bytes());
	ok = await_degraded(0, 15000);
	CHECK(ok, "the writer recovers by itself: logs.status not degraded");
	CHECK(metric("degraded") == 0, "/metrics: prosody_mod_imhost__degraded 0");
	/* not recovered: report the counts as they are, without waiting again */
	wait = ok ? 10000 : 0;
	n = await_count("kiwi", 2, wait);
	CHECK(n == 2, "both messages sent while full appear in logs.search (%ld)", n);
	n = await_count("ibis", ibis_sent, wait);
	CHECK(n == ibis_sent, "all %d long messages are logged, none lost (%ld)", ibis_sent, n);
	herons = await_count("heron", HERONS - heron_dropped, wait);
	h_note("herons: %d sent, %lld dropped, %ld logged", HERONS, heron_dropped, herons);
	CHECK(herons > 0 && heron_dropped >= 0 && herons + heron_dropped == HERONS,
	      "the queued overflow entries appear, exactly sent - dropped (%ld + %lld = %d)",
	      herons, heron_dropped, HERONS);
	n = status_int("queue_depth");
	CHECK(n == 0, "the queue is drained (%ld)", n);
	CHECK(deliver(bob, alice, "alice@a.test", "r1", "a wren after the storm"),
	      "messages flow after recovery");
	n = await_count("wren", 1, ok ? 5000 : 0);
	CHECK(n == 1, "and are logged at once (%ld)", n);
	out = h_run(&st, NULL, "sqlite3 '%s' 'PRAGMA integrity_check;'", db_path);
	if (out)
		out[strcspn(out, "\n")] = '\0';
	CHECK(st == 0 && out && strcmp(out, "ok") == 0,
	      "the database passes PRAGMA integrity_check (%s)", out ? out : "?");
	free(out);
}

int main(void)
{
	h_client *alice, *bob;
	struct stat sb;
	int ibis;
	long long dropped;
	long n;
	time_t t0 = time(NULL);

	mnt = getenv("DISKFULL_MNT");
	if (mnt == NULL || !is_own_tmpfs(mnt)) {
		const char *why = getenv("DISKFULL_SKIP");

		printf("SKIP - test_diskfull: %s; nothing was tested\n",
		       why && *why ? why : "no tmpfs is mounted at $DISKFULL_MNT");
		printf("0 passed, 0 failed\n");
		return 0;
	}
	snprintf(db_path, sizeof db_path, "%s/imhost.sqlite", mnt);
	auth_admin = h_basic_auth("admin@a.test", PW);
	alice = h_login("alice@a.test", PW);
	bob = h_login("bob@a.test", PW);
	if (!CHECK(alice && bob, "alice and bob log in"))
		return h_finish();
	if (!CHECK(stat(db_path, &sb) == 0, "imhost's database is on the tmpfs (%s)", db_path))
		return h_finish();
	CHECK(degraded_now() == 0, "logs.status: not degraded at the start");
	CHECK(deliver(alice, bob, "bob@a.test", "p1", "a puffin before the flood"),
	      "bob receives alice's first message");
	n = await_count("puffin", 1, 5000);
	CHECK(n == 1, "it is logged (%ld)", n);

	if (fill_disk() && (ibis = fill_log(alice, bob)) > 0) {
		while_full(alice, bob);
		dropped = overflow(alice, bob);
		recover(alice, bob, ibis, dropped);
	}
	h_note("suite took %ld s", (long)(time(NULL) - t0));
	h_disconnect(alice);
	h_disconnect(bob);
	free(auth_admin);
	return h_finish();
}
