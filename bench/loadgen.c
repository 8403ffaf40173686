/* loadgen — message throughput of a Prosody server on loopback.
 *
 * N sender/receiver pairs (lg-sI@HOST → lg-rI@HOST) each keep at most W
 * messages in flight: a sender sends while (sent - received) < W.  The run
 * stops sending after T seconds or C messages per pair, waits up to 5 s for
 * what is in flight, and prints messages per second (received messages over
 * first send → last receipt).  With -P PID it also prints the server's CPU
 * time per message (utime+stime from /proc/PID/stat over the same interval),
 * which is what imhost adds to routing.
 *
 * One thread, one libstrophe context: the load client costs ~10 us/msg, far
 * below the server's ~60 us, so one core of client is enough on two cores.
 *
 *   loadgen -p C2S_PORT [-d HOST] [-n PAIRS] [-w WINDOW] [-c PER_PAIR]
 *           [-t SECONDS] [-s BODY_BYTES] [-x PASSWORD] [-P SERVER_PID]
 * Output: a human line, then "RESULT msgs=.. secs=.. rate=.. cpu_us=.." for
 * scripts.  Exit 1 when clients cannot log in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <strophe.h>

#include "bench_clock.h"

#define MAX_PAIRS 500

typedef struct {
	xmpp_conn_t *s, *r;
	int s_up, r_up, dead;
	long sent, received;
	char to[128];
} pair;

static pair pairs[MAX_PAIRS];
static double t_last_recv;

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	pair *p = ud;

	(void)conn;
	if (xmpp_stanza_get_child_by_name(st, "body")) {
		p->received++;
		t_last_recv = now_s();
	}
	return 1;
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err,
		    xmpp_stream_error_t *se, void *ud)
{
	pair *p = ud;
	int *up = conn == p->s ? &p->s_up : &p->r_up;

	(void)err;
	(void)se;
	if (ev == XMPP_CONN_CONNECT) {
		*up = 1;
		/* available presence, so messages to the bare JID are delivered */
		xmpp_send_raw_string(conn, "<presence/>");
	} else {
		*up = 0;
		p->dead = 1;
	}
}

