/*
 * desk_incoming.c — a chat message to the desk's address becomes a ticket,
 * or joins the sender's open one.  The XMPP side (component, routing) is the
 * glue's; this is the decision and the answer text.
 *
 * Order of checks, and why:
 *   1. a desk address as sender: ignored (no loops between desks);
 *   2. rate limit per sender (rate_per_min, one-minute windows): the first
 *      refused message gets a clear answer, later ones none, so a flood
 *      cannot make the desk flood back;
 *   3. cleaning: invalid UTF-8 -> U+FFFD, control characters dropped (tab and
 *      newline kept), cut at body_max on a character boundary (the reply
 *      says so); markup is kept as plain text (every surface escapes);
 *   4. empty after cleaning: refused with an explanation;
 *   5. "#N ..." names a ticket: it must be the sender's (an unknown number
 *      and somebody else's get the same answer: nothing leaks);
 *   6. "solved" right after suggestions resolves the new ticket at once;
 *   7. otherwise the sender's newest open ticket gets the message, or a new
 *      ticket is opened with up to three suggested articles.
 * A resent stanza (same stanza id) stores nothing new and gets the same
 * ticket number back.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "desk.h"
#include "desk_tx.h"
#include "desk_suggest.h"
#include "imhost_err.h"
#include "tz.h"

#define SUBJECT_MAX 120
#define SOLVED_WINDOW 3600

/* Copies s into a new buffer: valid UTF-8, no control characters but \n and
 * \t, at most max bytes (cut on a character boundary: *cut = 1), trimmed. */
static char *clean(const char *s, size_t max, int *cut)
{
	size_t n = strlen(s), o = 0, i = 0;
	char *out = malloc(n * 3 + 1);   /* every bad byte may become 3 bytes (U+FFFD) */
	const unsigned char *u = (const unsigned char *)s;

	*cut = 0;
	if (out == NULL)
		return NULL;
	while (i < n) {
		unsigned c = u[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		unsigned cp = 0;
		size_t j;
		int ok = len > 0 && i + len <= n;
		for (j = 1; ok && j < len; j++)
			ok = (u[i + j] & 0xc0) == 0x80;
		if (ok && len > 1) {   /* reject overlongs, surrogates, > U+10FFFF */
			cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
			for (j = 1; j < len; j++)
				cp = cp << 6 | (u[i + j] & 0x3f);
			ok = !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) && !(len == 4 && cp < 0x10000) &&
			     !(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff && !(cp >= 0x80 && cp <= 0x9f);
			if (!ok && cp >= 0x80 && cp <= 0x9f && len == 2) {   /* C1 control: drop */
				i += len;
				continue;
			}
		} else if (ok) {
			cp = c;
		}
		if (!ok) {
			if (o + 3 > max) { *cut = 1; break; }
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		if (len == 1 && ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)) {
			i++;
			continue;
		}
		if (o + len > max) { *cut = 1; break; }
		memcpy(out + o, s + i, len);
		o += len;
		i += len;
	}
	while (o > 0 && isspace((unsigned char)out[o - 1]))
		o--;
	out[o] = '\0';
	for (i = 0; out[i] && isspace((unsigned char)out[i]); i++)
		;
	memmove(out, out + i, o - i + 1);
	return out;
}

/* 1 to go on, 0 when rate-limited (*first: the first refusal of the window). */
static int rate_ok(sqlite3 *db, const im_desk_conf *conf, const char *from, int64_t now, int *first)
{
	sqlite3_stmt *st = NULL;
	int64_t count = 0;
	int ok = -1;

	if (sqlite3_prepare_v2(db, "INSERT INTO desk_rate(sender, window, count) VALUES(?1, ?2, 1) "
	                       "ON CONFLICT(sender) DO UPDATE SET count = CASE WHEN window = ?2 THEN count + 1 ELSE 1 END, "
	                       "window = ?2 RETURNING count", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, now / 60) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		count = sqlite3_column_int64(st, 0);
		ok = count <= conf->rate_per_min;
		*first = count == conf->rate_per_min + 1;
		if (sqlite3_step(st) != SQLITE_DONE)
			ok = -1;
	}
	sqlite3_finalize(st);
	return ok;
}

static void fmt_local(const im_desk_conf *conf, int64_t t, char *buf, size_t n)
{
	struct tm tm;

	if (im_tz_from_utc(conf->cal.zone, t, &tm) != 0)
		snprintf(buf, n, "%lld UTC", (long long)t);
	else
		snprintf(buf, n, "%04d-%02d-%02d %02d:%02d (%s)", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		         tm.tm_hour, tm.tm_min, conf->cal.zone);
}

/* The sender's newest ticket still being worked on, or 0. */
static int64_t open_ticket(sqlite3 *db, const char *from, char status[16], int64_t *created)
{
	sqlite3_stmt *st = NULL;
	int64_t id = -1;

	if (sqlite3_prepare_v2(db, "SELECT id, status, created FROM desk_ticket WHERE requester = ? AND merged_into IS NULL "
	                       "AND status IN ('new','open','waiting') ORDER BY id DESC LIMIT 1", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC) == SQLITE_OK) {
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			id = sqlite3_column_int64(st, 0);
			snprintf(status, 16, "%s", (const char *)sqlite3_column_text(st, 1));
			*created = sqlite3_column_int64(st, 2);
		} else if (s == SQLITE_DONE) {
			id = 0;
		}
	}
	sqlite3_finalize(st);
	return id;
}

