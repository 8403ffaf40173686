/*
 * bench/logsearch.c — fills a temporary database with realistic interaction logs
 * through the log writer, then times keyword+user+range searches through the
 * registry (the same path every surface uses).
 *
 *   usage: logsearch [entries (default 1000000)] [queries (default 600)]
 *   IMHOST_BENCH_DB=/path/file.sqlite  keep the filled database there and reuse
 *                                       it on the next run (skips the fill)
 *   IMHOST_BENCH_SLOW_MS=15            print queries slower than this
 *
 * Data: 50 domains, 5,000 users (100 per domain, activity Zipf-skewed), 200 rooms,
 * 30 days, 10% groupchat, bodies of 3-15 words from a 5,000-word vocabulary with
 * Zipf(1) frequencies, ts increasing as the writer would see it live.
 * Queries: a random active user, a random 1-30 day window, and one keyword,
 * drawn two ways: "zipf" (the corpus frequency: common words, hard case) and
 * "uniform" (any vocabulary word: the typical specific search).  Then smaller
 * mixes without the user (keyword+range, Zipf words) and without the keyword
 * (user+range).  Prints the fill rate and p50/p95/p99/max in ms per mix, and
 * which plan ran how often.
 * Loopback/local only; bounded in entries and queries.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imhost.h"

#define DOMAINS 50
#define USERS_PER_DOMAIN 100
#define USERS (DOMAINS * USERS_PER_DOMAIN)
#define ROOMS 200
#define WORDS 5000
#define DAYS 30
#define START 1793491200   /* 2026-11-01T00:00:00Z */

static char words[WORDS][16];
static double word_cdf[WORDS], user_cdf[USERS];
static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)   /* xorshift64: deterministic runs */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double uniform(void) { return (double)(next() >> 11) / 9007199254740992.0; }

