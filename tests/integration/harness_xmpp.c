/* harness_xmpp.c — XMPP clients for integration tests (libstrophe).
 *
 * Each client keeps an inbox: every stanza the server sends it is cloned into
 * a queue, and h_await scans that queue while running the shared event loop.
 * That keeps tests free of callbacks: they ask for "the next stanza like X". */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_MUC       "http://jabber.org/protocol/muc"
#define NS_MUC_USER  "http://jabber.org/protocol/muc#user"
#define NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"
#define NS_COMMANDS  "http://jabber.org/protocol/commands"
#define NS_DATA      "jabber:x:data"
#define NS_REGISTER  "jabber:iq:register"
#define NS_STANZAS   "urn:ietf:params:xml:ns:xmpp-stanzas"
#define INBOX_MAX    4096	/* a runaway server cannot eat the test's memory */

struct h_client {
	xmpp_conn_t *conn;
	char *jid;			/* bound full JID */
	char *domain;
	int state;			/* 0 connecting, 1 connected, -1 closed/failed */
	xmpp_stanza_t *inbox[INBOX_MAX];
	size_t n;
};

static xmpp_ctx_t *ctx;
static unsigned long next_id;

xmpp_ctx_t *h_ctx(void)
{
	if (ctx == NULL) {
		xmpp_initialize();
		/* HARNESS_DEBUG=1 shows libstrophe's own log (the raw XML). */
		ctx = xmpp_ctx_new(NULL, getenv("HARNESS_DEBUG") ?
				   xmpp_get_default_logger(XMPP_LEVEL_DEBUG) : NULL);
		if (ctx == NULL) {
			fprintf(stderr, "harness: xmpp_ctx_new failed\n");
			exit(2);
		}
	}
	return ctx;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_pump(int ms)
{
	long long end = now_ms() + ms;

	do
		xmpp_run_once(h_ctx(), 5);
	while (now_ms() < end);
}

static void new_id(char *buf, size_t size)
{
	snprintf(buf, size, "h%lu", ++next_id);
}

static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *ud)
{
	h_client *c = ud;

	(void)conn;
	if (c->n < INBOX_MAX)
		c->inbox[c->n++] = xmpp_stanza_clone(stanza);
	else
		fprintf(stderr, "harness: inbox of %s full; stanza dropped\n", c->jid);
	return 1;	/* keep the handler */
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
		    xmpp_stream_error_t *se, void *ud)
{
	h_client *c = ud;

	(void)se;
	if (ev == XMPP_CONN_CONNECT) {
		const char *bound = xmpp_conn_get_bound_jid(conn);

		free(c->jid);
		c->jid = strdup(bound ? bound : "");
		c->state = 1;
	} else if (ev == XMPP_CONN_DISCONNECT || ev == XMPP_CONN_FAIL) {
		if (c->state == 0)
			h_note("connection failed (error %d)", error);
		c->state = -1;
	}
}

int h_connected(const h_client *c)
{
	return c != NULL && c->state == 1;
}

const char *h_jid(const h_client *c)
{
	return c->jid;
}

h_client *h_connect(const char *jid, const char *pass, const char *host, int port)
{
	h_client *c = calloc(1, sizeof *c);
	const char *at = strchr(jid, '@');
	long long end;
	xmpp_stanza_t *pres;

	if (c == NULL)
		return NULL;
	c->jid = strdup(jid);
	c->domain = strdup(at ? at + 1 : jid);
	c->conn = xmpp_conn_new(h_ctx());
	if (c->jid == NULL || c->domain == NULL || c->conn == NULL)
		goto fail;
	/* Loopback plaintext: the server is configured to allow it. */
	xmpp_conn_set_flags(c->conn, XMPP_CONN_FLAG_DISABLE_TLS | XMPP_CONN_FLAG_DISABLE_SM);
	xmpp_conn_set_jid(c->conn, jid);
	xmpp_conn_set_pass(c->conn, pass);
	xmpp_handler_add(c->conn, on_stanza, NULL, NULL, NULL, c);
	if (xmpp_connect_client(c->conn, host, (unsigned short)port, on_conn, c) != XMPP_EOK)
		goto fail;
	end = now_ms() + 10000;
	while (c->state == 0 && now_ms() < end)
		xmpp_run_once(h_ctx(), 10);
	if (c->state != 1) {
		h_note("could not log in as %s at %s:%d", jid, host, port);
		goto fail;
	}
	/* Available presence: without it the server holds messages to the bare
	 * JID offline instead of delivering them. */
	pres = xmpp_presence_new(h_ctx());
	if (pres == NULL)
		goto fail;
	xmpp_send(c->conn, pres);
	xmpp_stanza_release(pres);
	return c;
fail:
	if (c->conn)
		xmpp_conn_release(c->conn);
	free(c->jid);
	free(c->domain);
	free(c);
	return NULL;
}

