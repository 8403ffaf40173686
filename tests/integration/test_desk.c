/* test_desk.c — the support desk over XMPP (issue 6), end to end through a real
 * Prosody with mod_imhost and the desk component support.a.test (environment:
 * test_desk.env).
 *
 * The story: cora writes to the desk and gets a ticket number, the first
 * response deadline (Monday, across a weekend and a DST change: the clock is
 * injected) and an article from a help site sitegen built for this test.  Both
 * technicians are notified; tina claims, replies in the notification's thread
 * (a resend of that stanza is stored once) and adds an internal note: cora
 * gets the reply and never the note.  dave can neither see nor reply to it.
 * Transitions outside the table are refused; search by keyword and date range;
 * a duplicate is merged and both threads stay; a closed ticket reopens within
 * reopen_days and is refused after.  Bad input: empty, 1 MB, markup and
 * control characters, unknown numbers; a flood of 1,000 messages from fiona is
 * rate-limited with one clear answer while cora's chat to dave still routes.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PW "pw-secret"
#define DESK "support.a.test"
#define T0 1774623600L   /* Fri 2026-03-27 15:00 UTC = 16:00 CET */
#define WAIT 5000

static const char *cfg;

/* ---- small helpers ---------------------------------------------------------- */

static char *body_of(xmpp_stanza_t *s)
{
	char *b = s ? xmpp_message_get_body(s) : NULL;
	char *copy = b ? strdup(b) : NULL;

	if (b)
		xmpp_free(h_ctx(), b);
	return copy;
}

static int pred_contains(xmpp_stanza_t *s, const void *needle)
{
	char *b = body_of(s);
	int ok = b && strstr(b, needle) != NULL;

	free(b);
	return ok;
}

/* Waits for a message whose body contains needle; returns the body (caller
 * frees) or NULL. */
static char *await_text(h_client *c, const char *needle, int ms)
{
	xmpp_stanza_t *s = h_await(c, pred_contains, needle, ms);
	char *b = body_of(s);

	if (s)
		xmpp_stanza_release(s);
	return b;
}

static int count_contains(h_client *c, const char *needle, int ms)
{
	char *b;
	int n = 0;

	while ((b = await_text(c, needle, ms)) != NULL) {
		n++;
		free(b);
		ms = 300;
	}
	return n;
}

/* A chat message with an optional XEP-0201 thread. */
static int send_thread(h_client *c, const char *to, const char *id, const char *body, const char *thread)
{
	xmpp_stanza_t *m = xmpp_message_new(h_ctx(), "chat", to, id), *t, *txt;
	int rc;

	xmpp_message_set_body(m, body);
	if (thread) {
		t = xmpp_stanza_new(h_ctx());
		txt = xmpp_stanza_new(h_ctx());
		xmpp_stanza_set_name(t, "thread");
		xmpp_stanza_set_text(txt, thread);
		xmpp_stanza_add_child(t, txt);
		xmpp_stanza_add_child(m, t);
		xmpp_stanza_release(txt);
		xmpp_stanza_release(t);
	}
	rc = h_send(c, m);
	xmpp_stanza_release(m);
	return rc;
}

static long ticket_in(const char *text)
{
	const char *p = text ? strchr(text, '#') : NULL;

	return p ? strtol(p + 1, NULL, 10) : -1;
}

/* The thread element's text of a stanza, or "" (static buffer). */
static const char *thread_of(xmpp_stanza_t *s)
{
	static char buf[128];
	xmpp_stanza_t *t = s ? xmpp_stanza_get_child_by_name(s, "thread") : NULL;
	char *txt = t ? xmpp_stanza_get_text(t) : NULL;

	snprintf(buf, sizeof buf, "%s", txt ? txt : "");
	if (txt)
		xmpp_free(h_ctx(), txt);
	return buf;
}

/* Runs an ad-hoc desk op as c; the parsed JSON result (caller decrefs) or NULL,
 * *err the refusal (caller frees) when err != NULL. */
static json_t *adhoc(h_client *c, const char *op, const char *const *kv, char **err)
{
	h_adhoc_result r;
	json_t *j = NULL;

	memset(&r, 0, sizeof r);
	if (h_adhoc(c, op, kv, &r) == 0)
		j = h_json(r.json);
	if (err)
		*err = r.error ? strdup(r.error) : NULL;
	h_adhoc_clear(&r);
	return j;
}