static xmpp_conn_t *client(xmpp_ctx_t *ctx, const char *jid, const char *pw,
			   int port, pair *p)
{
	xmpp_conn_t *c = xmpp_conn_new(ctx);

	if (c == NULL)
		return NULL;
	xmpp_conn_set_flags(c, XMPP_CONN_FLAG_DISABLE_TLS | XMPP_CONN_FLAG_DISABLE_SM);
	xmpp_conn_set_jid(c, jid);
	xmpp_conn_set_pass(c, pw);
	if (xmpp_connect_client(c, "127.0.0.1", (unsigned short)port, on_conn, p) != XMPP_EOK) {
		xmpp_conn_release(c);
		return NULL;
	}
	return c;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen -p C2S_PORT [-d HOST] [-n PAIRS] [-w WINDOW] "
		"[-c PER_PAIR] [-t SECONDS] [-s BODY_BYTES] [-x PASSWORD] [-P SERVER_PID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *host = "a.test", *pw = "bench-pw";
	int port = 0, npairs = 25, window = 50, size = 100, pid = 0, opt, i, up;
	long per_pair = 1000000;
	double seconds = 10, t0, t_stop, t_first = 0;
	long long cpu0 = -1, cpu1 = -1, total = 0;
	char jid[160], *body;
	xmpp_ctx_t *ctx;

	while ((opt = getopt(argc, argv, "p:d:n:w:c:t:s:x:P:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'd': host = optarg; break;
		case 'n': npairs = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'c': per_pair = atol(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'x': pw = optarg; break;
		case 'P': pid = atoi(optarg); break;
		default: usage();
		}
	}
	/* bounded: loopback only, at most 500 pairs, 10 minutes, 64 kB bodies */
	if (port <= 0 || port > 65535 || npairs < 1 || npairs > MAX_PAIRS || window < 1 ||
	    window > 10000 || per_pair < 1 || seconds <= 0 || seconds > 600 || size < 1 ||
	    size > 65536 || strlen(host) > 64)
		usage();
	body = malloc((size_t)size + 1);
	if (body == NULL)
		return 1;
	for (i = 0; i < size; i++)
		body[i] = "abcdefghij klmnopqrstuvwxyz"[i % 27];
	body[size] = '\0';

	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, NULL);
	if (ctx == NULL)
		return 1;
	for (i = 0; i < npairs; i++) {
		pair *p = &pairs[i];

		snprintf(p->to, sizeof p->to, "lg-r%d@%s", i, host);
		snprintf(jid, sizeof jid, "lg-s%d@%s", i, host);
		p->s = client(ctx, jid, pw, port, p);
		p->r = client(ctx, p->to, pw, port, p);
		if (p->s == NULL || p->r == NULL) {
			fprintf(stderr, "loadgen: cannot start client %d\n", i);
			return 1;
		}
		xmpp_handler_add(p->r, on_message, NULL, "message", NULL, p);
	}
	t0 = now_s();
	do {
		xmpp_run_once(ctx, 10);
		for (up = 0, i = 0; i < npairs; i++)
			up += pairs[i].s_up + pairs[i].r_up;
	} while (up < 2 * npairs && now_s() - t0 < 30);
	if (up < 2 * npairs) {
		fprintf(stderr, "loadgen: only %d of %d clients logged in\n", up, 2 * npairs);
		return 1;
	}
	/* let initial presences settle before measuring */
	for (t0 = now_s(); now_s() - t0 < 0.5;)
		xmpp_run_once(ctx, 10);

	if (pid > 0)
		cpu0 = cpu_us(pid);
	t_first = now_s();
	t_stop = t_first + seconds;
	for (;;) {
		double t = now_s();
		int busy = 0;

		for (i = 0; i < npairs; i++) {
			pair *p = &pairs[i];

			while (t < t_stop && !p->dead && p->sent < per_pair &&
			       p->sent - p->received < window) {
				xmpp_send_raw_string(p->s, "<message to='%s' type='chat' id='m%ld'>"
						     "<body>%s</body></message>", p->to, p->sent, body);
				p->sent++;
			}
			if (!p->dead && p->received < p->sent)
				busy = 1;
			if (!p->dead && t < t_stop && p->sent < per_pair)
				busy = 1;
		}
		if (!busy || t > t_stop + 5)
			break;
		xmpp_run_once(ctx, 1);
	}
	if (pid > 0)
		cpu1 = cpu_us(pid);
	for (i = 0; i < npairs; i++)
		total += pairs[i].received;
	{
		double secs = t_last_recv > t_first ? t_last_recv - t_first : 0;
		double rate = secs > 0 ? total / secs : 0;
		double per = (cpu0 >= 0 && cpu1 >= 0 && total > 0) ? (double)(cpu1 - cpu0) / total : -1;

		printf("loadgen: %d pairs, window %d, %d-byte bodies: %lld messages in %.2f s = "
		       "%.0f msg/s", npairs, window, size, total, secs, rate);
		if (per >= 0)
			printf(", server CPU %.1f us/msg", per);
		printf("\nRESULT msgs=%lld secs=%.3f rate=%.0f cpu_us=%.1f\n", total, secs, rate, per);
	}
	for (i = 0; i < npairs; i++) {
		xmpp_disconnect(pairs[i].s);
		xmpp_disconnect(pairs[i].r);
	}
	for (t0 = now_s(); now_s() - t0 < 1;)
		xmpp_run_once(ctx, 10);
	for (i = 0; i < npairs; i++) {
		xmpp_conn_release(pairs[i].s);
		xmpp_conn_release(pairs[i].r);
	}
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	free(body);
	return total > 0 ? 0 : 1;
}