/* Staff posts on a ticket (has anyone from the desk answered?). */
static int64_t staff_posts(sqlite3 *db, int64_t tk, const char *requester)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM desk_post WHERE ticket_id = ? AND author <> ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, tk) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, requester, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Keyword guess; technicians correct it.  Order matters: billing first. */
static const char *guess_category(const char *body)
{
	static const struct { const char *word, *cat; } words[] = {
		{ "invoice", "billing" }, { "payment", "billing" }, { "refund", "billing" }, { "billing", "billing" },
		{ "charge", "billing" }, { "domain", "domain" }, { "dns", "domain" }, { "password", "account" },
		{ "login", "account" }, { "log in", "account" }, { "account", "account" },
	};
	size_t i;

	for (i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcasestr(body, words[i].word))
			return words[i].cat;
	return "technical";
}

/* The first line, at most SUBJECT_MAX bytes on a character boundary. */
static void subject_of(const char *body, char *out)
{
	size_t n = strcspn(body, "\n");

	if (n > SUBJECT_MAX) {
		n = SUBJECT_MAX;
		while (n > 0 && ((unsigned char)body[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, body, n);
	out[n] = '\0';
}

static int result(json_t **out, const char *action, const char *reply, int64_t tk, int64_t ev)
{
	*out = json_pack("{s:s,s:s?,s:o,s:o,s:[],s:[]}", "action", action, "reply", reply,
	                 "ticket", tk > 0 ? json_integer(tk) : json_null(),
	                 "event_id", ev > 0 ? json_integer(ev) : json_null(), "suggestions", "notify");
	return *out ? IM_OK : IM_ERR;
}

/* Adds the delivery list of ev to the result. */
static int with_notify(sqlite3 *db, const im_desk_conf *conf, json_t *res, int64_t ev, int64_t now)
{
	json_t *n;

	if (ev <= 0)
		return IM_OK;
	if (im_desk_notify(db, conf, ev, now, &n) != IM_OK)
		return IM_ERR;
	json_object_set_new(res, "notify", n);
	return IM_OK;
}

/* Steps 1-7 above inside the caller's BEGIN IMMEDIATE transaction: the rate
 * row, "which ticket is open", the write and the delivery records commit
 * together, so two workers handling one sender cannot both open a ticket,
 * and no write has to upgrade a read snapshot.  *text (cleaned body, owned
 * by the caller) is left set when a new ticket was opened: the caller adds
 * suggestions after the commit (they read files, not the database). */
static int incoming_locked(sqlite3 *db, const im_desk_conf *conf, const char *from, const char *body,
                           const char *stanza_id, int64_t now, json_t **out, char **text_out)
{
	char reply[4096], when[160], subject[SUBJECT_MAX + 1], status[16];
	char *text = NULL;
	const char *why = "";
	int64_t tk = 0, ev = 0, created = 0;
	int cut = 0, first = 0, dup = 0, rc;

	*out = NULL;
	*text_out = NULL;
	if ((rc = rate_ok(db, conf, from, now, &first)) < 0)
		return IM_ERR;
	if (rc == 0) {
		snprintf(reply, sizeof reply, "You are sending messages faster than the support desk accepts "
		         "(%d a minute). Messages from now until the end of this minute are not recorded; "
		         "please wait a minute and send the rest in one message.", conf->rate_per_min);
		return result(out, "rate_limited", first ? reply : NULL, 0, 0);
	}
	if ((text = clean(body ? body : "", (size_t)conf->body_max, &cut)) == NULL)
		return IM_ERR;
	if (*text == '\0') {
		free(text);
		return result(out, "refused", "Your message was empty. Write what you need help with and the "
		              "desk opens a ticket for it.", 0, 0);
	}

	/* "#N ...": the sender names one of their tickets. */
	if (text[0] == '#' && isdigit((unsigned char)text[1])) {
		char *end, *req = NULL;
		long long n = strtoll(text + 1, &end, 10);
		const char *rest = end;
		while (*rest == ' ' || *rest == ':' || *rest == '\n' || *rest == '\t')
			rest++;
		rc = n > 0 && n < INT64_MAX ? im_desk_owner(db, n, &req, status) : IM_ENOTFOUND;
		if (rc == IM_ERR) {
			free(text);
			return IM_ERR;
		}
		if (rc != IM_OK || strcmp(req, from) != 0) {
			free(req);
			free(text);
			snprintf(reply, sizeof reply, "There is no ticket #%lld of yours. Send your message without a "
			         "number to open a new ticket, or use \"My tickets\" to see yours.", n);
			return result(out, "refused", reply, 0, 0);
		}
		free(req);
		if (*rest == '\0') {
			free(text);
			snprintf(reply, sizeof reply, "Ticket #%lld is %s. Write your message after the number to add to it.", n, status);
			return result(out, "refused", reply, n, 0);
		}
		tk = n;
		rc = im_desk_post_tx(db, conf, &tk, from, 0, 0, rest, stanza_id, now, &ev, &dup, &why);
		free(text);
		if (rc == IM_EBUSY) {
			snprintf(reply, sizeof reply, "Ticket #%lld is closed and was closed more than %d days ago, so it "
			         "cannot be reopened. Send your message without a number to open a new ticket.", n, conf->reopen_days);
			return result(out, "refused", reply, n, 0);
		}
		if (rc != IM_OK)
			return rc == IM_EINVAL ? result(out, "refused", why, n, 0) : IM_ERR;
		snprintf(reply, sizeof reply, "Added to ticket #%lld%s.", (long long)tk,
		         cut ? " (your message was longer than the desk keeps and was cut)" : "");
		if (result(out, dup ? "duplicate" : "threaded", reply, tk, ev) != IM_OK)
			return IM_ERR;
		return with_notify(db, conf, *out, ev, now);
	}

	if ((tk = open_ticket(db, from, status, &created)) < 0) {
		free(text);
		return IM_ERR;
	}
	if (tk > 0 && strcasecmp(text, "solved") == 0 && strcmp(status, "new") == 0 &&
	    now - created <= SOLVED_WINDOW && staff_posts(db, tk, from) == 0) {
		free(text);
		if (im_desk_set_status_tx(db, conf, tk, from, "resolved", now, &ev, &why) != IM_OK)
			return IM_ERR;
		snprintf(reply, sizeof reply, "Glad that helped. Ticket #%lld is resolved; write \"#%lld\" and your "
		         "message within %d days if you need it again.", (long long)tk, (long long)tk, conf->reopen_days);
		if (result(out, "solved", reply, tk, ev) != IM_OK)
			return IM_ERR;
		return with_notify(db, conf, *out, ev, now);
	}
	if (tk > 0) {
		rc = im_desk_post_tx(db, conf, &tk, from, 0, 0, text, stanza_id, now, &ev, &dup, &why);
		free(text);
		if (rc != IM_OK)
			return rc == IM_EINVAL ? result(out, "refused", why, tk, 0) : IM_ERR;
		snprintf(reply, sizeof reply, "Added to your open ticket #%lld%s. To start a separate request, "
		         "use \"Open a ticket\".", (long long)tk,
		         cut ? " (your message was longer than the desk keeps and was cut)" : "");
		if (result(out, dup ? "duplicate" : "threaded", reply, tk, ev) != IM_OK)
			return IM_ERR;
		return with_notify(db, conf, *out, ev, now);
	}

	{
		im_desk_new n = { from, subject, text, guess_category(text), "normal", stanza_id };
		sqlite3_stmt *st = NULL;
		int64_t due = 0;

		subject_of(text, subject);
		rc = im_desk_open_tx(db, conf, &n, now, &tk, &ev, &dup, &why);
		if (rc != IM_OK) {
			free(text);
			return rc == IM_EINVAL ? result(out, "refused", why, 0, 0) : IM_ERR;
		}
		if (sqlite3_prepare_v2(db, "SELECT due_first FROM desk_ticket WHERE id = ?", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_bind_int64(st, 1, tk) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			due = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		fmt_local(conf, due, when, sizeof when);
		snprintf(reply, sizeof reply, "Thank you. Your request is ticket #%lld%s. A technician "
		         "will answer you in this chat, at the latest by %s. Anything you write here is added "
		         "to this ticket.", (long long)tk,
		         cut ? " (your message was longer than the desk keeps and was cut)" : "", when);
		if (result(out, dup ? "duplicate" : "created", reply, tk, ev) != IM_OK) {
			free(text);
			return IM_ERR;
		}
		if (dup)
			free(text);
		else
			*text_out = text;
		return with_notify(db, conf, *out, ev, now);
	}
}

/* Appends up to three suggested articles for text to res's reply. */
static int add_suggestions(const im_desk_conf *conf, json_t *res, const char *text)
{
	char reply[4096];
	json_t *sugg, *s;
	size_t i, len;

	if ((sugg = im_desk_suggest(conf->index_dir, conf->site_url, text, 3)) == NULL)
		return IM_ERR;
	len = (size_t)snprintf(reply, sizeof reply, "%s", json_string_value(json_object_get(res, "reply")));
	if (json_array_size(sugg) > 0 && len < sizeof reply) {
		len += (size_t)snprintf(reply + len, sizeof reply - len, "\n\nThese articles may already answer it:");
		json_array_foreach(sugg, i, s)
			if (len < sizeof reply)
				len += (size_t)snprintf(reply + len, sizeof reply - len, "\n%zu. %s — %s", i + 1,
				                        json_string_value(json_object_get(s, "title")),
				                        json_string_value(json_object_get(s, "url")));
		if (len < sizeof reply)
			snprintf(reply + len, sizeof reply - len, "\nIf one of them solved it, reply \"solved\".");
	}
	if (json_object_set_new(res, "reply", json_string(reply)) != 0 ||
	    json_object_set_new(res, "suggestions", sugg) != 0)
		return IM_ERR;
	return IM_OK;
}

int im_desk_incoming(sqlite3 *db, const im_desk_conf *conf, const char *from, const char *body,
                     const char *stanza_id, int64_t now, json_t **out)
{
	char *text = NULL;
	int rc;

	*out = NULL;
	if (im_desk_is_desk_jid(conf, from))
		return result(out, "ignored", NULL, 0, 0);
	if (im_desk_begin(db) != IM_OK)
		return IM_ERR;
	rc = im_desk_finish(db, incoming_locked(db, conf, from, body, stanza_id, now, out, &text));
	if (rc == IM_OK && text != NULL)
		rc = add_suggestions(conf, *out, text);
	free(text);
	if (rc != IM_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}