/* Public replies / all posts in a view whose body contains needle. */
static int posts_with(json_t *view, const char *needle)
{
	json_t *thread = json_object_get(view, "thread"), *p;
	size_t i;
	int n = 0;

	json_array_foreach(thread, i, p) {
		const char *b = json_string_value(json_object_get(p, "body"));
		if (b && strstr(b, needle))
			n++;
	}
	return n;
}

static int list_has(json_t *j, long tk)
{
	json_t *arr = json_object_get(j, "tickets"), *t;
	size_t i;

	json_array_foreach(arr, i, t)
		if (json_integer_value(json_object_get(t, "number")) == tk)
			return 1;
	return 0;
}

/* ---- the story ---------------------------------------------------------------- */

int main(void)
{
	h_client *cora, *dave, *tina, *theo, *fiona, *gus;
	xmpp_stanza_t *s;
	char *t, *err, buf[256], key[32];
	json_t *j;
	long n, m, d, gus_ticket = -1;

	cfg = h_env("ENV_CFG");
	cora = h_login("cora@a.test", PW);
	dave = h_login("dave@a.test", PW);
	tina = h_login("tina@a.test", PW);
	theo = h_login("theo@a.test", PW);
	fiona = h_login("fiona@a.test", PW);
	gus = h_login("gus@a.test", PW);
	if (!CHECK(cora && dave && tina && theo && fiona && gus, "six clients log in"))
		return h_finish();

	/* 1. A message opens a ticket: number, deadline, suggestion. */
	h_send_message(cora, DESK, "chat", "c1", "I forgot my password, how do I get a reset link?");
	s = h_await(cora, h_pred_body_prefix, "Thank you. Your request is ticket #", WAIT);
	t = body_of(s);
	n = ticket_in(t);
	CHECK(t && n > 0, "cora's message opens ticket #%ld and the desk answers with its number", n);
	CHECK(s && strncmp(xmpp_stanza_get_from(s), DESK, strlen(DESK)) == 0, "the answer comes from the desk's address");
	CHECK(t && strstr(t, "2026-03-30 16:00 (Europe/Berlin)"),
	      "first response due Monday 16:00 CEST: 1 h on Friday, 7 h after the weekend and the DST change");
	CHECK(t && strstr(t, "Resetting your chat password") && strstr(t, "https://help.a.test"),
	      "the answer suggests the sitegen-built article on password resets");
	CHECK(t && strstr(t, "reply \"solved\""), "the answer says how to close it when an article helped");
	free(t);
	if (s)
		xmpp_stanza_release(s);
	snprintf(buf, sizeof buf, "New ticket #%ld from cora@a.test", n);
	s = h_await(tina, pred_contains, buf, WAIT);
	snprintf(key, sizeof key, "imhost-desk-%ld", n);
	CHECK(s != NULL && strcmp(thread_of(s), key) == 0, "tina is notified of the new ticket, thread %s", key);
	if (s)
		xmpp_stanza_release(s);
	t = await_text(theo, buf, WAIT);
	CHECK(t != NULL, "theo (the other technician) is notified too");
	free(t);
	CHECK(await_text(cora, "New ticket", 800) == NULL, "the customer gets no staff notification");

	/* 2. A second message threads into the open ticket. */
	h_send_message(cora, DESK, "chat", "c2", "The old link says expired.");
	snprintf(buf, sizeof buf, "Added to your open ticket #%ld", n);
	t = await_text(cora, buf, WAIT);
	CHECK(t != NULL, "a second message joins ticket #%ld", n);
	free(t);
	h_inbox_clear(tina);
	h_inbox_clear(theo);

	/* 3. Claim, reply in the thread, resend, note. */
	snprintf(buf, sizeof buf, "!claim #%ld", n);
	h_send_message(tina, DESK, "chat", "t0", buf);
	snprintf(buf, sizeof buf, "Ticket #%ld: claim done", n);
	t = await_text(tina, buf, WAIT);
	CHECK(t != NULL, "tina claims the ticket from chat");
	free(t);
	send_thread(tina, DESK, "t1", "Please request a fresh reset link: links last one hour.", key);
	t = await_text(cora, "links last one hour", WAIT);
	CHECK(t && strstr(t, "reply from support"), "tina's reply in the notification's thread reaches cora from the desk");
	free(t);
	t = await_text(tina, "reply done", WAIT);
	CHECK(t != NULL, "tina is told the reply was stored");
	free(t);
	{
		int st, tries;
		char *mail = NULL;
		for (tries = 0; tries < 20; tries++) {   /* the mailer runs in the background */
			free(mail);
			mail = h_run(&st, NULL, "cat '%s' 2>/dev/null", h_env("DESK_MAIL"));
			if (mail && strstr(mail, "links last one hour"))
				break;
			h_pump(100);
		}
		CHECK(mail && strstr(mail, "To: billing@acme.example") && strstr(mail, "links last one hour"),
		      "the reply is also mailed to the customer's address on file");
		CHECK(mail && !strstr(mail, "New ticket"), "staff notifications are never mailed");
		free(mail);
	}
	send_thread(tina, DESK, "t1", "Please request a fresh reset link: links last one hour.", key);
	t = await_text(tina, "already stored", WAIT);
	CHECK(t != NULL, "the resent stanza (same id) is recognised");
	free(t);
	CHECK(await_text(cora, "links last one hour", 1000) == NULL, "cora does not get the resent reply twice");
	snprintf(buf, sizeof buf, "!note #%ld SECRET-NOTE customer seems to use an old client", n);
	h_send_message(tina, DESK, "chat", "t2", buf);
	t = await_text(tina, "note done", WAIT);
	CHECK(t != NULL, "tina adds an internal note");
	free(t);
	CHECK(await_text(cora, "SECRET-NOTE", 1500) == NULL, "the note never reaches cora");
	CHECK(await_text(theo, "SECRET-NOTE", 300) == NULL, "nor theo: the ticket is tina's now");
	{
		int st;
		char *mail = h_run(&st, NULL, "cat '%s' 2>/dev/null", h_env("DESK_MAIL"));
		CHECK(mail && !strstr(mail, "SECRET-NOTE"), "nor the customer's e-mail");
		free(mail);
	}

	snprintf(buf, sizeof buf, "%ld", n);
	j = adhoc(cora, "desk.view", (const char *const[]){ "ticket", buf, NULL }, NULL);
	CHECK(j && posts_with(j, "links last one hour") == 1, "cora's \"View ticket\" has the reply exactly once");
	CHECK(j && posts_with(j, "SECRET-NOTE") == 0, "and no note");
	json_decref(j);
	j = adhoc(tina, "desk.view", (const char *const[]){ "ticket", buf, NULL }, NULL);
	CHECK(j && posts_with(j, "SECRET-NOTE") == 1 && posts_with(j, "links last one hour") == 1,
	      "tina's view has the note and one reply");
	CHECK(j && json_is_null(json_object_get(j, "due_first")) &&
	      json_integer_value(json_object_get(j, "first_response")) == T0,
	      "first response recorded at tina's reply (its due time is then cleared)");
	CHECK(j && json_integer_value(json_object_get(j, "due_resolve")) == 1775224800L,
	      "resolution due (40 business hours) Fri 2026-04-03 16:00 CEST = 14:00 UTC (got %" JSON_INTEGER_FORMAT ")",
	      j ? json_integer_value(json_object_get(j, "due_resolve")) : 0);
	json_decref(j);

	/* 4. The other customer can neither see nor reply. */
	j = adhoc(dave, "desk.view", (const char *const[]){ "ticket", buf, NULL }, &err);
	CHECK(j == NULL && err != NULL, "dave cannot view cora's ticket (%s)", err ? err : "-");
	json_decref(j);
	free(err);
	j = adhoc(dave, "desk.reply", (const char *const[]){ "ticket", buf, "message", "let me in", NULL }, &err);
	CHECK(j == NULL && err != NULL, "dave cannot reply to it by ad-hoc");
	json_decref(j);
	free(err);
	snprintf(buf, sizeof buf, "#%ld let me in", n);
	h_send_message(dave, DESK, "chat", "d1", buf);
	snprintf(buf, sizeof buf, "There is no ticket #%ld of yours", n);
	t = await_text(dave, buf, WAIT);
	CHECK(t != NULL, "nor by chat: the same answer as for an unknown number");
	free(t);
	CHECK(await_text(cora, "let me in", 800) == NULL, "nothing of dave's reaches cora");

	/* 5. Transitions outside the table are refused. */
	snprintf(buf, sizeof buf, "!status #%ld new", n);
	h_send_message(tina, DESK, "chat", "t3", buf);
	t = await_text(tina, "Refused", WAIT);
	CHECK(t && strstr(t, "not allowed"), "open -> new is refused (%s)", t ? t : "-");
	free(t);

	/* 6. Search by keyword and date range (days in the caller's zone). */
	j = adhoc(tina, "desk.search", (const char *const[]){ "keyword", "password", "from", "2026-03-27", "to", "2026-03-27", NULL }, NULL);
	CHECK(j && list_has(j, n), "staff search: keyword \"password\" on 2026-03-27 finds #%ld", n);
	json_decref(j);
	j = adhoc(tina, "desk.search", (const char *const[]){ "keyword", "password", "from", "2026-03-28", NULL }, NULL);
	CHECK(j && !list_has(j, n), "from 2026-03-28 it does not");
	json_decref(j);
	j = adhoc(tina, "desk.search", (const char *const[]){ "keyword", "unrelatedword", NULL }, NULL);
	CHECK(j && !list_has(j, n), "another keyword does not");
	json_decref(j);
	j = adhoc(cora, "desk.mine", (const char *const[]){ "keyword", "expired", NULL }, NULL);
	CHECK(j && list_has(j, n), "cora's \"My tickets\" finds it by a word of her second message");
	json_decref(j);
	j = adhoc(cora, "desk.mine", (const char *const[]){ "keyword", "SECRET-NOTE", NULL }, NULL);
	CHECK(j && !list_has(j, n), "a word only in the internal note finds nothing for cora");
	json_decref(j);
	j = adhoc(tina, "desk.search", (const char *const[]){ "keyword", "SECRET-NOTE", NULL }, NULL);
	CHECK(j && list_has(j, n), "it does for staff");
	json_decref(j);
	j = adhoc(dave, "desk.mine", (const char *const[]){ "keyword", "password", NULL }, NULL);
	CHECK(j && !list_has(j, n), "dave's \"My tickets\" does not list it");
	json_decref(j);

	/* 7. Merge keeps both threads. */
	j = adhoc(cora, "desk.open", (const char *const[]){ "subject", "Reset link again", "message", "DUPLICATE-BODY reset link",
	                                                    "category", "account", NULL }, NULL);
	m = j ? (long)json_integer_value(json_object_get(j, "ticket")) : -1;
	CHECK(m > n, "cora opens a second ticket #%ld with \"Open a ticket\"", m);
	json_decref(j);
	snprintf(buf, sizeof buf, "!merge #%ld #%ld", m, n);
	h_send_message(tina, DESK, "chat", "t4", buf);
	snprintf(buf, sizeof buf, "Ticket #%ld: merge done", n);
	t = await_text(tina, buf, WAIT);
	CHECK(t != NULL, "tina merges #%ld into #%ld from chat", m, n);
	free(t);
	snprintf(buf, sizeof buf, "Ticket #%ld was merged into ticket #%ld", m, n);
	t = await_text(cora, buf, WAIT);
	CHECK(t != NULL, "cora is told #%ld was merged into #%ld", m, n);
	free(t);
	snprintf(buf, sizeof buf, "%ld", n);
	j = adhoc(tina, "desk.view", (const char *const[]){ "ticket", buf, NULL }, NULL);
	CHECK(j && posts_with(j, "DUPLICATE-BODY") == 1 && posts_with(j, "reset link") >= 2,
	      "#%ld's thread holds both tickets' posts", n);
	json_decref(j);

	/* 8. Closed tickets: reopen within reopen_days, refused after. */
	snprintf(buf, sizeof buf, "!status #%ld closed", n);
	h_send_message(tina, DESK, "chat", "t5", buf);
	snprintf(buf, sizeof buf, "is now closed");
	t = await_text(cora, buf, WAIT);
	CHECK(t != NULL, "cora is told the ticket is closed");
	free(t);
	CHECK(h_shell(cfg, NULL, "test_set_clock %ld", T0 + 3 * 86400L) == 0, "the clock moves 3 days on");
	snprintf(buf, sizeof buf, "#%ld it broke again", n);
	h_send_message(cora, DESK, "chat", "c3", buf);
	snprintf(buf, sizeof buf, "Added to ticket #%ld", n);
	t = await_text(cora, buf, WAIT);
	CHECK(t != NULL, "a reply 3 days after closing reopens the ticket");
	free(t);
	snprintf(buf, sizeof buf, "!status #%ld closed", n);
	h_send_message(tina, DESK, "chat", "t6", buf);
	t = await_text(cora, "is now closed", WAIT);
	free(t);
	CHECK(h_shell(cfg, NULL, "test_set_clock %ld", T0 + 11 * 86400L) == 0, "the clock moves 8 more days on");
	snprintf(buf, sizeof buf, "#%ld and again", n);
	h_send_message(cora, DESK, "chat", "c4", buf);
	t = await_text(cora, "cannot be reopened", WAIT);
	CHECK(t != NULL, "8 days after closing the reply is refused: open a new ticket");
	free(t);

	/* 9. Bad input. */
	h_send_message(dave, DESK, "chat", "d2", " \t ");
	t = await_text(dave, "Your message was empty", WAIT);
	CHECK(t != NULL, "an empty message is refused with an explanation");
	free(t);
	h_send_message(dave, DESK, "chat", "d3", "#999999 hello");
	t = await_text(dave, "There is no ticket #999999 of yours", WAIT);
	CHECK(t != NULL, "an unknown ticket number is refused");
	free(t);
	/* XML cannot carry control characters (the server closes such a stream),
	 * so they reach desk.incoming through the CLI, as a gateway would pass them. */
	h_send_message(dave, DESK, "chat", "d4", "<b>DNS</b> broken <script>x</script>");
	t = await_text(dave, "Thank you. Your request is ticket #", WAIT);
	d = ticket_in(t);
	CHECK(d > 0 && strstr(t, "DNS records for your domain"), "markup: ticket #%ld opened, DNS article suggested", d);
	free(t);
	{
		int st;
		json_t *r = h_cli(cfg, &st, "desk.incoming from=dave@a.test stanza_id=d4b body=\"$(printf 'ctl\\001\\007 chars\\033[31m')\"");
		const char *reply = json_string_value(h_find_key(r, "reply"));
		CHECK(st == 0 && reply && strstr(reply, "Added to your open ticket"), "control characters: the message joins dave's ticket");
		json_decref(r);
	}
	snprintf(buf, sizeof buf, "%ld", d);
	j = adhoc(dave, "desk.view", (const char *const[]){ "ticket", buf, NULL }, NULL);
	CHECK(j && posts_with(j, "<b>DNS</b> broken <script>x</script>") == 1, "markup kept as text");
	CHECK(j && posts_with(j, "ctl chars[31m") == 1, "control characters dropped");
	json_decref(j);
	{
		size_t big = 1024 * 1024;
		char *huge = malloc(big + 1);
		if (huge) {
			memset(huge, 'a', big);
			memcpy(huge, "Huge ", 5);
			huge[big] = '\0';
			h_send_message(gus, DESK, "chat", "g1", huge);
			free(huge);
		}
		t = await_text(gus, "longer than the desk keeps and was cut", 15000);
		gus_ticket = t ? ticket_in(t) : -1;
		CHECK(t != NULL && gus_ticket > 0, "a 1 MB message opens a ticket, cut, and says so");
		free(t);
	}

	/* 10. A flood from fiona; routing between others continues. */
	{
		int i, limited, routed;
		char id[16], msg[64];
		for (i = 0; i < 1000; i++) {
			snprintf(id, sizeof id, "f%d", i);
			snprintf(msg, sizeof msg, "flood message %d", i);
			h_send_message(fiona, DESK, "chat", id, msg);
		}
		h_send_message(cora, "dave@a.test", "chat", "route1", "still there?");
		t = await_text(dave, "still there?", 10000);
		routed = t != NULL;
		free(t);
		CHECK(routed, "cora's chat to dave is routed during the flood");
		h_pump(3000);
		limited = count_contains(fiona, "faster than the support desk accepts", 5000);
		CHECK(limited == 1, "fiona gets one clear rate-limit answer (got %d)", limited);
		j = adhoc(fiona, "desk.mine", NULL, NULL);
		CHECK(j && json_array_size(json_object_get(j, "tickets")) == 1, "the flood opened one ticket");
		if (j && json_array_size(json_object_get(j, "tickets")) == 1) {
			json_t *v;
			snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
			         json_integer_value(json_object_get(json_array_get(json_object_get(j, "tickets"), 0), "number")));
			v = adhoc(fiona, "desk.view", (const char *const[]){ "ticket", buf, NULL }, NULL);
			CHECK(v && json_array_size(json_object_get(v, "thread")) == 100,
			      "exactly rate_per_min (100) messages were stored (got %zu)",
			      v ? json_array_size(json_object_get(v, "thread")) : 0);
			json_decref(v);
		}
		json_decref(j);
		h_send_message(dave, DESK, "chat", "d5", "#" "1" " ping");
		t = await_text(dave, "ticket #1", WAIT);
		CHECK(t != NULL, "the desk still answers others after the flood");
		free(t);
	}

	/* 11. Erasure: gus deletes his account; his ticket stays without him. */
	{
		int i, gone = 0;
		CHECK(h_unregister(gus) == 0, "gus deletes his account in-band");
		h_disconnect(gus);
		gus = NULL;
		snprintf(buf, sizeof buf, "%ld", gus_ticket);
		for (i = 0; i < 50 && !gone; i++) {
			j = adhoc(tina, "desk.view", (const char *const[]){ "ticket", buf, NULL }, NULL);
			gone = j && strcmp(json_string_value(json_object_get(j, "requester")), "gus@a.test") != 0;
			if (gone)
				CHECK(posts_with(j, "Huge aaaa") == 0 && posts_with(j, "[erased]") == 1 &&
				      strcmp(json_string_value(json_object_get(j, "subject")), "[erased]") == 0,
				      "his ticket #%ld stays with subject and message erased, requester %s", gus_ticket,
				      json_string_value(json_object_get(j, "requester")));
			json_decref(j);
			if (!gone)
				h_pump(100);
		}
		CHECK(gone, "gus's JID is gone from ticket #%ld (user-deleted -> desk.erase)", gus_ticket);
	}

	/* 12. Erasure of an account deleted while the server was down: ivy opened
	 * her ticket with the ad-hoc command only (no logged chat message), so
	 * only the accounts reconciliation at start knows she is gone. */
	{
		h_client *ivy = h_login("ivy@a.test", PW);
		long ivy_ticket = -1;
		int i, gone = 0;

		j = ivy ? adhoc(ivy, "desk.open", (const char *const[]){ "subject", "Ivy cannot log in",
		                "message", "Ivy's own words", NULL }, NULL) : NULL;
		if (json_is_integer(json_object_get(j, "ticket")))
			ivy_ticket = (long)json_integer_value(json_object_get(j, "ticket"));
		json_decref(j);
		CHECK(ivy_ticket > 0, "ivy opens ticket #%ld with the ad-hoc command", ivy_ticket);
		h_disconnect(ivy);
		h_disconnect(tina);
		CHECK(h_envctl("stop") == 0, "the server stops");
		CHECK(h_envctl("prosodyctl deluser ivy@a.test >/dev/null") == 0,
		      "prosodyctl deluser ivy@a.test while it is down");
		CHECK(h_envctl("launch") == 0, "the server starts again");
		tina = h_login("tina@a.test", PW);
		snprintf(buf, sizeof buf, "%ld", ivy_ticket);
		for (i = 0; i < 50 && !gone && tina; i++) {
			j = adhoc(tina, "desk.view", (const char *const[]){ "ticket", buf, NULL }, NULL);
			gone = j && json_string_value(json_object_get(j, "requester")) &&
			       strcmp(json_string_value(json_object_get(j, "requester")), "ivy@a.test") != 0;
			if (gone)
				CHECK(posts_with(j, "Ivy's own words") == 0,
				      "ticket #%ld stays, without her words (requester %s)", ivy_ticket,
				      json_string_value(json_object_get(j, "requester")));
			json_decref(j);
			if (!gone)
				h_pump(100);
		}
		CHECK(gone, "ivy's JID is gone from ticket #%ld after the start (accounts reconciliation)",
		      ivy_ticket);
	}

	h_disconnect(cora);
	h_disconnect(dave);
	h_disconnect(tina);
	h_disconnect(theo);
	h_disconnect(fiona);
	return h_finish();
}
