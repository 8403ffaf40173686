/*
 * desk_ticket.c — ticket writes: open, post (reply/note), status, priority,
 * assignment, merge.  Each runs in one BEGIN IMMEDIATE transaction (read,
 * check, write must not interleave with another connection) and appends a
 * desk_event row per change.  SLA clocks are kept here (sla_refresh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desk.h"
#include "desk_tx.h"
#include "imhost_err.h"

/* The transition table: the only status changes the desk makes. */
static const struct { const char *from, *to; } transitions[] = {
	{ "new", "open" }, { "new", "waiting" }, { "new", "resolved" }, { "new", "closed" },
	{ "open", "waiting" }, { "open", "resolved" }, { "open", "closed" },
	{ "waiting", "open" }, { "waiting", "resolved" }, { "waiting", "closed" },
	{ "resolved", "open" }, { "resolved", "closed" },
	{ "closed", "open" },
};

int im_desk_transition_ok(const char *from, const char *to)
{
	size_t i;

	for (i = 0; from && to && i < sizeof transitions / sizeof transitions[0]; i++)
		if (strcmp(transitions[i].from, from) == 0 && strcmp(transitions[i].to, to) == 0)
			return 1;
	return 0;
}

/* The columns a write needs. */
typedef struct {
	int64_t id, merged_into, first_response, closed, sla_used, sla_since;
	int has_since, has_first, has_closed;
	int64_t due_first, due_resolve;
	int has_due_first, has_due_resolve;
	char status[16], priority[16], requester[3072], assignee[3072];
} ticket;

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? IM_OK : IM_ERR;
}

int im_desk_begin(sqlite3 *db) { return exec(db, "BEGIN IMMEDIATE"); }

int im_desk_finish(sqlite3 *db, int rc)
{
	if (rc == IM_OK && exec(db, "COMMIT") == IM_OK)
		return IM_OK;
	(void)exec(db, "ROLLBACK");
	return rc == IM_OK ? IM_ERR : rc;
}




static void copy_col(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	dst[0] = '\0';
	if (s)
		snprintf(dst, n, "%s", (const char *)s);
}

static int load(sqlite3 *db, int64_t id, ticket *t)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(t, 0, sizeof *t);
	if (sqlite3_prepare_v2(db, "SELECT id, merged_into, first_response, closed, sla_used, sla_since, "
	                       "due_first, due_resolve, status, priority, requester, assignee "
	                       "FROM desk_ticket WHERE id = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, id) != SQLITE_OK) {
		sqlite3_finalize(st);
		return IM_ERR;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		t->id = sqlite3_column_int64(st, 0);
		t->merged_into = sqlite3_column_int64(st, 1);   /* 0 when NULL */
		t->has_first = sqlite3_column_type(st, 2) != SQLITE_NULL;
		t->first_response = sqlite3_column_int64(st, 2);
		t->has_closed = sqlite3_column_type(st, 3) != SQLITE_NULL;
		t->closed = sqlite3_column_int64(st, 3);
		t->sla_used = sqlite3_column_int64(st, 4);
		t->has_since = sqlite3_column_type(st, 5) != SQLITE_NULL;
		t->sla_since = sqlite3_column_int64(st, 5);
		t->has_due_first = sqlite3_column_type(st, 6) != SQLITE_NULL;
		t->due_first = sqlite3_column_int64(st, 6);
		t->has_due_resolve = sqlite3_column_type(st, 7) != SQLITE_NULL;
		t->due_resolve = sqlite3_column_int64(st, 7);
		copy_col(st, 8, t->status, sizeof t->status);
		copy_col(st, 9, t->priority, sizeof t->priority);
		copy_col(st, 10, t->requester, sizeof t->requester);
		copy_col(st, 11, t->assignee, sizeof t->assignee);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? IM_OK : rc == SQLITE_DONE ? IM_ENOTFOUND : IM_ERR;
}

/* Appends an event; *id its rowid.  post may be 0 (none); old/new may be NULL. */
static int event(sqlite3 *db, int64_t tk, int64_t now, const char *actor, const char *kind,
                 const char *old, const char *new_, int64_t post, int64_t *id)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	if (sqlite3_prepare_v2(db, "INSERT INTO desk_event(ticket_id, ts, actor, kind, old, new, post_id) "
	                       "VALUES(?,?,?,?,?,?,?)", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, tk) == SQLITE_OK && sqlite3_bind_int64(st, 2, now) == SQLITE_OK &&
	    sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 5, old, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 6, new_, -1, SQLITE_STATIC) == SQLITE_OK &&
	    (post ? sqlite3_bind_int64(st, 7, post) : sqlite3_bind_null(st, 7)) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE) {
		rc = IM_OK;
		if (id)
			*id = sqlite3_last_insert_rowid(db);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Recomputes the due times from the business time used so far.  Paused
 * (sla_since NULL): both NULL.  First response met: due_first NULL. */
static int sla_refresh(sqlite3 *db, const im_desk_conf *conf, ticket *t)
{
	int p = im_desk_prio_index(t->priority);
	sqlite3_stmt *st = NULL;
	int64_t df = 0, dr = 0;
	int rc = IM_ERR, have_f = 0, have_r = 0;

	if (p < 0)
		return IM_ERR;
	if (t->has_since) {
		if (im_desk_cal_add(&conf->cal, t->sla_since, conf->resolve_target[p] - t->sla_used, &dr) != IM_OK)
			return IM_ERR;
		have_r = 1;
		if (!t->has_first) {
			if (im_desk_cal_add(&conf->cal, t->sla_since, conf->first_target[p] - t->sla_used, &df) != IM_OK)
				return IM_ERR;
			have_f = 1;
		}
	}
	if (sqlite3_prepare_v2(db, "UPDATE desk_ticket SET due_first = ?, due_resolve = ?, sla_used = ?, "
	                       "sla_since = ? WHERE id = ?", -1, &st, NULL) == SQLITE_OK &&
	    (have_f ? sqlite3_bind_int64(st, 1, df) : sqlite3_bind_null(st, 1)) == SQLITE_OK &&
	    (have_r ? sqlite3_bind_int64(st, 2, dr) : sqlite3_bind_null(st, 2)) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 3, t->sla_used) == SQLITE_OK &&
	    (t->has_since ? sqlite3_bind_int64(st, 4, t->sla_since) : sqlite3_bind_null(st, 4)) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 5, t->id) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		rc = IM_OK;
	sqlite3_finalize(st);
	t->has_due_first = have_f;
	t->due_first = df;
	t->has_due_resolve = have_r;
	t->due_resolve = dr;
	return rc;
}

