/* loadgen — message throughput of a Prosody server on loopback.
 *
 * N sender/receiver pairs (lg-sI@HOST → lg-rI@HOST) each keep at most W
 * messages in flight: a sender sends while (sent - received) < W.  The run
 * stops sending after T seconds or C messages per pair, waits up to 5 s for
 * what is in flight, and prints messages per second (received messages over
 * first send → last receipt).  With -P PID it also prints the server's CPU
 * time per message (utime+stime from /proc/PID/stat over the run), which is
 * what imhost adds to routing.
 *
 * Interleaved (-q PORT2): N pairs on each of two servers, loaded in turn for
 * slices of -i seconds (default 1) until each has had T seconds.  A slice
 * ends by waiting for that server's messages in flight, so each server's
 * rate is its messages over its own slices' active time.  A box whose speed
 * drifts over seconds (a shared VM: ±10% between two 10 s runs) then slows
 * both servers alike, and their ratio is measured far more tightly than with
 * one run after the other.  CPU per message is each server's CPU over the
 * whole run (its writer's work after a slice included) over its messages.
 *
 * One thread, one libstrophe context: the load client costs ~10 us/msg, far
 * below the server's ~30 us, so one core of client is enough on two cores.
 *
 *   loadgen -p C2S_PORT [-P SERVER_PID] [-q C2S_PORT2 [-Q SERVER_PID2] [-i SLICE]
 *           [-a LABEL1 -b LABEL2]] [-d HOST] [-n PAIRS] [-w WINDOW] [-c PER_PAIR]
 *           [-t SECONDS] [-s BODY_BYTES] [-x PASSWORD]
 * Output: a human line, then "RESULT msgs=.. secs=.. rate=.. cpu_us=.." for
 * scripts; interleaved, both lines per server, each prefixed "LABEL: ".
 * Exit 1 when clients cannot log in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <strophe.h>

#include "bench_clock.h"

#define MAX_PAIRS 500
#define MAX_TARGETS 2

typedef struct {
	xmpp_conn_t *s, *r;
	int s_up, r_up, dead;
	long sent, received;
	char to[128];
} pair;

/* One server under load. */
typedef struct {
	const char *label;       /* its output lines' prefix (interleaved only) */
	int port, pid;
	pair pairs[MAX_PAIRS];
	double active;           /* seconds: its slices, first send to last receipt */
	long long cpu0, cpu1;
} target;

static target targets[MAX_TARGETS];
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
	fprintf(stderr, "usage: loadgen -p C2S_PORT [-P SERVER_PID] [-q C2S_PORT2 [-Q SERVER_PID2] "
		"[-i SLICE] [-a LABEL1 -b LABEL2]] [-d HOST] [-n PAIRS] [-w WINDOW] [-c PER_PAIR] "
		"[-t SECONDS] [-s BODY_BYTES] [-x PASSWORD]\n");
	exit(2);
}

/* Loads tg for dur seconds: each pair keeps window messages in flight; then
 * waits (at most 5 s) for what is in flight.  Adds the active time to tg. */