h_client *h_login(const char *jid, const char *pass)
{
	return h_connect(jid, pass, "127.0.0.1", atoi(h_env("ENV_C2S_PORT")));
}

void h_inbox_clear(h_client *c)
{
	while (c->n > 0)
		xmpp_stanza_release(c->inbox[--c->n]);
}

void h_disconnect(h_client *c)
{
	long long end;

	if (c == NULL)
		return;
	if (c->state == 1) {
		xmpp_disconnect(c->conn);
		end = now_ms() + 3000;
		while (c->state == 1 && now_ms() < end)
			xmpp_run_once(h_ctx(), 10);
	}
	h_inbox_clear(c);
	xmpp_conn_release(c->conn);
	free(c->jid);
	free(c->domain);
	free(c);
}

int h_send(h_client *c, xmpp_stanza_t *stanza)
{
	if (!h_connected(c))
		return -1;
	xmpp_send(c->conn, stanza);
	return 0;
}

int h_send_message(h_client *c, const char *to, const char *type,
		   const char *id, const char *body)
{
	xmpp_stanza_t *m = xmpp_message_new(h_ctx(), type, to, id);
	int rc;

	if (m == NULL || xmpp_message_set_body(m, body) != XMPP_EOK) {
		if (m)
			xmpp_stanza_release(m);
		return -1;
	}
	rc = h_send(c, m);
	xmpp_stanza_release(m);
	return rc;
}

xmpp_stanza_t *h_await(h_client *c, h_pred pred, const void *arg, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	size_t scanned = 0, i;
	xmpp_stanza_t *s;

	for (;;) {
		for (i = scanned; i < c->n; i++) {
			if (pred(c->inbox[i], arg)) {
				s = c->inbox[i];
				memmove(&c->inbox[i], &c->inbox[i + 1],
					(c->n - i - 1) * sizeof c->inbox[0]);
				c->n--;
				return s;
			}
		}
		scanned = c->n;
		if (now_ms() >= end || c->state == -1)
			return NULL;
		xmpp_run_once(h_ctx(), 10);
	}
}

/* The text of a message's <body>, or NULL (caller frees with xmpp_free). */
static char *body_of(xmpp_stanza_t *s)
{
	const char *name = xmpp_stanza_get_name(s);

	if (name == NULL || strcmp(name, "message") != 0)
		return NULL;
	return xmpp_message_get_body(s);
}

int h_pred_body(xmpp_stanza_t *s, const void *arg)
{
	char *b = body_of(s);
	int ok = b != NULL && strcmp(b, arg) == 0;

	if (b)
		xmpp_free(h_ctx(), b);
	return ok;
}

int h_pred_body_prefix(xmpp_stanza_t *s, const void *arg)
{
	char *b = body_of(s);
	int ok = b != NULL && strncmp(b, arg, strlen(arg)) == 0;

	if (b)
		xmpp_free(h_ctx(), b);
	return ok;
}

int h_pred_id(xmpp_stanza_t *s, const void *arg)
{
	const char *id = xmpp_stanza_get_id(s);

	return id != NULL && strcmp(id, arg) == 0;
}

/* An IQ answer to the request with this id. */
static int pred_iq_reply(xmpp_stanza_t *s, const void *arg)
{
	const char *name = xmpp_stanza_get_name(s), *type = xmpp_stanza_get_type(s);

	return name && strcmp(name, "iq") == 0 && type &&
	       (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) &&
	       h_pred_id(s, arg);
}

xmpp_stanza_t *h_iq(h_client *c, xmpp_stanza_t *iq, int timeout_ms)
{
	char id[32];
	const char *have = xmpp_stanza_get_id(iq);

	if (have == NULL) {
		new_id(id, sizeof id);
		if (xmpp_stanza_set_id(iq, id) != XMPP_EOK)
			return NULL;
	} else {
		snprintf(id, sizeof id, "%s", have);
	}
	if (h_send(c, iq) != 0)
		return NULL;
	return h_await(c, pred_iq_reply, id, timeout_ms);
}

