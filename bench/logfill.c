/* logfill — a realistic imhost log database, and searches against it.
 *
 *   logfill fill DB [-n ENTRIES] [-D DAYS]
 *       Writes ENTRIES (default 1,000,000) message entries, plus one session
 *       event per 50 messages, straight through the core's writer API
 *       (im_writer_*), into DB: 50 domains (d00.test ... d49.test),
 *       5,000 users, 200 rooms, timestamps spread over the last DAYS (30)
 *       days, bodies of 3-25 words drawn Zipf-like from a 3,000-word
 *       vocabulary; 80% chat, 20% groupchat.  Deterministic (fixed seed).
 *   logfill search -p HTTP_PORT -a USER@HOST:PASS [-H HOST] [-n REQUESTS] [-D DAYS] [-s SEED] [-k]
 *       Sends REQUESTS (default 400) sequential keyword+user+range searches
 *       (a different set per SEED)
 *       (GET /imhost/api/v1/logs/search) over loopback, with words and users
 *       that exist in the filled data, and prints p50/p95/max latency.
 *       Each search opens its own connection, unless -k: one kept-alive
 *       connection for all, as a dashboard or an API script's HTTP client does.
 *
 * Output ends with a "RESULT ..." line for bench/run.sh.  The vocabulary and
 * population come from the same functions in both modes, so a search asks
 * for what the fill wrote.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "imhost_err.h"
#include "logwriter.h"

#define DOMAINS 50
#define USERS 5000
#define ROOMS 200
#define VOCAB 3000

/* ---- the synthetic population ----------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)	/* xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static double unit(void)
{
	return (double)(rnd() >> 11) / (double)(1ULL << 53);
}

static char vocab[VOCAB][16];

/* Pronounceable distinct words: 2-4 syllables, numbered so none repeat. */
static void make_vocab(void)
{
	static const char *const syl[] = { "ka", "lo", "mi", "ne", "ru", "ta", "po", "si",
		"de", "ga", "vo", "li", "ma", "to", "re", "zu", "ba", "fe", "ni", "so" };
	unsigned i, k, v;

	for (i = 0; i < VOCAB; i++) {
		char *w = vocab[i];

		w[0] = '\0';
		/* base-20 digits of i+20 → syllables: unique by construction */
		for (v = i + 20, k = 0; v > 0 && k < 4; v /= 20, k++)
			strcat(w, syl[v % 20]);
	}
}

/* Zipf-like: low indices far more common. */
static const char *word(void)
{
	double u = unit();

	return vocab[(unsigned)(VOCAB * u * u * u)];
}

/* None of these is a VirtualHost of the bench server: imhost's start-up
 * reconciliation (entries of accounts that no longer exist) must not touch
 * the filled data while it is being measured. */
static void domain_of(unsigned i, char *buf, size_t size)
{
	snprintf(buf, size, "d%02u.test", i % DOMAINS);
}

static void user_of(unsigned i, char *buf, size_t size)
{
	char d[32];

	domain_of(i, d, sizeof d);
	snprintf(buf, size, "u%u@%s", i, d);
}

/* ---- fill ---------------------------------------------------------------------------- */

/* The producer is far faster than the writer: keep the bounded queue below
 * half full instead of letting entries be dropped (which would count them). */
static void pace(im_writer *w, int queue_max)
{
	im_writer_stats st;

	for (;;) {
		im_writer_stats_get(w, &st);
		if (st.queue_depth < queue_max / 2)
			return;
		usleep(5000);
	}
}

