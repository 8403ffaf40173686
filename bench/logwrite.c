/*
 * logwrite.c — micro-benchmark of the log writer (loopback/disk only, bounded).
 *
 *   bench/logwrite [N]     (default 200000 entries)
 *
 * Prints, for messages with 100-byte bodies (FTS) and without bodies:
 *   producer: mean cost of one im_writer_message call (the event loop's price)
 *   sustained: entries/s from the first push until flush() returns
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"

#include "logwriter.h"

static int run(const char *dir, int n, int with_body)
{
	static const char *users[] = { "alice@example.com", "bob@example.com",
	                               "carol@example.com", "dave@example.com" };
	char path[256], body[101];
	im_writer_opts o = { 0 };
	im_writer *w = NULL;
	im_writer_stats s;
	char *err = NULL;
	double t0, t1, t2;
	int i, dropped = 0;

	snprintf(path, sizeof path, "%s/bench-%d.sqlite", dir, with_body);
	memset(body, 'w', 100);
	for (i = 0; i < 100; i += 10)
		body[i] = ' ';
	body[100] = '\0';
	o.path = path;
	o.queue_max = n;     /* measure cost and throughput, not drops */
	if (im_writer_open(&o, &w, &err) != IM_OK) {
		fprintf(stderr, "open: %s\n", err ? err : "?");
		free(err);
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < n; i++) {
		im_log_message m = { .ts = 1700000000 + i / 50, .domain = "example.com",
		                     .from = users[i % 4], .to = users[(i + 1) % 4], .kind = "chat",
		                     .stanza_id = "abcdef-123456", .size = 300,
		                     .body = with_body ? body : NULL, .body_len = with_body ? 100 : 0 };
		if (im_writer_message(w, &m) != IM_OK)
			dropped++;
	}
	t1 = now_s();
	if (im_writer_flush(w) != IM_OK)
		fprintf(stderr, "flush failed\n");
	t2 = now_s();
	im_writer_stats_get(w, &s);
	printf("%-12s n=%d producer %.2f us/entry  sustained %.0f entries/s  batches %lld"
	       "  max_flush %lld us  dropped %d  db %.1f MB\n",
	       with_body ? "body+fts" : "no body", n, (t1 - t0) * 1e6 / n, n / (t2 - t0),
	       (long long)s.batches, (long long)s.max_flush_us, dropped, s.db_bytes / 1e6);
	im_writer_close(w);
	unlink(path);
	snprintf(path, sizeof path, "%s/bench-%d.sqlite-wal", dir, with_body);
	unlink(path);
	snprintf(path, sizeof path, "%s/bench-%d.sqlite-shm", dir, with_body);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/imhost-bench-XXXXXX";
	int n = argc > 1 ? atoi(argv[1]) : 200000;
	int rc;

	if (n < 1 || n > 5000000) {
		fprintf(stderr, "usage: logwrite [N <= 5000000]\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = run(dir, n, 1) || run(dir, n, 0);
	rmdir(dir);
	return rc;
}