/* Stops the SLA clock, banking the business time it ran. */
static int sla_pause(const im_desk_conf *conf, ticket *t, int64_t now)
{
	int64_t ran;

	if (!t->has_since)
		return IM_OK;
	if (im_desk_cal_elapsed(&conf->cal, t->sla_since, now, &ran) != IM_OK)
		return IM_ERR;
	t->sla_used += ran;
	t->has_since = 0;
	return IM_OK;
}

static int touch(sqlite3 *db, int64_t id, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	if (sqlite3_prepare_v2(db, "UPDATE desk_ticket SET updated = ? WHERE id = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, now) == SQLITE_OK && sqlite3_bind_int64(st, 2, id) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		rc = IM_OK;
	sqlite3_finalize(st);
	return rc;
}

/* Status change inside an open transaction: table check, timestamps, SLA
 * pause/resume, breach record, event. */
static int change_status(sqlite3 *db, const im_desk_conf *conf, ticket *t, const char *actor,
                         const char *to, int64_t now, int64_t *ev, const char **why)
{
	sqlite3_stmt *st = NULL;
	char old[16];
	int rc = IM_ERR, running = strcmp(to, "new") == 0 || strcmp(to, "open") == 0;

	if (!im_desk_transition_ok(t->status, to)) {
		*why = "that status change is not allowed from the ticket's current status";
		return IM_EBUSY;
	}
	if (strcmp(to, "resolved") == 0 && t->has_due_resolve && now > t->due_resolve &&
	    event(db, t->id, now, actor, "breach", NULL, "resolve", 0, NULL) != IM_OK)
		return IM_ERR;
	if (running) {
		if (!t->has_since) {
			t->has_since = 1;
			t->sla_since = now;
		}
	} else if (sla_pause(conf, t, now) != IM_OK) {
		return IM_ERR;
	}
	if (sqlite3_prepare_v2(db, "UPDATE desk_ticket SET status = ?1, updated = ?2, "
	                       "resolved = CASE WHEN ?1 = 'resolved' THEN ?2 WHEN ?1 = 'open' THEN NULL ELSE resolved END, "
	                       "closed = CASE WHEN ?1 = 'closed' THEN ?2 WHEN ?1 = 'open' THEN NULL ELSE closed END "
	                       "WHERE id = ?3", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, now) == SQLITE_OK && sqlite3_bind_int64(st, 3, t->id) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		rc = IM_OK;
	sqlite3_finalize(st);
	if (rc != IM_OK)
		return IM_ERR;
	snprintf(old, sizeof old, "%s", t->status);
	snprintf(t->status, sizeof t->status, "%s", to);
	if (sla_refresh(db, conf, t) != IM_OK)
		return IM_ERR;
	return event(db, t->id, now, actor, "status", old, to, 0, ev);
}

/* Follows merged_into (bounded: a merge chain longer than 16 is a bug). */
static int resolve_merged(sqlite3 *db, int64_t id, ticket *t)
{
	int i, rc;

	for (i = 0; i < 16; i++) {
		if ((rc = load(db, id, t)) != IM_OK)
			return rc;
		if (t->merged_into == 0)
			return IM_OK;
		id = t->merged_into;
	}
	return IM_ERR;
}

static int insert_fts(sqlite3 *db, int64_t rowid, int64_t tk, int public_, const char *text)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	if (sqlite3_prepare_v2(db, "INSERT INTO desk_fts(rowid, text, ticket, public) VALUES(?,?,?,?)",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, rowid) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 3, tk) == SQLITE_OK && sqlite3_bind_int(st, 4, public_) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		rc = IM_OK;
	sqlite3_finalize(st);
	return rc;
}

/* Inserts a post; IM_EBUSY when (ticket, idem) exists already. */
static int insert_post(sqlite3 *db, int64_t tk, const char *author, int note, const char *body,
                       const char *fts_text, const char *idem, int64_t now, int64_t *post)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR, s;

	if (sqlite3_prepare_v2(db, "INSERT INTO desk_post(ticket_id, author, kind, body, ts, idem) "
	                       "VALUES(?,?,?,?,?,?) ON CONFLICT(ticket_id, idem) DO NOTHING", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, tk) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, author, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, note ? "note" : "public", -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, now) != SQLITE_OK ||
	    (idem && *idem ? sqlite3_bind_text(st, 6, idem, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 6)) != SQLITE_OK)
		goto out;
	s = sqlite3_step(st);
	if (s != SQLITE_DONE)
		goto out;
	if (sqlite3_changes(db) == 0) {
		rc = IM_EBUSY;
		goto out;
	}
	*post = sqlite3_last_insert_rowid(db);
	rc = insert_fts(db, *post, tk, !note, fts_text ? fts_text : body);
out:
	sqlite3_finalize(st);
	return rc;
}