static int pick(const double *cdf, int n)
{
	double u = uniform();
	int lo = 0, hi = n - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void make_cdf(double *cdf, int n, double s)
{
	double sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += cdf[i] = 1.0 / pow(i + 1, s);
	for (i = 0; i < n; i++)
		cdf[i] = (i ? cdf[i - 1] : 0) + cdf[i] / sum;
}

static void make_words(void)
{
	static const char *syl[] = { "ka", "lo", "mi", "ne", "ru", "ta", "be", "so", "vi", "da",
	                             "pe", "gu", "ho", "fa", "ze", "ri", "mo", "lu", "ti", "wa" };
	int i;

	for (i = 0; i < WORDS; i++) {   /* 2-3 syllables + index digit-free suffix: distinct */
		int a = i % 20, b = (i / 20) % 20, c = (i / 400) % 20, d = i / 8000;
		snprintf(words[i], sizeof words[i], "%s%s%s%s", syl[a], syl[b], i >= 400 ? syl[c] : "",
		         d ? "x" : "");
	}
}

static void user_jid(int u, char *buf, size_t sz)
{
	snprintf(buf, sz, "user%d@d%d.example", u % USERS_PER_DOMAIN, u / USERS_PER_DOMAIN);
}

static double ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1e3 + (b.tv_nsec - a->tv_nsec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int fill(const char *path, long n)
{
	im_writer_opts o;
	im_writer *w = NULL;
	char *err = NULL, from[64], to[64], room[64], dom[32], body[256], sid[32];
	struct timespec t0;
	long i, dropped_retry = 0;
	double ms;

	memset(&o, 0, sizeof o);
	o.path = path;
	if (im_writer_open(&o, &w, &err) != IM_OK) {
		fprintf(stderr, "writer: %s\n", err ? err : "?");
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		im_log_message m;
		int u = pick(user_cdf, USERS), v, k, nw = 3 + (int)(next() % 13);
		size_t len = 0;

		memset(&m, 0, sizeof m);
		m.ts = START + (int64_t)((double)i * DAYS * 86400 / n);
		user_jid(u, from, sizeof from);
		snprintf(dom, sizeof dom, "d%d.example", u / USERS_PER_DOMAIN);
		for (k = 0; k < nw; k++)
			len += (size_t)snprintf(body + len, sizeof body - len, "%s%s", k ? " " : "",
			                        words[pick(word_cdf, WORDS)]);
		snprintf(sid, sizeof sid, "s%ld", i);
		m.domain = dom;
		m.from = from;
		m.stanza_id = sid;
		m.body = body;
		m.body_len = len;
		m.size = (int64_t)len + 180;
		if (next() % 10 == 0) {
			snprintf(room, sizeof room, "room%d@conf.d%d.example", (int)(next() % ROOMS), u / USERS_PER_DOMAIN);
			m.room = room;
			m.kind = "groupchat";
		} else {
			v = (u / USERS_PER_DOMAIN) * USERS_PER_DOMAIN + (int)(next() % USERS_PER_DOMAIN);
			user_jid(v, to, sizeof to);
			m.to = to;
			m.kind = "chat";
		}
		/* The bench must store every entry: on a full queue, wait and retry. */
		while (im_writer_message(w, &m) == IM_EFULL) {
			dropped_retry++;
			usleep(1000);
		}
	}
	if (im_writer_flush(w) != IM_OK)
		fprintf(stderr, "flush failed\n");
	ms = ms_since(&t0);
	{
		im_writer_stats s;
		im_writer_stats_get(w, &s);
		printf("fill: %ld entries in %.1f s = %.0f entries/s (written %" PRId64 ", queue-full waits %ld, "
		       "max flush %.1f ms)\n", n, ms / 1e3, n / (ms / 1e3), s.written, dropped_retry,
		       s.max_flush_us / 1e3);
	}
	im_writer_close(w);
	return 0;
}

/* What a mix leaves out: the headline mixes are keyword+user+range. */
enum { MIX_FULL, MIX_NO_USER, MIX_NO_KEYWORD };

static void run_mix(sqlite3 *db, const char *name, int zipf_kw, int shape, int queries)
{
	im_env env = { db, NULL, IM_ERASE_DELETE };
	const char *ctx = "{\"surface\":\"cli\",\"tz\":\"UTC\"}";
	double *lat = calloc((size_t)queries, sizeof *lat);
	int i, plans[4] = { 0 }, errors = 0, fell_back = 0;
	long items = 0;

	for (i = 0; i < queries; i++) {
		char params[256], user[64];
		struct timespec t0;
		int ok = 0, days = 1 + (int)(next() % DAYS);
		int64_t since = START + (int64_t)(next() % (uint64_t)((DAYS - days + 1) * 86400));
		const char *w = words[zipf_kw ? pick(word_cdf, WORDS) : (int)(next() % WORDS)];
		char *res;

		user_jid(pick(user_cdf, USERS), user, sizeof user);
		snprintf(params, sizeof params,
		         "{%s%s%s%s%s%s\"since\":%" PRId64 ",\"until\":%" PRId64 ",\"limit\":50}",
		         shape == MIX_NO_KEYWORD ? "" : "\"keyword\":\"", shape == MIX_NO_KEYWORD ? "" : w,
		         shape == MIX_NO_KEYWORD ? "" : "\",", shape == MIX_NO_USER ? "" : "\"user\":\"",
		         shape == MIX_NO_USER ? "" : user, shape == MIX_NO_USER ? "" : "\",",
		         since, since + (int64_t)days * 86400);
		if (shape == MIX_NO_USER)
			user[0] = '\0';
		clock_gettime(CLOCK_MONOTONIC, &t0);
		res = im_registry_call(&env, "logs.search", params, ctx, &ok);
		lat[i] = ms_since(&t0);
		if (!ok) {
			errors++;
			if (errors < 3)
				fprintf(stderr, "error: %s\n", res);
		} else {
			json_t *r = json_loads(res, 0, NULL);
			items += (long)json_array_size(json_object_get(r, "items"));
			json_decref(r);
		}
		free(res);
		{   /* which plan ran (same query, outside the timing) */
			const char *slow = getenv("IMHOST_BENCH_SLOW_MS");
			im_search_q q;
			im_search_info info = { 0, -1, 0 };
			json_t *out = NULL;
			memset(&q, 0, sizeof q);
			q.keyword = shape == MIX_NO_KEYWORD ? NULL : w;
			q.user = *user ? user : NULL;
			q.since = since;
			q.until = since + (int64_t)days * 86400; q.limit = 50;
			if (im_logsearch(db, &q, &out, &info, NULL) == IM_OK && info.plan >= 1 && info.plan <= 3)
				plans[info.plan]++;
			fell_back += info.fell_back;
			if (slow && lat[i] > atof(slow))
				printf("  slow %.1f ms: %s plan=%d candidates=%" PRId64 " fell_back=%d items=%zu\n",
				       lat[i], params, info.plan, info.candidates, info.fell_back,
				       json_array_size(json_object_get(out, "items")));
			json_decref(out);
		}
	}
	qsort(lat, (size_t)queries, sizeof *lat, cmp_double);
	printf("search %-10s: %d queries, p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms; "
	       "avg %.1f items; plans index=%d fts=%d merge=%d (per-row checks %d); errors %d\n",
	       name, queries, lat[queries / 2], lat[(int)(queries * 0.95)], lat[(int)(queries * 0.99)],
	       lat[queries - 1], (double)items / queries, plans[IM_PLAN_INDEX], plans[IM_PLAN_FTS], plans[IM_PLAN_MERGE], fell_back, errors);
	free(lat);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	int queries = argc > 2 ? atoi(argv[2]) : 600;
	char dir[] = "/tmp/imhost-bench-XXXXXX", path[256], cmd[96];
	const char *keep = getenv("IMHOST_BENCH_DB");
	sqlite3 *db = NULL;
	char *err = NULL;

	if (n < 1000 || n > 20000000 || queries < 10 || queries > 100000) {
		fprintf(stderr, "usage: %s [entries 1000..20000000] [queries 10..100000]\n", argv[0]);
		return 2;
	}
	if (keep == NULL && mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s", keep ? keep : dir);
	if (keep == NULL)
		strcat(path, "/bench.sqlite");
	make_words();
	make_cdf(word_cdf, WORDS, 1.0);
	make_cdf(user_cdf, USERS, 0.7);
	if ((keep == NULL || access(keep, F_OK) != 0) && fill(path, n) != 0)
		return 1;
	if (im_store_open(path, &db, &err) != IM_OK) {
		fprintf(stderr, "open: %s\n", err ? err : "?");
		return 1;
	}
	printf("database: %.1f MB\n", im_store_size_bytes(db) / 1e6);
	if (getenv("IMHOST_BENCH_SQL") && sqlite3_exec(db, getenv("IMHOST_BENCH_SQL"), NULL, NULL, NULL) != SQLITE_OK)
		fprintf(stderr, "IMHOST_BENCH_SQL: %s\n", sqlite3_errmsg(db));
	printf("keyword+user+range (the goal: p95 <= 20 ms):\n");
	run_mix(db, "zipf", 1, MIX_FULL, queries);
	run_mix(db, "uniform", 0, MIX_FULL, queries);
	printf("other shapes (%d queries each):\n", queries / 3);
	run_mix(db, "kw+range", 1, MIX_NO_USER, queries / 3);
	run_mix(db, "user+range", 1, MIX_NO_KEYWORD, queries / 3);
	sqlite3_close(db);
	if (keep)
		return 0;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}