/* Builds <name xmlns=ns/> inside parent; returns the borrowed child. */
static xmpp_stanza_t *add_child(xmpp_stanza_t *parent, const char *name, const char *ns)
{
	xmpp_stanza_t *ch = xmpp_stanza_new(h_ctx());

	if (ch == NULL)
		return NULL;
	xmpp_stanza_set_name(ch, name);
	if (ns)
		xmpp_stanza_set_ns(ch, ns);
	if (xmpp_stanza_add_child_ex(parent, ch, 0) != XMPP_EOK) {
		xmpp_stanza_release(ch);
		return NULL;
	}
	return ch;
}

static int add_text_child(xmpp_stanza_t *parent, const char *name, const char *text)
{
	xmpp_stanza_t *ch = add_child(parent, name, NULL), *t;

	if (ch == NULL || (t = xmpp_stanza_new(h_ctx())) == NULL)
		return -1;
	if (xmpp_stanza_set_text(t, text) != XMPP_EOK ||
	    xmpp_stanza_add_child_ex(ch, t, 0) != XMPP_EOK) {
		xmpp_stanza_release(t);
		return -1;
	}
	return 0;
}

static int is_result(xmpp_stanza_t *s)
{
	const char *t = s ? xmpp_stanza_get_type(s) : NULL;

	return t && strcmp(t, "result") == 0;
}

static int has_status(xmpp_stanza_t *pres, const char *code)
{
	xmpp_stanza_t *x = xmpp_stanza_get_child_by_name_and_ns(pres, "x", NS_MUC_USER), *st;

	for (st = x ? xmpp_stanza_get_children(x) : NULL; st; st = xmpp_stanza_get_next(st)) {
		const char *v = xmpp_stanza_get_attribute(st, "code");

		if (v && strcmp(v, code) == 0)
			return 1;
	}
	return 0;
}

struct muc_self { const char *from; };

/* Our own presence in the room: from room/nick, either an error or carrying
 * status 110 (XEP-0045 7.2.3). */
static int pred_muc_self(xmpp_stanza_t *s, const void *arg)
{
	const struct muc_self *m = arg;
	const char *name = xmpp_stanza_get_name(s), *from = xmpp_stanza_get_from(s);
	const char *type = xmpp_stanza_get_type(s);

	if (!name || strcmp(name, "presence") != 0 || !from || strcmp(from, m->from) != 0)
		return 0;
	return (type && strcmp(type, "error") == 0) || has_status(s, "110");
}

int h_join_room(h_client *c, const char *room_jid, const char *nick)
{
	char full[512];
	struct muc_self m = { full };
	xmpp_stanza_t *p, *self, *iq, *q, *x, *res;
	int rc = -1;

	if ((size_t)snprintf(full, sizeof full, "%s/%s", room_jid, nick) >= sizeof full)
		return -1;
	p = xmpp_presence_new(h_ctx());
	if (p == NULL)
		return -1;
	xmpp_stanza_set_to(p, full);
	if (add_child(p, "x", NS_MUC) == NULL || h_send(c, p) != 0) {
		xmpp_stanza_release(p);
		return -1;
	}
	xmpp_stanza_release(p);
	self = h_await(c, pred_muc_self, &m, 5000);
	if (self == NULL) {
		h_note("%s: no self-presence from %s", c->jid, full);
		return -1;
	}
	if (xmpp_stanza_get_type(self) && strcmp(xmpp_stanza_get_type(self), "error") == 0) {
		h_note("%s: joining %s refused", c->jid, full);
		goto out;
	}
	rc = 0;
	if (!has_status(self, "201"))
		goto out;
	/* A new room stays locked until its owner accepts a configuration:
	 * submit an empty form = "instant room" with the defaults. */
	rc = -1;
	iq = xmpp_iq_new(h_ctx(), "set", NULL);
	if (iq == NULL)
		goto out;
	xmpp_stanza_set_to(iq, room_jid);
	q = add_child(iq, "query", NS_MUC_OWNER);
	x = q ? add_child(q, "x", NS_DATA) : NULL;
	if (x != NULL) {
		xmpp_stanza_set_type(x, "submit");
		res = h_iq(c, iq, 5000);
		rc = is_result(res) ? 0 : -1;
		if (rc != 0)
			h_note("%s: configuring new room %s failed", c->jid, room_jid);
		if (res)
			xmpp_stanza_release(res);
	}
	xmpp_stanza_release(iq);
out:
	xmpp_stanza_release(self);
	return rc;
}