static int fill(const char *path, long entries, int days)
{
	im_writer_opts o = { .path = path, .queue_max = 262144, .batch_max = 4096, .flush_ms = 200 };
	im_writer *w = NULL;
	im_writer_stats st;
	char *err = NULL, body[512], from[64], to[64], dom[32], room[80], sid[32];
	int64_t now = (int64_t)time(NULL), span = (int64_t)days * 86400;
	struct timespec a, b;
	long i, retries = 0;
	int rc;

	if (im_writer_open(&o, &w, &err) != IM_OK) {
		fprintf(stderr, "logfill: cannot open %s: %s\n", path, err ? err : "?");
		free(err);
		return 1;
	}
	make_vocab();
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < entries; i++) {
		unsigned u = below(USERS), nwords = 3 + below(23), k;
		int group = below(5) == 0;
		size_t len = 0;
		im_log_message m = { 0 };

		for (k = 0; k < nwords && len < sizeof body - 20; k++)
			len += (size_t)snprintf(body + len, sizeof body - len, "%s%s", k ? " " : "", word());
		user_of(u, from, sizeof from);
		domain_of(u, dom, sizeof dom);
		snprintf(sid, sizeof sid, "fill-%ld", i);
		m.ts = now - span + (int64_t)((double)span * (double)i / (double)entries);
		m.domain = dom;
		m.from = from;
		m.stanza_id = sid;
		m.body = body;
		m.body_len = len;
		m.size = (int64_t)len;
		if (group) {
			/* a room of the sender's domain */
			unsigned r = (u % DOMAINS) + DOMAINS * below(ROOMS / DOMAINS);

			snprintf(room, sizeof room, "r%u@rooms.%s", r, dom);
			m.kind = "groupchat";
			m.room = room;
		} else {
			/* a peer in the same domain: same residue mod DOMAINS */
			unsigned peer = (u % DOMAINS) + DOMAINS * below(USERS / DOMAINS);

			user_of(peer, to, sizeof to);
			m.kind = "chat";
			m.to = to;
		}
		if (i % 4096 == 0)
			pace(w, o.queue_max);
		while ((rc = im_writer_message(w, &m)) == IM_EFULL) {
			/* pace() should prevent this; the entry was dropped: retry */
			retries++;
			im_writer_flush(w);
		}
		if (rc != IM_OK) {
			fprintf(stderr, "logfill: entry %ld refused (%d)\n", i, rc);
			im_writer_close(w);
			return 1;
		}
		if (i % 50 == 0) {
			im_log_session s = { .ts = m.ts, .domain = dom, .user = from,
					     .resource = "bench", .client = "logfill",
					     .event = (i / 50) % 2 ? "logout" : "login" };

			while ((rc = im_writer_session(w, &s)) == IM_EFULL)
				im_writer_flush(w);
		}
	}
	if (im_writer_flush(w) != IM_OK)
		fprintf(stderr, "logfill: final flush failed\n");
	im_writer_stats_get(w, &st);
	im_writer_close(w);
	clock_gettime(CLOCK_MONOTONIC, &b);
	{
		double secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;

		printf("logfill: %ld entries (+%ld sessions) in %.1f s = %.0f entries/s, "
		       "%lld written, %.0f MB, %ld retried after queue full\n",
		       entries, (entries - 1) / 50 + 1, secs, entries / secs, (long long)st.written,
		       st.db_bytes / 1e6, retries);
		printf("RESULT entries=%ld secs=%.1f rate=%.0f\n", entries, secs, entries / secs);
	}
	/* retried entries were counted as dropped once each, then written */
	return st.written == entries + (entries - 1) / 50 + 1 ? 0 : 1;
}

/* ---- search ---------------------------------------------------------------------------- */