/* The ticket an earlier message with this (author, idem) opened or joined. */
static int find_idem(sqlite3 *db, const char *author, const char *idem, int64_t *tk)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR, s;

	if (sqlite3_prepare_v2(db, "SELECT ticket_id FROM desk_post WHERE author = ? AND idem = ? LIMIT 1",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, author, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, idem, -1, SQLITE_STATIC) == SQLITE_OK) {
		s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			*tk = sqlite3_column_int64(st, 0);
			rc = IM_OK;
		} else if (s == SQLITE_DONE) {
			rc = IM_ENOTFOUND;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int customer_of(sqlite3 *db, const char *jid, int64_t *cust)
{
	const char *dom = strchr(jid, '@');
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR, s;

	*cust = -1;
	dom = dom ? dom + 1 : jid;
	if (sqlite3_prepare_v2(db, "SELECT customer_id FROM domain WHERE name = ? AND customer_id IS NOT NULL",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, dom, -1, SQLITE_STATIC) == SQLITE_OK) {
		s = sqlite3_step(st);
		if (s == SQLITE_ROW)
			*cust = sqlite3_column_int64(st, 0);
		rc = s == SQLITE_ROW || s == SQLITE_DONE ? IM_OK : IM_ERR;
	}
	sqlite3_finalize(st);
	return rc;
}

static int open_locked(sqlite3 *db, const im_desk_conf *conf, const im_desk_new *n, int64_t now,
                       int64_t *ticket_out, int64_t *ev, int *dup)
{
	sqlite3_stmt *st = NULL;
	ticket t;
	int64_t cust, post;
	char *fts;
	int rc;

	if (n->idem && *n->idem && (rc = find_idem(db, n->requester, n->idem, ticket_out)) != IM_ENOTFOUND) {
		if (rc == IM_OK)
			*dup = 1;
		return rc;
	}
	if (customer_of(db, n->requester, &cust) != IM_OK)
		return IM_ERR;
	rc = IM_ERR;
	if (sqlite3_prepare_v2(db, "INSERT INTO desk_ticket(customer_id, requester, subject, category, priority, "
	                       "status, created, updated, sla_used, sla_since) VALUES(?,?,?,?,?,'new',?,?,0,?)",
	                       -1, &st, NULL) == SQLITE_OK &&
	    (cust >= 0 ? sqlite3_bind_int64(st, 1, cust) : sqlite3_bind_null(st, 1)) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, n->requester, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 3, n->subject, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 4, n->category, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 5, n->priority, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 6, now) == SQLITE_OK && sqlite3_bind_int64(st, 7, now) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 8, now) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		rc = IM_OK;
	sqlite3_finalize(st);
	if (rc != IM_OK)
		return rc;
	*ticket_out = sqlite3_last_insert_rowid(db);
	/* The opening post is indexed with the subject: one FTS row per post,
	 * rowids ascending with time (desk_query.c streams them newest first). */
	if ((fts = malloc(strlen(n->subject) + strlen(n->body) + 2)) == NULL)
		return IM_ERR;
	sprintf(fts, "%s\n%s", n->subject, n->body);
	rc = insert_post(db, *ticket_out, n->requester, 0, n->body, fts, n->idem, now, &post);
	free(fts);
	if (rc != IM_OK || load(db, *ticket_out, &t) != IM_OK || sla_refresh(db, conf, &t) != IM_OK)
		return IM_ERR;
	return event(db, *ticket_out, now, n->requester, "created", NULL, "new", post, ev);
}