/* All <value> texts of the field var=name in form x, joined by newlines;
 * NULL when the field is absent.  Caller frees. */
static char *field_text(xmpp_stanza_t *x, const char *name)
{
	xmpp_stanza_t *f, *v;
	char *out = NULL, *t, *n;
	size_t len = 0, tl;

	for (f = xmpp_stanza_get_children(x); f; f = xmpp_stanza_get_next(f)) {
		const char *var = xmpp_stanza_get_attribute(f, "var");

		if (!xmpp_stanza_get_name(f) || strcmp(xmpp_stanza_get_name(f), "field") != 0 ||
		    !var || strcmp(var, name) != 0)
			continue;
		out = strdup("");
		for (v = xmpp_stanza_get_children(f); v && out; v = xmpp_stanza_get_next(v)) {
			if (!xmpp_stanza_get_name(v) || strcmp(xmpp_stanza_get_name(v), "value") != 0)
				continue;
			t = xmpp_stanza_get_text(v);
			tl = t ? strlen(t) : 0;
			n = realloc(out, len + tl + 2);
			if (n == NULL) {
				free(out);
				out = NULL;
			} else {
				out = n;
				if (len > 0)
					out[len++] = '\n';
				memcpy(out + len, t ? t : "", tl);
				len += tl;
				out[len] = '\0';
			}
			if (t)
				xmpp_free(h_ctx(), t);
		}
		break;
	}
	return out;
}

/* "condition: text" of an IQ error (caller frees). */
static char *iq_error(xmpp_stanza_t *iq)
{
	xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(iq, "error"), *ch;
	const char *cond = "unknown";
	char *text = NULL, *out = NULL;

	for (ch = e ? xmpp_stanza_get_children(e) : NULL; ch; ch = xmpp_stanza_get_next(ch)) {
		const char *nm = xmpp_stanza_get_name(ch), *ns = xmpp_stanza_get_ns(ch);

		if (!nm || !ns || strcmp(ns, NS_STANZAS) != 0)
			continue;
		if (strcmp(nm, "text") == 0)
			text = xmpp_stanza_get_text(ch);
		else
			cond = nm;
	}
	if (asprintf(&out, "%s%s%s", cond, text ? ": " : "", text ? text : "") < 0)
		out = NULL;
	if (text)
		xmpp_free(h_ctx(), text);
	return out;
}

/* Fills r from a <command/> reply; 0 when completed with a result form. */
static int command_outcome(xmpp_stanza_t *cmd, h_adhoc_result *r)
{
	xmpp_stanza_t *note = xmpp_stanza_get_child_by_name(cmd, "note");
	xmpp_stanza_t *x = xmpp_stanza_get_child_by_name_and_ns(cmd, "x", NS_DATA);
	const char *ntype = note ? xmpp_stanza_get_type(note) : NULL;

	if (note && ntype && strcmp(ntype, "error") == 0) {
		char *t = xmpp_stanza_get_text(note);

		r->error = strdup(t ? t : "error");
		if (t)
			xmpp_free(h_ctx(), t);
		return -1;
	}
	if (x == NULL) {
		r->error = strdup("completed without a result form");
		return -1;
	}
	r->text = field_text(x, "result");
	r->json = field_text(x, "json");
	r->form = xmpp_stanza_clone(x);
	return 0;
}

int h_adhoc(h_client *c, const char *op, const char *const *kv, h_adhoc_result *r)
{
	char node[256];

	if ((size_t)snprintf(node, sizeof node, "imhost/%s", op) >= sizeof node) {
		memset(r, 0, sizeof *r);
		r->error = strdup("op name too long");
		return -1;
	}
	return h_adhoc_node(c, node, kv, r);
}

char *h_adhoc_field(const h_adhoc_result *r, const char *name)
{
	return r->form ? field_text(r->form, name) : NULL;
}

