/*
 * bench/desk.c — the support desk at 10,000 tickets / 100,000 replies:
 * p50/p95 of the technicians' queues (unassigned, mine, overdue), keyword
 * search over tickets (staff, and a customer's "My tickets" with keyword),
 * through the registry as the surfaces call it.  Goal: p95 <= 20 ms.
 *
 * Usage: desk [tickets] [replies-per-ticket] [runs]   (defaults 10000 10 200)
 * Prints one line per query and "desk: N passed, N failed" against the goal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imhost.h"
#include "desk.h"

#define GOAL_MS 20.0
#define T0 1767225600LL   /* 2026-01-01T00:00:00Z */

static const char *const words[] = {
	"mail", "delivery", "invoice", "payment", "domain", "dns", "record", "password", "login", "client",
	"server", "certificate", "expired", "upload", "storage", "quota", "group", "chat", "room", "member",
	"error", "timeout", "slow", "android", "iphone", "desktop", "contacts", "roster", "push", "offline",
	"message", "history", "archive", "encryption", "omemo", "key", "device", "verify", "spam", "block",
};
#define NWORDS (sizeof words / sizeof words[0])

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void text(char *buf, size_t n, unsigned *seed, int len)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < len && o + 20 < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? " " : "", words[rand_r(seed) % NWORDS]);
	if (rand_r(seed) % 100 == 0)   /* a rare word: in about 1% of texts */
		snprintf(buf + o, n - o, " zebracrossing");
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Runs op `runs` times; prints p50/p95; returns 1 if p95 meets the goal. */
static int measure(sqlite3 *db, const char *label, const char *op, const char *params, const char *ctx, int runs)
{
	im_env env = { db, NULL, IM_ERASE_DELETE };
	double *t = malloc((size_t)runs * sizeof *t);
	size_t items = 0;
	int i, ok;

	if (t == NULL)
		return 0;
	for (i = 0; i < runs; i++) {
		double a = now_ms();
		char *s = im_registry_call(&env, op, params, ctx, &ok);
		t[i] = now_ms() - a;
		if (!ok || s == NULL) {
			fprintf(stderr, "%s: %s\n", label, s ? s : "NULL");
			free(s);
			free(t);
			return 0;
		}
		if (i == 0) {
			json_t *r = json_loads(s, 0, NULL);
			items = json_array_size(json_object_get(r, "tickets"));
			json_decref(r);
		}
		free(s);
	}
	qsort(t, (size_t)runs, sizeof *t, cmpd);
	printf("desk %-28s p50 %7.3f ms  p95 %7.3f ms  (%zu tickets returned)\n", label, t[runs / 2],
	       t[runs * 95 / 100], items);
	ok = t[runs * 95 / 100] <= GOAL_MS;
	free(t);
	return ok;
}

int main(int argc, char **argv)
{
	int ntickets = argc > 1 ? atoi(argv[1]) : 10000, nreplies = argc > 2 ? atoi(argv[2]) : 10;
	int runs = argc > 3 ? atoi(argv[3]) : 200, i, j, pass = 0, fail = 0;
	char dir[] = "/tmp/desk_bench_XXXXXX", path[128], subj[256], body[1024], tech[64], user[64];
	const char *why;
	unsigned seed = 42;
	im_desk_conf conf;
	sqlite3 *db;
	char *err = NULL;
	double a;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ntickets < 1 || nreplies < 0 || runs < 20 || mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof path, "%s/db.sqlite", dir);
	if (im_store_open(path, &db, &err) != IM_OK) {
		fprintf(stderr, "open: %s\n", err);
		return 2;
	}
	/* The fill is setup, not the measurement: no fsync per ticket. */
	if (sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL) != SQLITE_OK)
		return 2;
	for (i = 0; i < 5; i++) {
		snprintf(tech, sizeof tech, "INSERT INTO staff VALUES('tech%d@support.example','technician')", i);
		if (sqlite3_exec(db, tech, NULL, NULL, NULL) != SQLITE_OK)
			return 2;
	}
	if (im_desk_conf_load(db, &conf) != IM_OK)
		return 2;
	a = now_ms();
	for (i = 0; i < ntickets; i++) {
		int64_t tk, ev, now = T0 + (int64_t)i * 600;   /* one ticket every 10 minutes: ~70 days */
		int dup;
		im_desk_new n;
		snprintf(user, sizeof user, "user%d@c%d.example", i % 1000, i % 100);
		text(subj, sizeof subj, &seed, 5);
		text(body, sizeof body, &seed, 30);
		n.requester = user;
		n.subject = subj;
		n.body = body;
		n.category = (const char *[]){ "billing", "technical", "domain", "account" }[i % 4];
		n.priority = im_desk_prio_name(i % IM_DESK_NPRIO);
		n.idem = NULL;
		if (im_desk_open(db, &conf, &n, now, &tk, &ev, &dup, &why) != IM_OK)
			return fprintf(stderr, "open failed: %s\n", why), 2;
		if (i % 3 == 0) {
			snprintf(tech, sizeof tech, "tech%d@support.example", i % 5);
			if (im_desk_assign(db, tk, tech, tech, 1, now, &ev, &why) != IM_OK)
				return 2;
		}
		for (j = 0; j < nreplies; j++) {
			int staff = j % 2;
			text(body, sizeof body, &seed, 25);
			if (im_desk_post(db, &conf, &tk, staff ? "tech0@support.example" : user, staff, staff && j % 4 == 3,
			                 body, NULL, now + 60 * (j + 1), &ev, &dup, &why) != IM_OK)
				return fprintf(stderr, "post failed: %s\n", why), 2;
		}
		if (i % 2 == 0 && im_desk_set_status(db, &conf, tk, "tech0@support.example", "resolved",
		                                     now + 3600, &ev, &why) != IM_OK)
			return 2;
	}
	printf("desk fill: %d tickets, %d posts in %.1f s\n", ntickets, ntickets * (nreplies + 1),
	       (now_ms() - a) / 1e3);
	im_clock_set(T0 + (int64_t)ntickets * 600);
#define TECHCTX "{\"surface\":\"adhoc\",\"actor\":\"tech1@support.example\",\"tz\":\"Europe/Berlin\"}"
#define USERCTX "{\"surface\":\"adhoc\",\"actor\":\"user7@c7.example\",\"tz\":\"Europe/Berlin\"}"
	const struct { const char *label, *op, *params, *ctx; } q[] = {
		{ "queue unassigned", "desk.queue", "{\"view\":\"unassigned\"}", TECHCTX },
		{ "queue mine", "desk.queue", "{\"view\":\"mine\"}", TECHCTX },
		{ "queue overdue", "desk.queue", "{\"view\":\"overdue\"}", TECHCTX },
		{ "search rare word", "desk.search", "{\"keyword\":\"zebracrossing\"}", TECHCTX },
		{ "search common word", "desk.search", "{\"keyword\":\"invoice\"}", TECHCTX },
		{ "search two words + days", "desk.search",
		  "{\"keyword\":\"mail timeout\",\"from\":\"2026-01-10\",\"to\":\"2026-01-20\"}", TECHCTX },
		{ "my tickets keyword", "desk.mine", "{\"keyword\":\"mail\"}", USERCTX },
	};
	for (i = 0; i < (int)(sizeof q / sizeof q[0]); i++) {
		if (measure(db, q[i].label, q[i].op, q[i].params, q[i].ctx, runs))
			pass++;
		else
			fail++;
	}
	sqlite3_close(db);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	printf("desk: %d passed, %d failed (p95 goal %.0f ms)\n", pass, fail, GOAL_MS);
	return fail ? 1 : 0;
}