int im_desk_open_tx(sqlite3 *db, const im_desk_conf *conf, const im_desk_new *n, int64_t now,
                    int64_t *ticket_out, int64_t *ev, int *dup, const char **why)
{
	*dup = 0;
	*ev = 0;
	if (n->subject == NULL || *n->subject == '\0' || n->body == NULL || *n->body == '\0') {
		*why = "a ticket needs a subject and a message";
		return IM_EINVAL;
	}
	if (im_desk_prio_index(n->priority) < 0) {
		*why = "unknown priority";
		return IM_EINVAL;
	}
	return open_locked(db, conf, n, now, ticket_out, ev, dup);
}

int im_desk_open(sqlite3 *db, const im_desk_conf *conf, const im_desk_new *n, int64_t now,
                 int64_t *ticket_out, int64_t *ev, int *dup, const char **why)
{
	if (im_desk_begin(db) != IM_OK) {
		*why = "database busy";
		return IM_ERR;
	}
	return im_desk_finish(db, im_desk_open_tx(db, conf, n, now, ticket_out, ev, dup, why));
}

static int post_locked(sqlite3 *db, const im_desk_conf *conf, int64_t *tk, const char *author, int staff,
                       int note, const char *body, const char *idem, int64_t now, int64_t *ev, int *dup,
                       const char **why)
{
	ticket t;
	int64_t post, ignored;
	int rc;

	if ((rc = resolve_merged(db, *tk, &t)) != IM_OK) {
		*why = "no such ticket";
		return rc;
	}
	*tk = t.id;
	if (!staff && strcmp(t.status, "closed") == 0 &&
	    (!t.has_closed || now - t.closed > (int64_t)conf->reopen_days * 86400)) {
		*why = "this ticket is closed; please open a new ticket";
		return IM_EBUSY;
	}
	rc = insert_post(db, t.id, author, note, body, NULL, idem, now, &post);
	if (rc == IM_EBUSY) {   /* the same stanza again: stored once */
		*dup = 1;
		return IM_OK;
	}
	if (rc != IM_OK)
		return rc;
	if (event(db, t.id, now, author, note ? "note" : "reply", NULL, NULL, post, ev) != IM_OK ||
	    touch(db, t.id, now) != IM_OK)
		return IM_ERR;
	if (note)
		return IM_OK;
	if (staff) {
		if (!t.has_first) {
			sqlite3_stmt *st = NULL;
			if (t.has_due_first && now > t.due_first &&
			    event(db, t.id, now, author, "breach", NULL, "first", 0, NULL) != IM_OK)
				return IM_ERR;
			rc = IM_ERR;
			if (sqlite3_prepare_v2(db, "UPDATE desk_ticket SET first_response = ? WHERE id = ?", -1, &st,
			                       NULL) == SQLITE_OK &&
			    sqlite3_bind_int64(st, 1, now) == SQLITE_OK && sqlite3_bind_int64(st, 2, t.id) == SQLITE_OK &&
			    sqlite3_step(st) == SQLITE_DONE)
				rc = IM_OK;
			sqlite3_finalize(st);
			if (rc != IM_OK)
				return rc;
			t.has_first = 1;
			if (sla_refresh(db, conf, &t) != IM_OK)
				return IM_ERR;
		}
		if (strcmp(t.status, "new") == 0)
			return change_status(db, conf, &t, author, "open", now, &ignored, why);
		return IM_OK;
	}
	/* The customer answered: the ball is back with the desk. */
	if (strcmp(t.status, "waiting") == 0 || strcmp(t.status, "resolved") == 0 ||
	    strcmp(t.status, "closed") == 0)
		return change_status(db, conf, &t, author, "open", now, &ignored, why);
	return IM_OK;
}