static void run_slice(xmpp_ctx_t *ctx, target *tg, int npairs, double dur, int window,
		      long per_pair, const char *body)
{
	double t_first = now_s(), t_stop = t_first + dur;
	int i;

	t_last_recv = t_first;
	for (;;) {
		double t = now_s();
		int busy = 0;

		for (i = 0; i < npairs; i++) {
			pair *p = &tg->pairs[i];

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
	tg->active += t_last_recv - t_first;
}

static void report(const target *tg, int ntargets, int npairs, int window, int size)
{
	const char *pre = ntargets > 1 ? tg->label : "", *sep = ntargets > 1 ? ": " : "";
	long long total = 0;
	double rate, per;
	int i;

	for (i = 0; i < npairs; i++)
		total += tg->pairs[i].received;
	rate = tg->active > 0 ? total / tg->active : 0;
	per = (tg->cpu0 >= 0 && tg->cpu1 >= 0 && total > 0) ? (double)(tg->cpu1 - tg->cpu0) / total : -1;
	printf("%s%sloadgen: %d pairs, window %d, %d-byte bodies: %lld messages in %.2f s = "
	       "%.0f msg/s", pre, sep, npairs, window, size, total, tg->active, rate);
	if (per >= 0)
		printf(", server CPU %.1f us/msg", per);
	printf("\n%s%sRESULT msgs=%lld secs=%.3f rate=%.0f cpu_us=%.1f\n", pre, sep, total,
	       tg->active, rate, per);
}

int main(int argc, char **argv)
{
	const char *host = "a.test", *pw = "bench-pw";
	int npairs = 25, window = 50, size = 100, ntargets = 1, opt, i, k, up;
	long per_pair = 1000000;
	double seconds = 10, slice = 1, done, t0;
	long long received = 0;
	char jid[160], *body;
	xmpp_ctx_t *ctx;

	targets[0].label = "1";
	targets[1].label = "2";
	while ((opt = getopt(argc, argv, "p:P:q:Q:i:a:b:d:n:w:c:t:s:x:")) != -1) {
		switch (opt) {
		case 'p': targets[0].port = atoi(optarg); break;
		case 'P': targets[0].pid = atoi(optarg); break;
		case 'q': targets[1].port = atoi(optarg); ntargets = 2; break;
		case 'Q': targets[1].pid = atoi(optarg); break;
		case 'i': slice = atof(optarg); break;
		case 'a': targets[0].label = optarg; break;
		case 'b': targets[1].label = optarg; break;
		case 'd': host = optarg; break;
		case 'n': npairs = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'c': per_pair = atol(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'x': pw = optarg; break;
		default: usage();
		}
	}
	/* bounded: loopback only, at most 500 pairs a server, 10 minutes, 64 kB bodies */
	for (k = 0; k < ntargets; k++)
		if (targets[k].port <= 0 || targets[k].port > 65535)
			usage();
	if (npairs < 1 || npairs > MAX_PAIRS || window < 1 || window > 10000 || per_pair < 1 ||
	    seconds <= 0 || seconds > 600 || slice < 0.1 || slice > 60 || size < 1 ||
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
	for (k = 0; k < ntargets; k++) {
		for (i = 0; i < npairs; i++) {
			pair *p = &targets[k].pairs[i];

			snprintf(p->to, sizeof p->to, "lg-r%d@%s", i, host);
			snprintf(jid, sizeof jid, "lg-s%d@%s", i, host);
			p->s = client(ctx, jid, pw, targets[k].port, p);
			p->r = client(ctx, p->to, pw, targets[k].port, p);
			if (p->s == NULL || p->r == NULL) {
				fprintf(stderr, "loadgen: cannot start client %d\n", i);
				return 1;
			}
			xmpp_handler_add(p->r, on_message, NULL, "message", NULL, p);
		}
	}
	t0 = now_s();
	do {
		xmpp_run_once(ctx, 10);
		for (up = 0, k = 0; k < ntargets; k++)
			for (i = 0; i < npairs; i++)
				up += targets[k].pairs[i].s_up + targets[k].pairs[i].r_up;
	} while (up < 2 * npairs * ntargets && now_s() - t0 < 30);
	if (up < 2 * npairs * ntargets) {
		fprintf(stderr, "loadgen: only %d of %d clients logged in\n", up, 2 * npairs * ntargets);
		return 1;
	}
	/* let initial presences settle before measuring */
	for (t0 = now_s(); now_s() - t0 < 0.5;)
		xmpp_run_once(ctx, 10);

	for (k = 0; k < ntargets; k++)
		targets[k].cpu0 = targets[k].pid > 0 ? cpu_us(targets[k].pid) : -1;
	if (ntargets == 1)
		slice = seconds;
	/* Each server in turn gets a slice (the last one shorter if slice does
	 * not divide seconds) until each has had seconds in all. */
	for (done = 0; done < seconds - 1e-9; done += slice) {
		double dur = seconds - done < slice ? seconds - done : slice;

		for (k = 0; k < ntargets; k++)
			run_slice(ctx, &targets[k], npairs, dur, window, per_pair, body);
	}
	for (k = 0; k < ntargets; k++) {
		targets[k].cpu1 = targets[k].pid > 0 ? cpu_us(targets[k].pid) : -1;
		report(&targets[k], ntargets, npairs, window, size);
		for (i = 0; i < npairs; i++)
			received += targets[k].pairs[i].received;
	}
	for (k = 0; k < ntargets; k++)
		for (i = 0; i < npairs; i++) {
			xmpp_disconnect(targets[k].pairs[i].s);
			xmpp_disconnect(targets[k].pairs[i].r);
		}
	for (t0 = now_s(); now_s() - t0 < 1;)
		xmpp_run_once(ctx, 10);
	for (k = 0; k < ntargets; k++)
		for (i = 0; i < npairs; i++) {
			xmpp_conn_release(targets[k].pairs[i].s);
			xmpp_conn_release(targets[k].pairs[i].r);
		}
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	free(body);
	return received > 0 ? 0 : 1;
}
