/*
 * desk_notify.c — the one delivery path: who hears about a desk event, and
 * what they are told.  Every notification leaves through im_desk_notify, so
 * the rules live here once:
 *   - the customer (requester) hears of public replies and status changes
 *     only; an internal note, or any text of one, never reaches a customer:
 *     the customer text is built from the public post or the status alone;
 *   - staff (the assignee, or every technician while nobody holds the ticket)
 *     hear of everything;
 *   - never the event's author, never one of the desk's own addresses (no
 *     loops), and each (ticket, event, recipient) once: the desk_notify
 *     primary key decides, so a retried delivery run sends nothing twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desk.h"
#include "desk_tx.h"
#include "imhost_err.h"

/* Bodies are at most body_max (64 KiB) plus a header line. */
#define TEXT_MAX (65536 + 4096)

typedef struct {
	int64_t ticket, post;
	char kind[16], actor[3072], old[64], new_[64];
	char requester[3072], assignee[3072], subject[256], post_kind[8];
	const char *body;   /* into st; valid until finalize */
} ev_row;

/* Records (ticket, event, to); 1 if new, 0 if already sent, -1 on error. */
static int record(sqlite3 *db, int64_t tk, int64_t ev, const char *to, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "INSERT INTO desk_notify(ticket_id, event_id, recipient, ts) VALUES(?,?,?,?) "
	                       "ON CONFLICT DO NOTHING", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, tk) == SQLITE_OK && sqlite3_bind_int64(st, 2, ev) == SQLITE_OK &&
	    sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 4, now) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		rc = sqlite3_changes(db) > 0;
	sqlite3_finalize(st);
	return rc;
}

/* Adds one notification if `to` may receive it and has not yet. */
static int add(sqlite3 *db, const im_desk_conf *conf, json_t *out, const ev_row *e, int64_t ev,
               const char *to, const char *audience, const char *text, int64_t now)
{
	size_t i;
	json_t *x;
	int r;

	if (to == NULL || *to == '\0' || strcmp(to, e->actor) == 0 || im_desk_is_desk_jid(conf, to))
		return IM_OK;
	json_array_foreach(out, i, x)   /* one event, one message per person */
		if (strcmp(json_string_value(json_object_get(x, "to")), to) == 0)
			return IM_OK;
	if ((r = record(db, e->ticket, ev, to, now)) < 0)
		return IM_ERR;
	if (r == 0)
		return IM_OK;
	return json_array_append_new(out, json_pack("{s:s,s:s,s:I,s:I,s:s,s:s}", "to", to, "audience", audience,
	                                            "ticket", (json_int_t)e->ticket, "event", (json_int_t)ev,
	                                            "kind", e->kind, "text", text)) == 0 ? IM_OK : IM_ERR;
}

static void col(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(dst, n, "%s", s ? (const char *)s : "");
}

/* The e-mail address the ticket's customer has on file (billing information),
 * set as "email" on the customer's notification n so the glue can also mail it;
 * no address (or no customer): nothing set.  IM_OK or IM_ERR. */
