/*
 * desk_query.c — reading the desk: ticket lists (customer "My tickets" and
 * the technicians' queues), one ticket with its thread, reports.
 *
 * Lists are one prepared statement whose optional filters are written as
 * "(?n IS NULL OR column = ?n)", so the SQL text is constant and every value
 * is bound.  A keyword goes through im_fts_query (the logs' escaping: user
 * text never becomes FTS5 syntax); customers match only public text (their
 * subjects and public posts), never notes.
 */
#include <stdlib.h>
#include <string.h>

#include "desk.h"
#include "imhost_err.h"
#include "logsearch.h"

#define FTS_MAX 2048

static json_t *col_or_null(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL: return json_null();
	case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
	default: return json_string((const char *)sqlite3_column_text(st, i));
	}
}

/* The filters other than the keyword.  The first %s is "?10 IS NULL" or,
 * for the staff keyword plan, "t.id = ?10" (a primary-key lookup: an OR
 * there would make SQLite scan the table for every candidate). */
static const char list_sql[] =
	"SELECT t.id, t.subject, t.category, t.priority, t.status, t.assignee, t.requester, t.created, "
	"t.updated, t.due_first, t.due_resolve, t.merged_into FROM desk_ticket t "
	"WHERE (?1 IS NULL OR t.requester = ?1) AND (?2 IS NULL OR t.status = ?2) "
	/* "+": walk ids (newest/oldest first), not the created index. */
	"AND +t.created >= ?3 AND +t.created < ?4 "
	"AND (?6 = 0 OR (t.assignee IS NULL AND t.status IN ('new','open','waiting'))) "
	"AND (?7 IS NULL OR (t.assignee = ?7 AND t.status IN ('new','open','waiting'))) "
	"AND (?8 IS NULL OR (t.status IN ('new','open') AND "
	"     (t.due_first < ?8 OR t.due_resolve < ?8))) "
	"AND %s ORDER BY t.id %s LIMIT ?9";

/* A customer's tickets are few: each is checked against its public posts
 * (FTS lookups by rowid). */
#define CUSTOMER_SCAN_MAX 5000

/* Up to this many tickets in a date range, the staff keyword stream is also
 * bounded above by the range's newest post (stream_plan): the bound costs one
 * index seek per ticket, about 1 us each. */
#define NARROW_TICKETS 5000

static json_t *row_json(sqlite3_stmt *st, int64_t now)
{
	int64_t df = sqlite3_column_int64(st, 9), dr = sqlite3_column_int64(st, 10);
	int over = (sqlite3_column_type(st, 9) != SQLITE_NULL && df < now) ||
	           (sqlite3_column_type(st, 10) != SQLITE_NULL && dr < now);

	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I,s:o,s:o,s:o,s:b}",
		"number", (json_int_t)sqlite3_column_int64(st, 0),
		"subject", (const char *)sqlite3_column_text(st, 1),
		"category", (const char *)sqlite3_column_text(st, 2),
		"priority", (const char *)sqlite3_column_text(st, 3),
		"status", (const char *)sqlite3_column_text(st, 4),
		"assignee", col_or_null(st, 5),
		"requester", (const char *)sqlite3_column_text(st, 6),
		"created", (json_int_t)sqlite3_column_int64(st, 7),
		"updated", (json_int_t)sqlite3_column_int64(st, 8),
		"due_first", col_or_null(st, 9), "due_resolve", col_or_null(st, 10),
		"merged_into", col_or_null(st, 11), "overdue", over);
}

static int bind_filter(sqlite3_stmt *st, const im_desk_filter *f, int limit)
{
	const char *q = f->queue ? f->queue : "";

	return sqlite3_bind_text(st, 1, f->requester, -1, SQLITE_STATIC) == SQLITE_OK &&
	       sqlite3_bind_text(st, 2, f->status, -1, SQLITE_STATIC) == SQLITE_OK &&
	       sqlite3_bind_int64(st, 3, f->since) == SQLITE_OK &&
	       sqlite3_bind_int64(st, 4, f->until) == SQLITE_OK &&
	       sqlite3_bind_int(st, 6, strcmp(q, "unassigned") == 0) == SQLITE_OK &&
	       sqlite3_bind_text(st, 7, strcmp(q, "mine") == 0 ? f->me : NULL, -1, SQLITE_STATIC) == SQLITE_OK &&
	       (strcmp(q, "overdue") == 0 ? sqlite3_bind_int64(st, 8, f->now) : sqlite3_bind_null(st, 8)) == SQLITE_OK &&
	       sqlite3_bind_int(st, 9, limit) == SQLITE_OK ? IM_OK : IM_ERR;
}