int im_desk_post_tx(sqlite3 *db, const im_desk_conf *conf, int64_t *tk, const char *author, int staff,
                    int note, const char *body, const char *idem, int64_t now, int64_t *ev, int *dup,
                    const char **why)
{
	*dup = 0;
	*ev = 0;
	if (body == NULL || *body == '\0') {
		*why = "empty message";
		return IM_EINVAL;
	}
	if (note && !staff) {
		*why = "only staff add internal notes";
		return IM_EINVAL;
	}
	return post_locked(db, conf, tk, author, staff, note, body, idem, now, ev, dup, why);
}

int im_desk_post(sqlite3 *db, const im_desk_conf *conf, int64_t *tk, const char *author, int staff,
                 int note, const char *body, const char *idem, int64_t now, int64_t *ev, int *dup,
                 const char **why)
{
	if (im_desk_begin(db) != IM_OK) {
		*why = "database busy";
		return IM_ERR;
	}
	return im_desk_finish(db, im_desk_post_tx(db, conf, tk, author, staff, note, body, idem, now, ev, dup, why));
}

int im_desk_set_status_tx(sqlite3 *db, const im_desk_conf *conf, int64_t tk, const char *actor,
                          const char *to, int64_t now, int64_t *ev, const char **why)
{
	ticket t;
	int rc = load(db, tk, &t);

	if (rc == IM_ENOTFOUND)
		*why = "no such ticket";
	else if (rc == IM_OK && t.merged_into) {
		*why = "this ticket was merged into another; change that one";
		rc = IM_EBUSY;
	} else if (rc == IM_OK)
		rc = change_status(db, conf, &t, actor, to, now, ev, why);
	return rc;
}

int im_desk_set_status(sqlite3 *db, const im_desk_conf *conf, int64_t tk, const char *actor,
                       const char *to, int64_t now, int64_t *ev, const char **why)
{
	if (im_desk_begin(db) != IM_OK) {
		*why = "database busy";
		return IM_ERR;
	}
	return im_desk_finish(db, im_desk_set_status_tx(db, conf, tk, actor, to, now, ev, why));
}

int im_desk_set_priority(sqlite3 *db, const im_desk_conf *conf, int64_t tk, const char *actor,
                         const char *prio, int64_t now, int64_t *ev, const char **why)
{
	ticket t;
	char old[16];
	int rc;

	if (im_desk_prio_index(prio) < 0) {
		*why = "unknown priority";
		return IM_EINVAL;
	}
	if (im_desk_begin(db) != IM_OK) {
		*why = "database busy";
		return IM_ERR;
	}
	rc = load(db, tk, &t);
	if (rc == IM_ENOTFOUND)
		*why = "no such ticket";
	if (rc == IM_OK && strcmp(t.priority, prio) == 0) {
		*why = "the ticket already has that priority";
		rc = IM_EBUSY;
	}
	if (rc == IM_OK) {
		sqlite3_stmt *st = NULL;
		rc = IM_ERR;
		if (sqlite3_prepare_v2(db, "UPDATE desk_ticket SET priority = ?, updated = ? WHERE id = ?", -1, &st,
		                       NULL) == SQLITE_OK &&
		    sqlite3_bind_text(st, 1, prio, -1, SQLITE_STATIC) == SQLITE_OK &&
		    sqlite3_bind_int64(st, 2, now) == SQLITE_OK && sqlite3_bind_int64(st, 3, tk) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_DONE)
			rc = IM_OK;
		sqlite3_finalize(st);
		snprintf(old, sizeof old, "%s", t.priority);
		snprintf(t.priority, sizeof t.priority, "%s", prio);
		/* Bank the time run so far, then restart: the new targets apply to
		 * the business time already used (Zammad/GLPI recompute bug). */
		if (rc == IM_OK && t.has_since) {
			if (sla_pause(conf, &t, now) != IM_OK)
				rc = IM_ERR;
			t.has_since = 1;
			t.sla_since = now;
		}
		if (rc == IM_OK && (sla_refresh(db, conf, &t) != IM_OK ||
		                    event(db, tk, now, actor, "priority", old, prio, 0, ev) != IM_OK))
			rc = IM_ERR;
	}
	return im_desk_finish(db, rc);
}

