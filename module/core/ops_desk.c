/*
 * ops_desk.c — the desk.* operations: declarations and thin handlers over the
 * desk engine (desk.h).  Customer-facing ops (titled as the ad-hoc commands
 * customers see) need desk.use, which every authenticated user holds; they
 * act only on the caller's own tickets (another's ticket is "not found": a
 * ticket number reveals nothing).  Technicians (and admins) need desk.work.
 *
 * Every write result carries "event" ("created" -> module event
 * imhost-ticket-created, "updated" -> imhost-ticket-updated), "event_id" and
 * "notify": the delivery list from im_desk_notify, the one delivery path,
 * for the glue to send.  A resend (same key) has "duplicate":true and an
 * empty notify list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "desk.h"
#include "imhost_err.h"
#include "registry.h"
#include "tz.h"

#define MSG_MAX 65536

static const char *str(json_t *p, const char *name)
{
	return json_string_value(json_object_get(p, name));
}

static int64_t num(json_t *p, const char *name, int64_t dflt)
{
	json_t *v = json_object_get(p, name);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static int is_staff(const im_op_ctx *c)
{
	return (c->roles & (IM_ROLE_TECHNICIAN | IM_ROLE_OPERATOR | IM_ROLE_SERVER_ADMIN)) != 0;
}

static const char *author(const im_op_ctx *c)
{
	return *c->actor ? c->actor : c->surface;
}

static int conf_load(const im_op_ctx *c, im_desk_conf *conf, json_t **result)
{
	if (im_desk_conf_load(c->env->db, conf) == IM_OK)
		return IM_OK;
	*result = im_error_new("unavailable", NULL, "desk settings: %s", sqlite3_errmsg(c->env->db));
	return IM_ERR;
}

/* Maps an engine code to an error object. */
static int fail(json_t **result, int rc, const char *why)
{
	const char *code = rc == IM_EINVAL ? "invalid" : rc == IM_ENOTFOUND ? "not_found" :
	                   rc == IM_EBUSY ? "conflict" : "internal";

	*result = im_error_new(code, NULL, "%s", why && *why ? why : "failed");
	return rc == IM_OK ? IM_ERR : rc;
}

/* The write result: ticket, event kind, delivery list. */
static int written(const im_op_ctx *c, const im_desk_conf *conf, int64_t tk, int64_t ev, int dup,
                   const char *kind, json_t **result)
{
	json_t *n = NULL;

	if (ev > 0 && im_desk_notify(c->env->db, conf, ev, c->now, &n) != IM_OK)
		return fail(result, IM_ERR, "cannot build notifications");
	*result = json_pack("{s:I,s:s,s:o,s:b,s:o}", "ticket", (json_int_t)tk, "event", kind,
	                    "event_id", ev > 0 ? json_integer(ev) : json_null(), "duplicate", dup,
	                    "notify", n ? n : json_array());
	return *result ? IM_OK : IM_ERR;
}

/* Customers act on their own tickets only; staff on any.  IM_OK, or an error
 * in *result (not_found for another's ticket). */
static int may_touch(const im_op_ctx *c, int64_t tk, json_t **result)
{
	char *req = NULL, status[16];
	int rc = im_desk_owner(c->env->db, tk, &req, status);

	if (rc == IM_OK && !is_staff(c) && strcmp(req, c->actor) != 0)
		rc = IM_ENOTFOUND;
	free(req);
	if (rc == IM_OK)
		return IM_OK;
	return fail(result, rc, rc == IM_ENOTFOUND ? "no such ticket of yours" : "database");
}

/* [from 00:00, to+1 00:00) in zone tz from "YYYY-MM-DD" strings (either may
 * be NULL: open end).  Day boundaries are the caller's zone's midnights. */