/* Staff keyword plan: FTS matches streamed newest post first; each new
 * ticket is checked against the filters by primary key; stops at the
 * limit.  Results are ordered by their most recent matching post. */
static int stream_plan(sqlite3 *db, const im_desk_filter *f, const char *match, sqlite3_stmt *one, json_t *arr)
{
	sqlite3_stmt *fts = NULL, *rng = NULL, *top = NULL;
	unsigned char *seen = NULL;
	int64_t lo, hi, lo_post, hi_post;
	int rc = IM_ERR, s, fs = SQLITE_DONE;

	/* The tickets created in the range, as an id interval, and the first
	 * post of the lowest: posts are inserted after their ticket, so no post
	 * of a ticket in range has a smaller rowid.  Both bounds are exact; they
	 * keep a narrow date range from checking every matching ticket. */
	int ranged = f->since > 0 || f->until < INT64_MAX;

	if (sqlite3_prepare_v2(db, ranged ?
	                       "SELECT min(id), max(id), (SELECT min(p.id) FROM desk_post p WHERE p.ticket_id = "
	                       "(SELECT min(id) FROM desk_ticket WHERE created >= ?1 AND created < ?2)) "
	                       "FROM desk_ticket WHERE created >= ?1 AND created < ?2" :
	                       "SELECT (SELECT min(id) FROM desk_ticket), (SELECT max(id) FROM desk_ticket), 0 WHERE ?1 <= ?2", -1, &rng, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(rng, 1, f->since) != SQLITE_OK || sqlite3_bind_int64(rng, 2, f->until) != SQLITE_OK ||
	    sqlite3_step(rng) != SQLITE_ROW)
		goto out;
	if (sqlite3_column_type(rng, 0) == SQLITE_NULL) {   /* no ticket in range */
		rc = IM_OK;
		goto out;
	}
	lo = sqlite3_column_int64(rng, 0);
	hi = sqlite3_column_int64(rng, 1);
	lo_post = sqlite3_column_int64(rng, 2);
	hi_post = INT64_MAX;
	/* A narrow range (few tickets): its newest post, one index seek per
	 * ticket, bounds the stream from above too, so it starts among the
	 * range's posts instead of wading through every later match (two
	 * common words over ten days of 70: 24 ms -> see bench/desk.c).  A
	 * late reply only widens the bound; it stays exact. */
	if (ranged && hi - lo < NARROW_TICKETS) {
		if (sqlite3_prepare_v2(db, "SELECT max((SELECT max(p.id) FROM desk_post p WHERE p.ticket_id = t.id)) "
		                       "FROM desk_ticket t WHERE t.id BETWEEN ?1 AND ?2", -1, &top, NULL) != SQLITE_OK ||
		    sqlite3_bind_int64(top, 1, lo) != SQLITE_OK || sqlite3_bind_int64(top, 2, hi) != SQLITE_OK ||
		    sqlite3_step(top) != SQLITE_ROW)
			goto out;
		if (sqlite3_column_type(top, 0) != SQLITE_NULL)
			hi_post = sqlite3_column_int64(top, 0);
	}
	if ((seen = calloc((size_t)((hi - lo) / 8 + 1), 1)) == NULL ||
	    sqlite3_prepare_v2(db, "SELECT ticket FROM desk_fts WHERE desk_fts MATCH ?1 AND rowid >= ?2 "
	                       "AND rowid <= ?3 ORDER BY rowid DESC", -1, &fts, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(fts, 1, match, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(fts, 2, lo_post) != SQLITE_OK || sqlite3_bind_int64(fts, 3, hi_post) != SQLITE_OK)
		goto out;
	while ((int)json_array_size(arr) < f->limit && (fs = sqlite3_step(fts)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(fts, 0), b;
		if (id < lo || id > hi)
			continue;
		b = id - lo;
		if (seen[b / 8] & (1u << (b % 8)))
			continue;
		seen[b / 8] |= (unsigned char)(1u << (b % 8));
		if (sqlite3_reset(one) != SQLITE_OK || sqlite3_bind_int64(one, 10, id) != SQLITE_OK)
			goto out;
		s = sqlite3_step(one);
		if (s == SQLITE_ROW) {
			if (json_array_append_new(arr, row_json(one, f->now)) != 0)
				goto out;
		} else if (s != SQLITE_DONE) {
			goto out;
		}
	}
	if (fs == SQLITE_ROW || fs == SQLITE_DONE)   /* limit reached, or every match seen */
		rc = IM_OK;
out:
	sqlite3_finalize(fts);
	sqlite3_finalize(rng);
	sqlite3_finalize(top);
	free(seen);
	return rc;
}

/* Customer keyword plan: their tickets (indexed by requester), each checked
 * for a public post matching; notes are never searched for customers. */
static int customer_plan(sqlite3 *db, const im_desk_filter *f, const char *match, sqlite3_stmt *all, json_t *arr)
{
	sqlite3_stmt *posts = NULL, *chk = NULL;
	int rc = IM_ERR, s, ps, as = SQLITE_DONE, hit;

	if (sqlite3_prepare_v2(db, "SELECT id FROM desk_post WHERE ticket_id = ? AND kind = 'public'", -1, &posts,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM desk_fts WHERE desk_fts MATCH ?1 AND rowid = ?2", -1, &chk,
	                       NULL) != SQLITE_OK ||
	    sqlite3_bind_text(chk, 1, match, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	while ((int)json_array_size(arr) < f->limit && (as = sqlite3_step(all)) == SQLITE_ROW) {
		if (sqlite3_reset(posts) != SQLITE_OK ||
		    sqlite3_bind_int64(posts, 1, sqlite3_column_int64(all, 0)) != SQLITE_OK)
			goto out;
		hit = 0;
		while (!hit && (ps = sqlite3_step(posts)) == SQLITE_ROW) {
			if (sqlite3_reset(chk) != SQLITE_OK ||
			    sqlite3_bind_int64(chk, 2, sqlite3_column_int64(posts, 0)) != SQLITE_OK)
				goto out;
			s = sqlite3_step(chk);
			if (s != SQLITE_ROW && s != SQLITE_DONE)
				goto out;
			hit = s == SQLITE_ROW;
		}
		if (!hit && ps != SQLITE_DONE)
			goto out;
		if (hit && json_array_append_new(arr, row_json(all, f->now)) != 0)
			goto out;
	}
	if (as == SQLITE_ROW || as == SQLITE_DONE)
		rc = IM_OK;
out:
	sqlite3_finalize(posts);
	sqlite3_finalize(chk);
	return rc;
}

int im_desk_list(sqlite3 *db, const im_desk_filter *f, json_t **out, const char **why)
{
	sqlite3_stmt *st = NULL;
	char match[FTS_MAX], sql[sizeof list_sql + 32];
	json_t *arr = json_array();
	int s, rc = IM_ERR, terms = 0;

	*out = NULL;
	if (arr == NULL)
		return IM_ERR;
	if (f->keyword && (terms = im_fts_query(f->keyword, match, sizeof match)) < 0) {
		*why = "keyword too long";
		json_decref(arr);
		return IM_EINVAL;
	}
	/* Customers see newest first; queues are worked oldest first.  No
	 * searchable word ("!!!") means no keyword filter rather than no match. */
	snprintf(sql, sizeof sql, list_sql, terms > 0 && f->requester == NULL ? "t.id = ?10" : "?10 IS NULL",
	         f->queue ? "ASC" : "DESC");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (terms > 0 && f->requester == NULL) {
		if (bind_filter(st, f, 1) != IM_OK || stream_plan(db, f, match, st, arr) != IM_OK)
			goto out;
	} else if (terms > 0) {
		if (bind_filter(st, f, CUSTOMER_SCAN_MAX) != IM_OK || customer_plan(db, f, match, st, arr) != IM_OK)
			goto out;
	} else {
		if (bind_filter(st, f, f->limit) != IM_OK)
			goto out;
		while ((s = sqlite3_step(st)) == SQLITE_ROW)
			if (json_array_append_new(arr, row_json(st, f->now)) != 0)
				goto out;
		if (s != SQLITE_DONE)
			goto out;
	}
	*out = json_pack("{s:o}", "tickets", arr);
	arr = NULL;
	rc = *out ? IM_OK : IM_ERR;
out:
	if (rc == IM_ERR)
		*why = sqlite3_errmsg(db);
	sqlite3_finalize(st);
	json_decref(arr);
	return rc;
}

int im_desk_owner(sqlite3 *db, int64_t tk, char **requester, char status[16])
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR, s;

	*requester = NULL;
	if (sqlite3_prepare_v2(db, "SELECT requester, status FROM desk_ticket WHERE id = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, tk) == SQLITE_OK) {
		s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			*requester = strdup((const char *)sqlite3_column_text(st, 0));
			snprintf(status, 16, "%s", (const char *)sqlite3_column_text(st, 1));
			rc = *requester ? IM_OK : IM_ERR;
		} else if (s == SQLITE_DONE) {
			rc = IM_ENOTFOUND;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int im_desk_view(sqlite3 *db, int64_t tk, int staff, int64_t now, json_t **out)
{
	sqlite3_stmt *st = NULL;
	json_t *o = NULL, *posts = json_array(), *merged = json_array();
	int rc = IM_ERR, s;

	*out = NULL;
	if (posts == NULL || merged == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT id, subject, category, priority, status, assignee, requester, created, "
	                       "updated, due_first, due_resolve, merged_into, first_response, resolved, closed "
	                       "FROM desk_ticket WHERE id = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, tk) != SQLITE_OK)
		goto out;
	s = sqlite3_step(st);
	if (s != SQLITE_ROW) {
		rc = s == SQLITE_DONE ? IM_ENOTFOUND : IM_ERR;
		goto out;
	}
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}",
		"number", (json_int_t)sqlite3_column_int64(st, 0),
		"subject", (const char *)sqlite3_column_text(st, 1),
		"category", (const char *)sqlite3_column_text(st, 2),
		"priority", (const char *)sqlite3_column_text(st, 3),
		"status", (const char *)sqlite3_column_text(st, 4),
		"assignee", col_or_null(st, 5), "requester", (const char *)sqlite3_column_text(st, 6),
		"created", (json_int_t)sqlite3_column_int64(st, 7),
		"updated", (json_int_t)sqlite3_column_int64(st, 8),
		"due_first", col_or_null(st, 9), "due_resolve", col_or_null(st, 10),
		"merged_into", col_or_null(st, 11), "first_response", col_or_null(st, 12),
		"resolved", col_or_null(st, 13), "closed", col_or_null(st, 14));
	sqlite3_finalize(st);
	st = NULL;
	if (o == NULL)
		goto out;
	/* The thread: this ticket's posts and those of tickets merged into it.
	 * Notes are filtered in SQL for customers: they never leave the db. */
	if (sqlite3_prepare_v2(db, "SELECT p.id, p.ticket_id, p.author, p.kind, p.body, p.ts FROM desk_post p "
	                       "WHERE (p.ticket_id = ?1 OR p.ticket_id IN (SELECT id FROM desk_ticket WHERE merged_into = ?1)) "
	                       "AND (?2 OR p.kind = 'public') ORDER BY p.ts, p.id", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, tk) != SQLITE_OK || sqlite3_bind_int(st, 2, staff != 0) != SQLITE_OK)
		goto out;
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		if (json_array_append_new(posts, json_pack("{s:I,s:I,s:s,s:s,s:s,s:I}",
			"id", (json_int_t)sqlite3_column_int64(st, 0), "ticket", (json_int_t)sqlite3_column_int64(st, 1),
			"author", (const char *)sqlite3_column_text(st, 2), "kind", (const char *)sqlite3_column_text(st, 3),
			"body", (const char *)sqlite3_column_text(st, 4), "ts", (json_int_t)sqlite3_column_int64(st, 5))) != 0)
			goto out;
	if (s != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT id FROM desk_ticket WHERE merged_into = ? ORDER BY id", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, tk) != SQLITE_OK)
		goto out;
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(merged, json_integer(sqlite3_column_int64(st, 0)));
	if (s != SQLITE_DONE)
		goto out;
	json_object_set_new(o, "merged_from", merged);
	json_object_set_new(o, "thread", posts);
	json_object_set_new(o, "overdue", json_boolean(
		(json_is_integer(json_object_get(o, "due_first")) && json_integer_value(json_object_get(o, "due_first")) < now) ||
		(json_is_integer(json_object_get(o, "due_resolve")) && json_integer_value(json_object_get(o, "due_resolve")) < now)));
	merged = posts = NULL;
	*out = o;
	o = NULL;
	rc = IM_OK;
out:
	sqlite3_finalize(st);
	json_decref(o);
	json_decref(posts);
	json_decref(merged);
	return rc;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* {count, mean, p50, p90} of the durations `sql` selects (bound since/until). */
static json_t *durations(sqlite3 *db, const char *sql, int64_t since, int64_t until)
{
	sqlite3_stmt *st = NULL;
	int64_t *v = NULL, sum = 0;
	size_t n = 0, cap = 0;
	json_t *r = NULL;
	int s;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, since) != SQLITE_OK || sqlite3_bind_int64(st, 2, until) != SQLITE_OK)
		goto out;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			int64_t *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
			if (nv == NULL)
				goto out;
			v = nv;
		}
		v[n] = sqlite3_column_int64(st, 0);
		sum += v[n++];
	}
	if (s != SQLITE_DONE)
		goto out;
	if (n > 1)
		qsort(v, n, sizeof *v, cmp64);
	r = n ? json_pack("{s:I,s:I,s:I,s:I}", "count", (json_int_t)n, "mean_s", (json_int_t)(sum / (int64_t)n),
	                  "p50_s", (json_int_t)v[(n - 1) / 2], "p90_s", (json_int_t)v[(n - 1) * 9 / 10])
	      : json_pack("{s:i,s:n,s:n,s:n}", "count", 0, "mean_s", "p50_s", "p90_s");
out:
	sqlite3_finalize(st);
	free(v);
	return r;
}

int im_desk_report(sqlite3 *db, int64_t since, int64_t until, int64_t now, json_t **out)
{
	sqlite3_stmt *st = NULL;
	json_t *cats = json_object(), *fr = NULL, *res = NULL, *r = NULL;
	int64_t b_first = 0, b_res = 0, overdue = 0;
	int s, rc = IM_ERR;

	*out = NULL;
	if (cats == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT category, count(*) FROM desk_ticket WHERE status IN ('new','open','waiting') "
	                       "AND merged_into IS NULL GROUP BY category ORDER BY category", -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		json_object_set_new(cats, (const char *)sqlite3_column_text(st, 0), json_integer(sqlite3_column_int64(st, 1)));
	if (s != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	fr = durations(db, "SELECT first_response - created FROM desk_ticket WHERE first_response IS NOT NULL "
	                   "AND created >= ?1 AND created < ?2", since, until);
	res = durations(db, "SELECT resolved - created FROM desk_ticket WHERE resolved IS NOT NULL "
	                    "AND created >= ?1 AND created < ?2", since, until);
	if (fr == NULL || res == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT sum(e.new = 'first'), sum(e.new = 'resolve') FROM desk_event e "
	                       "JOIN desk_ticket t ON t.id = e.ticket_id WHERE e.kind = 'breach' "
	                       "AND t.created >= ?1 AND t.created < ?2", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, since) != SQLITE_OK || sqlite3_bind_int64(st, 2, until) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	b_first = sqlite3_column_int64(st, 0);
	b_res = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM desk_ticket WHERE status IN ('new','open') "
	                       "AND (due_first < ?1 OR due_resolve < ?1)", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, now) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto out;
	overdue = sqlite3_column_int64(st, 0);
	r = json_pack("{s:I,s:I,s:O,s:O,s:O,s:{s:I,s:I,s:I}}", "since", (json_int_t)since, "until", (json_int_t)until,
	              "open_per_category", cats, "first_response", fr, "resolution", res,
	              "sla_breaches", "first_response", (json_int_t)b_first, "resolution", (json_int_t)b_res,
	              "overdue_now", (json_int_t)overdue);
	if (r) {
		*out = r;
		rc = IM_OK;
	}
out:
	sqlite3_finalize(st);
	json_decref(cats);
	json_decref(fr);
	json_decref(res);
	return rc;
}