static int add_customer_email(sqlite3 *db, int64_t tk, json_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR, s;

	if (sqlite3_prepare_v2(db, "SELECT a.email FROM desk_ticket t JOIN bill_account a ON a.customer_id = t.customer_id "
	                       "WHERE t.id = ? AND a.email <> ''", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, tk) == SQLITE_OK) {
		s = sqlite3_step(st);
		if (s == SQLITE_ROW)
			rc = json_object_set_new(n, "email", json_string((const char *)sqlite3_column_text(st, 0))) == 0
			     ? IM_OK : IM_ERR;
		else if (s == SQLITE_DONE)
			rc = IM_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Customer-facing text: public body or status only (never a note). */
static void customer_text(const ev_row *e, char *buf, size_t n)
{
	if (strcmp(e->kind, "reply") == 0)
		snprintf(buf, n, "Ticket #%lld (%s) — reply from support:\n%s", (long long)e->ticket, e->subject,
		         e->body ? e->body : "");
	else if (strcmp(e->kind, "status") == 0)
		snprintf(buf, n, "Ticket #%lld (%s) is now %s.", (long long)e->ticket, e->subject, e->new_);
	else   /* merged: e->ticket is the target, new_ the ticket merged into it */
		snprintf(buf, n, "Ticket #%s was merged into ticket #%lld (%s); both threads are kept and "
		         "replies continue in #%lld.", e->new_, (long long)e->ticket, e->subject, (long long)e->ticket);
}

static void staff_text(const ev_row *e, char *buf, size_t n)
{
	const char *b = e->body ? e->body : "";

	if (strcmp(e->kind, "created") == 0)
		snprintf(buf, n, "New ticket #%lld from %s: %s\n%s", (long long)e->ticket, e->requester, e->subject, b);
	else if (strcmp(e->kind, "reply") == 0 || strcmp(e->kind, "note") == 0)
		snprintf(buf, n, "Ticket #%lld %s by %s:\n%s", (long long)e->ticket,
		         strcmp(e->kind, "note") == 0 ? "internal note" : "reply", e->actor, b);
	else
		snprintf(buf, n, "Ticket #%lld: %s %s%s%s by %s", (long long)e->ticket, e->kind, e->old,
		         *e->old ? " -> " : "", e->new_, e->actor);
}

static int notify_locked(sqlite3 *db, const im_desk_conf *conf, int64_t ev, int64_t now, json_t **out)
{
	sqlite3_stmt *st = NULL, *tech = NULL;
	ev_row e;
	json_t *list = json_array();
	int rc = IM_ERR, s, customer;
	char *buf;

	*out = NULL;
	buf = malloc(TEXT_MAX);
	if (list == NULL || buf == NULL)
		goto done;
	memset(&e, 0, sizeof e);
	if (sqlite3_prepare_v2(db, "SELECT e.ticket_id, e.kind, e.actor, e.old, e.new, t.requester, t.assignee, "
	                       "t.subject, p.kind, p.body FROM desk_event e JOIN desk_ticket t ON t.id = e.ticket_id "
	                       "LEFT JOIN desk_post p ON p.id = e.post_id WHERE e.id = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, ev) != SQLITE_OK)
		goto done;
	s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		rc = IM_ENOTFOUND;
		goto done;
	}
	if (s != SQLITE_ROW)
		goto done;
	e.ticket = sqlite3_column_int64(st, 0);
	col(st, 1, e.kind, sizeof e.kind);
	col(st, 2, e.actor, sizeof e.actor);
	col(st, 3, e.old, sizeof e.old);
	col(st, 4, e.new_, sizeof e.new_);
	col(st, 5, e.requester, sizeof e.requester);
	col(st, 6, e.assignee, sizeof e.assignee);
	col(st, 7, e.subject, sizeof e.subject);
	col(st, 8, e.post_kind, sizeof e.post_kind);
	e.body = (const char *)sqlite3_column_text(st, 9);

	/* The customer's filter: a public post, a status change or a merge (the
	 * target's "merged" event, the one im_desk_merge returns); a "reply"
	 * event must carry a public post (belt and braces). */
	customer = (strcmp(e.kind, "reply") == 0 && strcmp(e.post_kind, "public") == 0) ||
	           strcmp(e.kind, "status") == 0 || strcmp(e.kind, "merged") == 0;
	if (customer) {
		customer_text(&e, buf, TEXT_MAX);
		size_t before = json_array_size(list);
		if (add(db, conf, list, &e, ev, e.requester, "customer", buf, now) != IM_OK)
			goto done;
		if (json_array_size(list) > before &&
		    add_customer_email(db, e.ticket, json_array_get(list, before)) != IM_OK)
			goto done;
	}
	staff_text(&e, buf, TEXT_MAX);
	if (e.assignee[0]) {
		if (add(db, conf, list, &e, ev, e.assignee, "staff", buf, now) != IM_OK)
			goto done;
	} else {
		if (sqlite3_prepare_v2(db, "SELECT jid FROM staff WHERE role = 'technician' ORDER BY jid", -1, &tech,
		                       NULL) != SQLITE_OK)
			goto done;
		while ((s = sqlite3_step(tech)) == SQLITE_ROW) {
			const char *j = (const char *)sqlite3_column_text(tech, 0);
			/* The requester is never told staff text about their own ticket. */
			if (j && strcmp(j, e.requester) != 0 && add(db, conf, list, &e, ev, j, "staff", buf, now) != IM_OK)
				goto done;
		}
		if (s != SQLITE_DONE)
			goto done;
	}
	rc = IM_OK;
	*out = list;
	list = NULL;
done:
	sqlite3_finalize(st);
	sqlite3_finalize(tech);
	json_decref(list);
	free(buf);
	return rc;
}

/* Reads the event and records deliveries in one BEGIN IMMEDIATE transaction
 * unless the caller holds one: an INSERT upgrading the read snapshot of the
 * open SELECT fails at once with SQLITE_BUSY_SNAPSHOT (no busy handler) when
 * another connection wrote in between. */
int im_desk_notify(sqlite3 *db, const im_desk_conf *conf, int64_t ev, int64_t now, json_t **out)
{
	if (!sqlite3_get_autocommit(db))
		return notify_locked(db, conf, ev, now, out);
	*out = NULL;
	if (im_desk_begin(db) != IM_OK)
		return IM_ERR;
	if (im_desk_finish(db, notify_locked(db, conf, ev, now, out)) == IM_OK)
		return IM_OK;
	json_decref(*out);   /* the recording rolled back: deliver nothing */
	*out = NULL;
	return IM_ERR;
}