static int day_range(const char *tz, const char *from, const char *to, int64_t *since, int64_t *until,
                     json_t **result)
{
	const char *v[2] = { from, to };
	int64_t *o[2] = { since, until };
	int i;

	*since = 0;
	*until = INT64_MAX;
	for (i = 0; i < 2; i++) {
		struct tm tm;
		int y, m, d, n = 0;
		if (v[i] == NULL)
			continue;
		memset(&tm, 0, sizeof tm);
		if (sscanf(v[i], "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || v[i][10] != '\0' ||
		    m < 1 || m > 12 || d < 1 || d > 31) {
			*result = im_error_new("invalid", i ? "to" : "from", "a date YYYY-MM-DD");
			return IM_EINVAL;
		}
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d + i;   /* "to" is inclusive: up to the next midnight */
		if (im_tz_to_utc(tz, &tm, o[i]) != IM_OK) {
			*result = im_error_new("invalid", i ? "to" : "from", "a date YYYY-MM-DD");
			return IM_EINVAL;
		}
	}
	return IM_OK;
}

static const char *const categories[] = { "billing", "technical", "domain", "account", NULL };
static const char *const priorities[] = { "low", "normal", "high", "urgent", NULL };
static const char *const statuses[] = { "new", "open", "waiting", "resolved", "closed", NULL };

#define TICKET_P { "ticket", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "ticket number" }
#define KEY_P { "key", IM_PT_STRING, 0, 0, 200, NULL, NULL, "idempotency key (stanza id): a resend stores once" }
#define OP(sym, name, summary, perm, write, params, fn) \
	const im_op sym = { name, summary, perm, write, 1, params, sizeof params / sizeof params[0], fn, NULL, 0 }

/* --- customers ------------------------------------------------------------------- */

static const im_param open_params[] = {
	{ "subject", IM_PT_STRING, 1, 0, 200, NULL, NULL, "what it is about, in a line" },
	{ "message", IM_PT_STRING, 1, 0, MSG_MAX, NULL, NULL, "what happened, what you need" },
	{ "category", IM_PT_ENUM, 0, 0, 0, categories, "technical", "billing, technical, domain or account" },
	{ "priority", IM_PT_ENUM, 0, 0, 0, priorities, "normal", "how urgent" },
	KEY_P,
};

static int desk_open(im_op_ctx *c, json_t *p, json_t **result)
{
	im_desk_conf conf;
	im_desk_new n;
	int64_t tk, ev;
	const char *why = "";
	int dup, rc;

	if (!*c->actor)
		return fail(result, IM_EINVAL, "a ticket is opened by a user (ctx.actor)");
	if (conf_load(c, &conf, result) != IM_OK)
		return IM_ERR;
	n.requester = c->actor;
	n.subject = str(p, "subject");
	n.body = str(p, "message");
	n.category = str(p, "category");
	n.priority = str(p, "priority");
	n.idem = str(p, "key");
	rc = im_desk_open(c->env->db, &conf, &n, c->now, &tk, &ev, &dup, &why);
	return rc == IM_OK ? written(c, &conf, tk, ev, dup, "created", result) : fail(result, rc, why);
}
OP(im_op_desk_open, "desk.open", "Open a ticket", "desk.use", 1, open_params, desk_open);

static const im_param mine_params[] = {
	{ "status", IM_PT_ENUM, 0, 0, 0, statuses, NULL, "only tickets in this status" },
	{ "keyword", IM_PT_STRING, 0, 0, 200, NULL, NULL, "words, \"a phrase\", or pre* prefix" },
	{ "from", IM_PT_STRING, 0, 0, 10, NULL, NULL, "opened on or after this day (YYYY-MM-DD, your time zone)" },
	{ "to", IM_PT_STRING, 0, 0, 10, NULL, NULL, "opened on or before this day (YYYY-MM-DD, your time zone)" },
	{ "limit", IM_PT_INT, 0, 1, 500, NULL, "50", "tickets at most" },
};

static int list(im_op_ctx *c, json_t *p, const char *requester, const char *queue, json_t **result)
{
	im_desk_filter f;
	const char *why = "";
	int rc;

	memset(&f, 0, sizeof f);
	if (day_range(c->tz, str(p, "from"), str(p, "to"), &f.since, &f.until, result) != IM_OK)
		return IM_EINVAL;
	f.requester = requester;
	f.status = str(p, "status");
	f.keyword = str(p, "keyword");
	f.queue = queue;
	f.me = author(c);
	f.now = c->now;
	f.limit = (int)num(p, "limit", 50);
	rc = im_desk_list(c->env->db, &f, result, &why);
	return rc == IM_OK ? IM_OK : fail(result, rc, why);
}

static int desk_mine(im_op_ctx *c, json_t *p, json_t **result)
{
	if (!*c->actor)
		return fail(result, IM_EINVAL, "\"My tickets\" needs a user (ctx.actor)");
	return list(c, p, c->actor, NULL, result);
}
OP(im_op_desk_mine, "desk.mine", "My tickets", "desk.use", 0, mine_params, desk_mine);

static const im_param view_params[] = { TICKET_P };

static int desk_view(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t tk = num(p, "ticket", 0);
	int rc;

	if (may_touch(c, tk, result) != IM_OK)
		return IM_ENOTFOUND;
	rc = im_desk_view(c->env->db, tk, is_staff(c), c->now, result);
	return rc == IM_OK ? IM_OK : fail(result, rc, "no such ticket");
}
OP(im_op_desk_view, "desk.view", "View ticket", "desk.use", 0, view_params, desk_view);

static const im_param reply_params[] = {
	TICKET_P,
	{ "message", IM_PT_STRING, 0, 0, MSG_MAX, NULL, NULL, "your reply" },
	{ "canned", IM_PT_STRING, 0, 0, 64, NULL, NULL, "staff: send this canned reply instead" },
	KEY_P,
};

static int canned_body(sqlite3 *db, const char *name, char **body)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR, s;

	*body = NULL;
	if (sqlite3_prepare_v2(db, "SELECT body FROM desk_canned WHERE name = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK) {
		s = sqlite3_step(st);
		if (s == SQLITE_ROW)
			rc = (*body = strdup((const char *)sqlite3_column_text(st, 0))) ? IM_OK : IM_ERR;
		else if (s == SQLITE_DONE)
			rc = IM_ENOTFOUND;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Reply (note = 0) or note (1): shared by desk.reply and desk.note. */
static int post(im_op_ctx *c, json_t *p, int note, json_t **result)
{
	im_desk_conf conf;
	int64_t tk = num(p, "ticket", 0), ev;
	const char *why = "", *msg = str(p, "message"), *canned = str(p, "canned");
	char *cbody = NULL;
	int dup, rc;

	if (may_touch(c, tk, result) != IM_OK)
		return IM_ENOTFOUND;
	if (conf_load(c, &conf, result) != IM_OK)
		return IM_ERR;
	if (canned) {
		if (!is_staff(c))
			return fail(result, IM_EINVAL, "canned replies are for staff");
		if ((rc = canned_body(c->env->db, canned, &cbody)) != IM_OK)
			return fail(result, rc, "no such canned reply");
		msg = cbody;
	}
	if (msg == NULL || *msg == '\0') {
		free(cbody);
		*result = im_error_new("invalid", "message", "a message (or a canned reply) is needed");
		return IM_EINVAL;
	}
	rc = im_desk_post(c->env->db, &conf, &tk, author(c), is_staff(c), note, msg, str(p, "key"), c->now,
	                  &ev, &dup, &why);
	free(cbody);
	return rc == IM_OK ? written(c, &conf, tk, ev, dup, "updated", result) : fail(result, rc, why);
}

static int desk_reply(im_op_ctx *c, json_t *p, json_t **result) { return post(c, p, 0, result); }
OP(im_op_desk_reply, "desk.reply", "Reply", "desk.use", 1, reply_params, desk_reply);

static const im_param close_params[] = { TICKET_P };

static int set_status(im_op_ctx *c, int64_t tk, const char *to, json_t **result)
{
	im_desk_conf conf;
	const char *why = "";
	int64_t ev;
	int rc;

	if (may_touch(c, tk, result) != IM_OK)
		return IM_ENOTFOUND;
	if (conf_load(c, &conf, result) != IM_OK)
		return IM_ERR;
	rc = im_desk_set_status(c->env->db, &conf, tk, author(c), to, c->now, &ev, &why);
	return rc == IM_OK ? written(c, &conf, tk, ev, 0, "updated", result) : fail(result, rc, why);
}

static int desk_close(im_op_ctx *c, json_t *p, json_t **result)
{
	return set_status(c, num(p, "ticket", 0), "closed", result);
}
OP(im_op_desk_close, "desk.close", "Close", "desk.use", 1, close_params, desk_close);

/* --- technicians ------------------------------------------------------------------- */

static const char *const views[] = { "unassigned", "mine", "overdue", "all", NULL };
static const im_param queue_params[] = {
	{ "view", IM_PT_ENUM, 0, 0, 0, views, "unassigned", "unassigned, mine (open, held by you), overdue, or all tickets" },
	{ "limit", IM_PT_INT, 0, 1, 500, NULL, "50", "tickets at most" },
};

static int desk_queue(im_op_ctx *c, json_t *p, json_t **result)
{
	const char *v = str(p, "view");
	json_t *q = json_pack("{s:I}", "limit", (json_int_t)num(p, "limit", 50));
	int rc;

	if (q == NULL)
		return IM_ERR;
	/* "all": every ticket, oldest first (a queue, not "My tickets"). */
	rc = list(c, q, NULL, strcmp(v, "all") == 0 ? "" : v, result);
	json_decref(q);
	return rc;
}
OP(im_op_desk_queue, "desk.queue", "Ticket queue (unassigned, mine, overdue)", "desk.work", 0, queue_params, desk_queue);

static const im_param claim_params[] = { TICKET_P };

static int desk_claim(im_op_ctx *c, json_t *p, json_t **result)
{
	im_desk_conf conf;
	const char *why = "";
	int64_t tk = num(p, "ticket", 0), ev;
	int rc;

	if (conf_load(c, &conf, result) != IM_OK)
		return IM_ERR;
	rc = im_desk_assign(c->env->db, tk, author(c), author(c), 1, c->now, &ev, &why);
	return rc == IM_OK ? written(c, &conf, tk, ev, 0, "updated", result) : fail(result, rc, why);
}
OP(im_op_desk_claim, "desk.claim", "Claim a ticket", "desk.work", 1, claim_params, desk_claim);

static const im_param assign_params[] = {
	TICKET_P,
	{ "to", IM_PT_JID, 1, 0, 0, NULL, NULL, "the technician (bare JID)" },
};

static int desk_assign(im_op_ctx *c, json_t *p, json_t **result)
{
	im_desk_conf conf;
	const char *why = "", *to = str(p, "to");
	int64_t tk = num(p, "ticket", 0), ev;
	int rc;

	if (!(im_acct_staff_roles(c->env->db, to) & IM_ROLE_TECHNICIAN))
		return fail(result, IM_EINVAL, "not a technician (staff.set role=technician)");
	if (conf_load(c, &conf, result) != IM_OK)
		return IM_ERR;
	rc = im_desk_assign(c->env->db, tk, author(c), to, 0, c->now, &ev, &why);
	return rc == IM_OK ? written(c, &conf, tk, ev, 0, "updated", result) : fail(result, rc, why);
}
OP(im_op_desk_assign, "desk.assign", "Assign a ticket to a technician", "desk.work", 1, assign_params, desk_assign);

static const im_param note_params[] = {
	TICKET_P,
	{ "message", IM_PT_STRING, 1, 0, MSG_MAX, NULL, NULL, "internal note: never shown to the customer" },
	KEY_P,
};

static int desk_note(im_op_ctx *c, json_t *p, json_t **result) { return post(c, p, 1, result); }
OP(im_op_desk_note, "desk.note", "Add an internal note", "desk.work", 1, note_params, desk_note);

static const im_param status_params[] = {
	TICKET_P,
	{ "status", IM_PT_ENUM, 1, 0, 0, statuses, NULL, "new status (allowed changes: the transition table)" },
};

static int desk_status(im_op_ctx *c, json_t *p, json_t **result)
{
	return set_status(c, num(p, "ticket", 0), str(p, "status"), result);
}
OP(im_op_desk_status, "desk.status", "Change a ticket's status", "desk.work", 1, status_params, desk_status);

static const im_param prio_params[] = {
	TICKET_P,
	{ "priority", IM_PT_ENUM, 1, 0, 0, priorities, NULL, "new priority (SLA due times are recomputed)" },
};

static int desk_priority(im_op_ctx *c, json_t *p, json_t **result)
{
	im_desk_conf conf;
	const char *why = "";
	int64_t tk = num(p, "ticket", 0), ev;
	int rc;

	if (conf_load(c, &conf, result) != IM_OK)
		return IM_ERR;
	rc = im_desk_set_priority(c->env->db, &conf, tk, author(c), str(p, "priority"), c->now, &ev, &why);
	return rc == IM_OK ? written(c, &conf, tk, ev, 0, "updated", result) : fail(result, rc, why);
}
OP(im_op_desk_priority, "desk.priority", "Change a ticket's priority", "desk.work", 1, prio_params, desk_priority);

static const im_param merge_params[] = {
	TICKET_P,
	{ "into", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "the ticket that continues" },
};

static int desk_merge(im_op_ctx *c, json_t *p, json_t **result)
{
	im_desk_conf conf;
	const char *why = "";
	int64_t tk = num(p, "ticket", 0), into = num(p, "into", 0), ev;
	int rc;

	if (conf_load(c, &conf, result) != IM_OK)
		return IM_ERR;
	rc = im_desk_merge(c->env->db, tk, into, author(c), c->now, &ev, &why);
	return rc == IM_OK ? written(c, &conf, into, ev, 0, "updated", result) : fail(result, rc, why);
}
OP(im_op_desk_merge, "desk.merge", "Merge a duplicate ticket into another", "desk.work", 1, merge_params, desk_merge);

static const im_param canned_params[] = {
	{ "name", IM_PT_STRING, 0, 0, 64, NULL, NULL, "with body: create or replace; alone: show" },
	{ "body", IM_PT_STRING, 0, 0, MSG_MAX, NULL, NULL, "the reply text" },
};

static int desk_canned(im_op_ctx *c, json_t *p, json_t **result)
{
	const char *name = str(p, "name"), *body = str(p, "body");
	sqlite3_stmt *st = NULL;
	json_t *arr;
	int s;

	if (body && (name == NULL || *name == '\0'))
		return fail(result, IM_EINVAL, "a canned reply needs a name");
	if (body) {
		if (sqlite3_prepare_v2(c->env->db, "INSERT INTO desk_canned(name, body, updated) VALUES(?,?,?) "
		                       "ON CONFLICT(name) DO UPDATE SET body = excluded.body, updated = excluded.updated",
		                       -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, c->now) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			return fail(result, IM_ERR, sqlite3_errmsg(c->env->db));
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	if ((arr = json_array()) == NULL ||
	    sqlite3_prepare_v2(c->env->db, "SELECT name, body FROM desk_canned WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK) {
		sqlite3_finalize(st);
		json_decref(arr);
		return fail(result, IM_ERR, "database");
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:s,s:s}", "name", (const char *)sqlite3_column_text(st, 0),
		                                     "body", (const char *)sqlite3_column_text(st, 1)));
	sqlite3_finalize(st);
	if (s != SQLITE_DONE) {
		json_decref(arr);
		return fail(result, IM_ERR, "database");
	}
	*result = json_pack("{s:o}", "canned", arr);
	return IM_OK;
}
/* A write op (audited) even when only listing: one op, two uses, kept simple. */
OP(im_op_desk_canned, "desk.canned", "Canned replies: list, show, or set", "desk.work", 1, canned_params, desk_canned);

static const im_param search_params[] = {
	{ "keyword", IM_PT_STRING, 1, 0, 200, NULL, NULL, "words, \"a phrase\", or pre* prefix (subjects, replies, notes)" },
	{ "status", IM_PT_ENUM, 0, 0, 0, statuses, NULL, "only tickets in this status" },
	{ "from", IM_PT_STRING, 0, 0, 10, NULL, NULL, "opened on or after this day (YYYY-MM-DD, your time zone)" },
	{ "to", IM_PT_STRING, 0, 0, 10, NULL, NULL, "opened on or before this day (YYYY-MM-DD, your time zone)" },
	{ "limit", IM_PT_INT, 0, 1, 500, NULL, "50", "tickets at most" },
};

static int desk_search(im_op_ctx *c, json_t *p, json_t **result)
{
	return list(c, p, NULL, NULL, result);
}
OP(im_op_desk_search, "desk.search", "Search tickets by keyword and date", "desk.work", 0, search_params, desk_search);

static const im_param report_params[] = {
	{ "from", IM_PT_STRING, 0, 0, 10, NULL, NULL, "tickets opened on or after this day (YYYY-MM-DD)" },
	{ "to", IM_PT_STRING, 0, 0, 10, NULL, NULL, "tickets opened on or before this day (YYYY-MM-DD)" },
};

static int desk_report(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t since, until;
	int rc;

	if (day_range(c->tz, str(p, "from"), str(p, "to"), &since, &until, result) != IM_OK)
		return IM_EINVAL;
	rc = im_desk_report(c->env->db, since, until, c->now, result);
	return rc == IM_OK ? IM_OK : fail(result, rc, "database");
}
OP(im_op_desk_report, "desk.report", "Desk report: open per category, response times, SLA breaches", "desk.report", 0,
   report_params, desk_report);

/* --- the glue's entry points --------------------------------------------------------- */

static const im_param incoming_params[] = {
	{ "from", IM_PT_JID, 1, 0, 0, NULL, NULL, "sender's bare JID" },
	/* Accepts up to 2 MiB so that oversized messages reach the desk and get
	 * an answer; the desk keeps body_max bytes. */
	{ "body", IM_PT_STRING, 0, 0, 2 * 1024 * 1024, NULL, NULL, "message text" },
	{ "stanza_id", IM_PT_STRING, 0, 0, 200, NULL, NULL, "the message's id: a resend stores once" },
};

static int desk_incoming(im_op_ctx *c, json_t *p, json_t **result)
{
	im_desk_conf conf;
	json_t *r;

	if (conf_load(c, &conf, result) != IM_OK)
		return IM_ERR;
	if (im_desk_incoming(c->env->db, &conf, str(p, "from"), str(p, "body"), str(p, "stanza_id"), c->now, &r) != IM_OK)
		return fail(result, IM_ERR, sqlite3_errmsg(c->env->db));
	json_object_set_new(r, "event", json_string(strcmp(json_string_value(json_object_get(r, "action")),
	                                                   "created") == 0 ? "created" : "updated"));
	*result = r;
	return IM_OK;
}
OP(im_op_desk_incoming, "desk.incoming", "A chat message to the support desk", "internal", 1, incoming_params,
   desk_incoming);

static const im_param configure_params[] = {
	{ "key", IM_PT_STRING, 0, 0, 32, NULL, NULL, "setting to change (see desk_conf.c); absent: show all" },
	{ "value", IM_PT_STRING, 0, 0, 512, NULL, NULL, "new value" },
};

static int desk_configure(im_op_ctx *c, json_t *p, json_t **result)
{
	im_desk_conf conf;
	const char *key = str(p, "key"), *why = "";
	int rc;

	if (key) {
		rc = im_desk_conf_set(c->env->db, key, str(p, "value") ? str(p, "value") : "", &why);
		if (rc != IM_OK) {
			*result = im_error_new(rc == IM_EINVAL ? "invalid" : "internal", rc == IM_EINVAL ? "value" : NULL,
			                       "%s", why);
			return rc;
		}
	}
	if (conf_load(c, &conf, result) != IM_OK)
		return IM_ERR;
	*result = im_desk_conf_json(&conf);
	return *result ? IM_OK : IM_ERR;
}
OP(im_op_desk_configure, "desk.configure", "Desk settings: business hours, SLA targets, limits", "desk.admin", 1,
   configure_params, desk_configure);