static char *b64(const char *in)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), i;
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	const unsigned char *s = (const unsigned char *)in;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = t[s[i] >> 2];
		*o++ = t[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*o++ = t[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		*o++ = t[s[i + 2] & 63];
	}
	if (i < n) {
		*o++ = t[s[i] >> 2];
		*o++ = t[((s[i] & 3) << 4) | (i + 1 < n ? s[i + 1] >> 4 : 0)];
		*o++ = i + 1 < n ? t[(s[i + 1] & 15) << 2] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int connect_loopback(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The body's length from a response's head (up to the blank line), or -1. */
static long content_length(const char *head)
{
	const char *s;

	for (s = head; (s = strchr(s, '\n')) != NULL; s++)
		if (strncasecmp(s + 1, "Content-Length:", 15) == 0)
			return strtol(s + 16, NULL, 10);
	return -1;
}

/* One GET; returns the HTTP status (0 on a transport error) and counts the
 * "id" keys of the body in *items.  *fd < 0: a fresh connection, closed after
 * the answer (the request says "Connection: close").  Otherwise the answer is
 * read up to its Content-Length and *fd stays open for the next request; it
 * is closed and set to -1 if the server closes or the answer is unreadable. */
static int get(int port, int *fd, const char *req, size_t reqlen, long *items)
{
	static char buf[4 << 20];
	size_t len = 0, want = sizeof buf - 1;
	ssize_t r;
	int keep = *fd >= 0, status = 0;
	int sock = keep ? *fd : connect_loopback(port);
	struct pollfd p = { .fd = sock, .events = POLLIN };
	const char *s, *body = NULL;

	*items = 0;
	if (sock < 0 || send(sock, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen)
		goto out;
	while (len < want && poll(&p, 1, 30000) == 1) {
		r = recv(sock, buf + len, sizeof buf - 1 - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if (keep && body == NULL && (body = strstr(buf, "\r\n\r\n")) != NULL) {
			long cl = content_length(buf);

			body += 4;
			if (cl < 0 || (size_t)cl > sizeof buf - 1 - (size_t)(body - buf))
				goto out;	/* chunked or too large: not kept */
			want = (size_t)(body - buf) + (size_t)cl;
		}
	}
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		status = 0;
	for (s = buf; (s = strstr(s, "\"id\":")) != NULL; s += 5)
		(*items)++;
	if (keep && len == want) {
		*fd = sock;
		return status;
	}
out:
	if (sock >= 0)
		close(sock);
	*fd = -1;
	return status;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int search(int port, const char *host, const char *cred, int n, int days, unsigned seed,
		  int keepalive)
{
	char *auth = b64(cred), req[2048], user[64];
	double *lat = malloc((size_t)n * sizeof *lat);
	int64_t now = (int64_t)time(NULL);
	long items, total_items = 0;
	int i, ok = 0, len, fd = -1;
	struct timespec a, b;

	if (auth == NULL || lat == NULL)
		return 1;
	make_vocab();
	rng_state = 0x2545f4914f6cdd1dULL + seed * 0x9e3779b97f4a7c15ULL;	/* not the fill's */
	for (i = 0; i < n; i++) {
		/* a moderately common word, a user, and the last 1-30 days */
		const char *w = vocab[20 + below(280)];
		int64_t since = now - (int64_t)(1 + below((unsigned)days)) * 86400;
		int st;

		user_of(below(USERS), user, sizeof user);
		len = snprintf(req, sizeof req,
			       "GET /imhost/api/v1/logs/search?keyword=%s&user=%s&since=%lld&until=%lld"
			       "&limit=50 HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n"
			       "Connection: %s\r\n\r\n", w, user, (long long)since,
			       (long long)now, host, auth, keepalive ? "keep-alive" : "close");
		if (len < 0 || (size_t)len >= sizeof req)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (keepalive && fd < 0)
			fd = connect_loopback(port);
		st = keepalive && fd < 0 ? 0 : get(port, &fd, req, (size_t)len, &items);
		clock_gettime(CLOCK_MONOTONIC, &b);
		lat[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
		if (st == 200) {
			ok++;
			total_items += items;
		} else if (i + 1 - ok <= 3) {	/* the first few failures */
			fprintf(stderr, "logfill: request %d: HTTP %d\n", i, st);
		}
	}
	qsort(lat, (size_t)n, sizeof *lat, cmpd);
	printf("logfill search: %d requests, %d ok, %.1f items/answer, p50 %.2f ms, p95 %.2f ms, "
	       "max %.2f ms\n", n, ok, ok ? (double)total_items / ok : 0.0,
	       lat[n / 2], lat[(size_t)(n * 0.95)], lat[n - 1]);
	printf("RESULT requests=%d ok=%d p50_ms=%.2f p95_ms=%.2f max_ms=%.2f\n", n, ok,
	       lat[n / 2], lat[(size_t)(n * 0.95)], lat[n - 1]);
	if (fd >= 0)
		close(fd);
	free(lat);
	free(auth);
	return ok == n ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: logfill fill DB [-n ENTRIES] [-D DAYS]\n"
		"       logfill search -p HTTP_PORT -a USER@HOST:PASS [-H HOST] [-n REQUESTS] [-D DAYS] [-s SEED] [-k]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *host = "a.test", *cred = NULL;
	long n = -1;
	int port = 0, days = 30, keepalive = 0, opt;
	unsigned seed = 0;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "fill") == 0) {
		if (argc < 3)
			usage();
		optind = 3;
	} else if (strcmp(argv[1], "search") == 0) {
		optind = 2;
	} else {
		usage();
	}
	while ((opt = getopt(argc, argv, "n:D:p:a:H:s:k")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 'D': days = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'a': cred = optarg; break;
		case 'H': host = optarg; break;
		case 's': seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': keepalive = 1; break;
		default: usage();
		}
	}
	if (days < 1 || days > 3650)
		usage();
	if (argv[1][0] == 'f') {
		if (n < 0)
			n = 1000000;
		if (n < 1 || n > 100000000)
			usage();
		return fill(argv[2], n, days);
	}
	if (n < 0)
		n = 400;
	if (port <= 0 || port > 65535 || !cred || n < 1 || n > 100000 || strlen(host) > 200 ||
	    strlen(cred) > 300)
		usage();
	return search(port, host, cred, (int)n, days, seed, keepalive);
}