int h_adhoc_node(h_client *c, const char *node, const char *const *kv, h_adhoc_result *r)
{
	xmpp_stanza_t *iq, *cmd, *res = NULL, *rcmd, *form, *f, *x;
	const char *status, *sid;
	int rc = -1;

	memset(r, 0, sizeof *r);
	/* step 1: execute → a form and a session id */
	iq = xmpp_iq_new(h_ctx(), "set", NULL);
	if (iq == NULL)
		return -1;
	xmpp_stanza_set_to(iq, c->domain);
	cmd = add_child(iq, "command", NS_COMMANDS);
	if (cmd == NULL)
		goto out;
	xmpp_stanza_set_attribute(cmd, "node", node);
	xmpp_stanza_set_attribute(cmd, "action", "execute");
	res = h_iq(c, iq, 10000);
	xmpp_stanza_release(iq);
	iq = NULL;
	if (res == NULL) {
		r->error = strdup("timeout");
		goto out;
	}
	if (!is_result(res)) {
		r->error = iq_error(res);
		goto out;
	}
	rcmd = xmpp_stanza_get_child_by_name_and_ns(res, "command", NS_COMMANDS);
	status = rcmd ? xmpp_stanza_get_attribute(rcmd, "status") : NULL;
	if (status && strcmp(status, "completed") == 0) {	/* no input needed */
		rc = command_outcome(rcmd, r);
		goto out;
	}
	sid = rcmd ? xmpp_stanza_get_attribute(rcmd, "sessionid") : NULL;
	form = rcmd ? xmpp_stanza_get_child_by_name_and_ns(rcmd, "x", NS_DATA) : NULL;
	if (sid == NULL || form == NULL) {
		r->error = strdup("execute returned no form/sessionid");
		goto out;
	}
	/* step 2: submit the form: hidden fields echoed (FORM_TYPE), then kv */
	iq = xmpp_iq_new(h_ctx(), "set", NULL);
	if (iq == NULL)
		goto out;
	xmpp_stanza_set_to(iq, c->domain);
	cmd = add_child(iq, "command", NS_COMMANDS);
	x = cmd ? add_child(cmd, "x", NS_DATA) : NULL;
	if (x == NULL)
		goto out;
	xmpp_stanza_set_attribute(cmd, "node", node);
	xmpp_stanza_set_attribute(cmd, "sessionid", sid);
	xmpp_stanza_set_attribute(cmd, "action", "complete");
	xmpp_stanza_set_type(x, "submit");
	for (f = xmpp_stanza_get_children(form); f; f = xmpp_stanza_get_next(f)) {
		const char *ft = xmpp_stanza_get_type(f), *var = xmpp_stanza_get_attribute(f, "var");
		char *val;
		xmpp_stanza_t *nf;

		if (!ft || strcmp(ft, "hidden") != 0 || !var)
			continue;
		val = field_text(form, var);
		nf = add_child(x, "field", NULL);
		if (nf == NULL || val == NULL) {
			free(val);
			goto out;
		}
		xmpp_stanza_set_attribute(nf, "var", var);
		add_text_child(nf, "value", val);
		free(val);
	}
	for (; kv && kv[0] && kv[1]; kv += 2) {
		xmpp_stanza_t *nf = add_child(x, "field", NULL);

		if (nf == NULL || add_text_child(nf, "value", kv[1]) != 0)
			goto out;
		xmpp_stanza_set_attribute(nf, "var", kv[0]);
	}
	xmpp_stanza_release(res);
	res = h_iq(c, iq, 20000);
	if (res == NULL) {
		r->error = strdup("timeout");
		goto out;
	}
	if (!is_result(res)) {
		r->error = iq_error(res);
		goto out;
	}
	rcmd = xmpp_stanza_get_child_by_name_and_ns(res, "command", NS_COMMANDS);
	status = rcmd ? xmpp_stanza_get_attribute(rcmd, "status") : NULL;
	if (rcmd == NULL)
		r->error = strdup("no <command/> in the reply");
	else if (status == NULL || strcmp(status, "completed") != 0)
		r->error = strdup(status ? status : "no status");
	else
		rc = command_outcome(rcmd, r);
out:
	if (iq)
		xmpp_stanza_release(iq);
	if (res)
		xmpp_stanza_release(res);
	return rc;
}

void h_adhoc_clear(h_adhoc_result *r)
{
	free(r->text);
	free(r->json);
	free(r->error);
	if (r->form)
		xmpp_stanza_release(r->form);
	memset(r, 0, sizeof *r);
}

int h_unregister(h_client *c)
{
	xmpp_stanza_t *iq = xmpp_iq_new(h_ctx(), "set", NULL), *q, *res = NULL;
	int rc = -1;

	if (iq == NULL)
		return -1;
	q = add_child(iq, "query", NS_REGISTER);
	if (q != NULL && add_child(q, "remove", NULL) != NULL) {
		res = h_iq(c, iq, 5000);
		rc = is_result(res) ? 0 : -1;
	}
	if (res)
		xmpp_stanza_release(res);
	xmpp_stanza_release(iq);
	return rc;
}
