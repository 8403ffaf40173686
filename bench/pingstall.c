/* pingstall — how long Prosody's event loop stalls.
 *
 * One client sends XEP-0199 pings to its server and records each round trip:
 * back to back by default (the next one as soon as the previous answer
 * arrives), or paced with -i (the next one MS after the previous answer, as
 * redis-cli --latency does), so that the pinger itself does not keep the
 * server's loop and a core busy.  A stall longer than the interval is still
 * seen whole by the ping sent into it.  Prosody
 * answers pings on its single event-loop thread, so a round trip far above
 * the idle one means the loop was busy elsewhere (e.g. a search run on it).
 * Runs for -t seconds or until SIGTERM/SIGINT, then prints count, p50, p99 and
 * the longest round trip.
 *
 *   pingstall -p C2S_PORT -j JID -x PASSWORD [-t SECONDS] [-i MS] [-l LABEL]
 * Output: a human line, then "RESULT label=.. pings=.. p50_ms=.. p99_ms=.. max_ms=..".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <strophe.h>

#define MAX_SAMPLES 2000000

static volatile sig_atomic_t stop;
static double *rtt;		/* milliseconds */
static size_t n;
static int up, waiting;
static double t_sent, t_answered;
static char domain[128];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_pong(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	const char *id = xmpp_stanza_get_id(st);

	(void)conn;
	(void)ud;
	if (waiting && id && strcmp(id, "stall") == 0) {
		if (n < MAX_SAMPLES)
			rtt[n++] = now_ms() - t_sent;
		waiting = 0;
		t_answered = now_ms();
	}
	return 1;
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err,
		    xmpp_stream_error_t *se, void *ud)
{
	(void)conn;
	(void)err;
	(void)se;
	(void)ud;
	up = ev == XMPP_CONN_CONNECT ? 1 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return rtt[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
	const char *jid = NULL, *pw = NULL, *label = "run";
	int port = 0, opt;
	double seconds = 60, interval = 0, t0;
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	const char *at;

	while ((opt = getopt(argc, argv, "p:j:x:t:i:l:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'j': jid = optarg; break;
		case 'x': pw = optarg; break;
		case 't': seconds = atof(optarg); break;
		case 'i': interval = atof(optarg); break;
		case 'l': label = optarg; break;
		default: port = 0; break;
		}
	}
	if (port <= 0 || port > 65535 || !jid || !pw || !(at = strchr(jid, '@')) ||
	    strlen(at + 1) >= sizeof domain || seconds <= 0 || seconds > 600 || interval < 0 || interval > 1000) {
		fprintf(stderr, "usage: pingstall -p C2S_PORT -j JID -x PASSWORD [-t SECONDS] [-i MS] [-l LABEL]\n");
		return 2;
	}
	snprintf(domain, sizeof domain, "%s", at + 1);
	rtt = malloc(MAX_SAMPLES * sizeof *rtt);
	if (rtt == NULL)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, NULL);
	conn = ctx ? xmpp_conn_new(ctx) : NULL;
	if (conn == NULL)
		return 1;
	xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_DISABLE_TLS | XMPP_CONN_FLAG_DISABLE_SM);
	xmpp_conn_set_jid(conn, jid);
	xmpp_conn_set_pass(conn, pw);
	xmpp_handler_add(conn, on_pong, NULL, "iq", NULL, NULL);
	if (xmpp_connect_client(conn, "127.0.0.1", (unsigned short)port, on_conn, NULL) != XMPP_EOK)
		return 1;
	for (t0 = now_ms(); up == 0 && now_ms() - t0 < 10000;)
		xmpp_run_once(ctx, 10);
	if (up != 1) {
		fprintf(stderr, "pingstall: cannot log in as %s\n", jid);
		return 1;
	}
	for (t0 = now_ms(); !stop && up == 1 && now_ms() - t0 < seconds * 1000;) {
		if (!waiting && now_ms() - t_answered >= interval) {
			xmpp_send_raw_string(conn, "<iq type='get' to='%s' id='stall'>"
					     "<ping xmlns='urn:xmpp:ping'/></iq>", domain);
			t_sent = now_ms();
			waiting = 1;
		}
		xmpp_run_once(ctx, 1);
	}
	if (n == 0) {
		fprintf(stderr, "pingstall: no answers\n");
		return 1;
	}
	qsort(rtt, n, sizeof *rtt, cmp);
	printf("pingstall %s: %zu pings, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       label, n, pct(50), pct(99), rtt[n - 1]);
	printf("RESULT label=%s pings=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
	       label, n, pct(50), pct(99), rtt[n - 1]);
	fflush(stdout);
	xmpp_disconnect(conn);
	for (t0 = now_ms(); up == 1 && now_ms() - t0 < 1000;)
		xmpp_run_once(ctx, 10);
	xmpp_conn_release(conn);
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	free(rtt);
	return 0;
}
