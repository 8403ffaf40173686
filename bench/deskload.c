/* deskload — message-to-ticket throughput of the support desk through Prosody.
 *
 * A new ticket needs a sender without an open ticket, so every sender sends
 * exactly one message: users dk-0 .. dk-(N-1)@HOST (registered by the caller,
 * password -x) log in B at a time; once a batch is up, each sends one request
 * to the desk address at the same instant and waits for the desk's answer
 * ("... ticket #N ...").  The measured time per batch runs from the first send
 * to the last answer (logins and logouts are outside it: they are Prosody's
 * cost, not the desk's).  Prints tickets per second over the summed batch
 * times, and with -P PID the server's CPU us per ticket over the same spans.
 *
 *   deskload -p C2S_PORT [-d HOST] [-D DESK_JID] [-n SENDERS] [-b BATCH]
 *            [-x PASSWORD] [-P SERVER_PID]
 * Output: a human line, then "RESULT tickets=.. secs=.. rate=.. cpu_us=.. lost=..".
 * Bounded: loopback only, at most 20,000 senders, batches of at most 1,000,
 * 30 s per batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <strophe.h>

#include "bench_clock.h"

#define MAX_BATCH 1000

typedef struct {
	xmpp_conn_t *c;
	int up, dead, answered;
} sender;

static sender batch[MAX_BATCH];
static int answered_total;

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	sender *s = ud;
	char *b = xmpp_message_get_body(st);

	(void)conn;
	if (b && strstr(b, "ticket #") && !s->answered) {
		s->answered = 1;
		answered_total++;
	}
	if (b)
		xmpp_free(xmpp_conn_get_context(conn), b);
	return 1;
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err, xmpp_stream_error_t *se, void *ud)
{
	sender *s = ud;

	(void)err;
	(void)se;
	if (ev == XMPP_CONN_CONNECT) {
		s->up = 1;
		xmpp_send_raw_string(conn, "<presence/>");
	} else {
		s->up = 0;
		s->dead = 1;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: deskload -p C2S_PORT [-d HOST] [-D DESK_JID] [-n SENDERS] [-b BATCH] "
	        "[-x PASSWORD] [-P SERVER_PID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *host = "a.test", *desk = "support.a.test", *pw = "bench-pw";
	int port = 0, total = 2000, bsize = 250, pid = 0, opt, i, done = 0, lost = 0;
	double secs = 0;
	long long cpu = 0;
	char jid[160], body[160];
	xmpp_ctx_t *ctx;

	while ((opt = getopt(argc, argv, "p:d:D:n:b:x:P:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'd': host = optarg; break;
		case 'D': desk = optarg; break;
		case 'n': total = atoi(optarg); break;
		case 'b': bsize = atoi(optarg); break;
		case 'x': pw = optarg; break;
		case 'P': pid = atoi(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || total < 1 || total > 20000 || bsize < 1 || bsize > MAX_BATCH ||
	    strlen(host) > 64 || strlen(desk) > 100)
		usage();
	xmpp_initialize();
	if ((ctx = xmpp_ctx_new(NULL, NULL)) == NULL)
		return 1;
	while (done < total) {
		int n = total - done < bsize ? total - done : bsize, up, answered0;
		double t0, t1;
		long long c0 = -1, c1 = -1;

		memset(batch, 0, sizeof batch);
		for (i = 0; i < n; i++) {
			sender *s = &batch[i];
			snprintf(jid, sizeof jid, "dk-%d@%s", done + i, host);
			if ((s->c = xmpp_conn_new(ctx)) == NULL)
				return 1;
			xmpp_conn_set_flags(s->c, XMPP_CONN_FLAG_DISABLE_TLS | XMPP_CONN_FLAG_DISABLE_SM);
			xmpp_conn_set_jid(s->c, jid);
			xmpp_conn_set_pass(s->c, pw);
			xmpp_handler_add(s->c, on_message, NULL, "message", NULL, s);
			if (xmpp_connect_client(s->c, "127.0.0.1", (unsigned short)port, on_conn, s) != XMPP_EOK) {
				fprintf(stderr, "deskload: cannot connect %s\n", jid);
				return 1;
			}
		}
		t0 = now_s();
		do {
			xmpp_run_once(ctx, 10);
			for (up = 0, i = 0; i < n; i++)
				up += batch[i].up;
		} while (up < n && now_s() - t0 < 30);
		if (up < n) {
			fprintf(stderr, "deskload: only %d of %d senders logged in\n", up, n);
			return 1;
		}
		answered0 = answered_total;
		if (pid > 0)
			c0 = cpu_us(pid);
		t0 = now_s();
		for (i = 0; i < n; i++) {
			xmpp_stanza_t *m;
			snprintf(body, sizeof body, "My client cannot connect since this morning (request %d)", done + i);
			snprintf(jid, sizeof jid, "dk%d", done + i);
			m = xmpp_message_new(ctx, "chat", desk, jid);
			xmpp_message_set_body(m, body);
			xmpp_send(batch[i].c, m);
			xmpp_stanza_release(m);
		}
		while (answered_total - answered0 < n && now_s() - t0 < 30)
			xmpp_run_once(ctx, 1);
		t1 = now_s();
		if (pid > 0)
			c1 = cpu_us(pid);
		secs += t1 - t0;
		if (c0 >= 0 && c1 >= 0)
			cpu += c1 - c0;
		lost += n - (answered_total - answered0);
		for (i = 0; i < n; i++)
			xmpp_disconnect(batch[i].c);
		for (t0 = now_s(); now_s() - t0 < 2;) {
			for (up = 0, i = 0; i < n; i++)
				up += batch[i].up;
			if (up == 0)
				break;
			xmpp_run_once(ctx, 10);
		}
		for (i = 0; i < n; i++)
			xmpp_conn_release(batch[i].c);
		done += n;
	}
	printf("deskload: %d tickets answered in %.2f s of send-to-answer time: %.0f tickets/s%s (%d unanswered)\n",
	       answered_total, secs, secs > 0 ? answered_total / secs : 0, pid > 0 ? "" : "", lost);
	printf("RESULT tickets=%d secs=%.3f rate=%.0f cpu_us=%.0f lost=%d\n", answered_total, secs,
	       secs > 0 ? answered_total / secs : 0, (pid > 0 && answered_total) ? (double)cpu / answered_total : 0, lost);
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	return lost > 0 ? 1 : 0;
}