int im_desk_assign(sqlite3 *db, int64_t tk, const char *actor, const char *assignee,
                   int only_if_unassigned, int64_t now, int64_t *ev, const char **why)
{
	sqlite3_stmt *st = NULL;
	ticket t;
	int rc;

	if (im_desk_begin(db) != IM_OK) {
		*why = "database busy";
		return IM_ERR;
	}
	rc = load(db, tk, &t);
	if (rc == IM_ENOTFOUND)
		*why = "no such ticket";
	if (rc == IM_OK && only_if_unassigned && t.assignee[0]) {
		*why = strcmp(t.assignee, actor) == 0 ? "you already hold this ticket"
		                                      : "another technician holds this ticket";
		rc = IM_EBUSY;
	}
	if (rc == IM_OK && assignee && strcmp(t.assignee, assignee) == 0) {
		*why = "already assigned to them";
		rc = IM_EBUSY;
	}
	if (rc == IM_OK) {
		rc = IM_ERR;
		if (sqlite3_prepare_v2(db, "UPDATE desk_ticket SET assignee = ?, updated = ? WHERE id = ?", -1, &st,
		                       NULL) == SQLITE_OK &&
		    (assignee ? sqlite3_bind_text(st, 1, assignee, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 1)) == SQLITE_OK &&
		    sqlite3_bind_int64(st, 2, now) == SQLITE_OK && sqlite3_bind_int64(st, 3, tk) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_DONE)
			rc = event(db, tk, now, actor, "assign", t.assignee[0] ? t.assignee : NULL, assignee, 0, ev);
		sqlite3_finalize(st);
	}
	return im_desk_finish(db, rc);
}

static int merge_locked(sqlite3 *db, int64_t src, int64_t target, const char *actor, int64_t now,
                        int64_t *ev, const char **why)
{
	sqlite3_stmt *st = NULL;
	ticket s, t;
	char num[32];
	int rc;

	if (src == target) {
		*why = "a ticket cannot be merged into itself";
		return IM_EINVAL;
	}
	if ((rc = load(db, src, &s)) != IM_OK || (rc = load(db, target, &t)) != IM_OK) {
		*why = "no such ticket";
		return rc;
	}
	if (s.merged_into || t.merged_into) {
		*why = "one of the tickets was already merged";
		return IM_EBUSY;
	}
	rc = IM_ERR;
	/* Closed without a status event of its own: the merge event says why. */
	if (sqlite3_prepare_v2(db, "UPDATE desk_ticket SET merged_into = ?, status = 'closed', closed = ?, "
	                       "updated = ?, sla_since = NULL, due_first = NULL, due_resolve = NULL WHERE id = ?",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, target) == SQLITE_OK && sqlite3_bind_int64(st, 2, now) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 3, now) == SQLITE_OK && sqlite3_bind_int64(st, 4, src) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		rc = IM_OK;
	sqlite3_finalize(st);
	if (rc != IM_OK)
		return rc;
	snprintf(num, sizeof num, "%lld", (long long)target);
	if (event(db, src, now, actor, "merge", s.status, num, 0, NULL) != IM_OK)
		return IM_ERR;
	snprintf(num, sizeof num, "%lld", (long long)src);
	if (touch(db, target, now) != IM_OK)
		return IM_ERR;
	return event(db, target, now, actor, "merged", NULL, num, 0, ev);
}

int im_desk_merge(sqlite3 *db, int64_t src, int64_t target, const char *actor, int64_t now,
                  int64_t *ev, const char **why)
{
	if (im_desk_begin(db) != IM_OK) {
		*why = "database busy";
		return IM_ERR;
	}
	return im_desk_finish(db, merge_locked(db, src, target, actor, now, ev, why));
}
