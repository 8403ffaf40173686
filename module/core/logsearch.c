/*
 * logsearch.c — see logsearch.h.
 *
 * Why three plans: with 10^6 entries a keyword can match 10 rows or 500,000.
 * Materialising every FTS match (IM_PLAN_FTS) costs about a microsecond per
 * match, so it is right for rare words.  For a common word the better plan walks
 * the filter's (column, ts) index newest first and asks FTS about each row
 * by rowid (IM_PLAN_INDEX_CHECK): tens of microseconds per row, but dense
 * matches fill a page after a few rows.  We probe both sizes with capped
 * counts (a few milliseconds at most) and pick; both plans return the same rows.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imhost_err.h"
#include "logsearch.h"

/* Probe caps and the cost ratio between the plans (see the bench). */
#define CAND_CAP  20000     /* candidate rows counted at most */
#define FTS_CAP   20000     /* FTS matches counted at most */
#define CHECK_COST 25       /* an index row + FTS rowid check costs ~25 FTS matches */
#define MAX_TERMS 16

static void set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*err);
	*err = s;
}

/* --- keyword -> FTS5 query ----------------------------------------------------- */

static int searchable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80)
			return 1;
	}
	return 0;
}

/* Appends `"text"` (quotes doubled) and ` *` when prefix. */
static int emit(char *out, size_t outsz, size_t *len, const char *s, size_t n, int prefix)
{
	size_t i, need = n + 6;

	for (i = 0; i < n; i++)
		need += s[i] == '"';
	if (*len + need >= outsz)
		return -1;
	if (*len)
		out[(*len)++] = ' ';
	out[(*len)++] = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			out[(*len)++] = '"';
		out[(*len)++] = s[i];
	}
	out[(*len)++] = '"';
	if (prefix) {
		out[(*len)++] = ' ';
		out[(*len)++] = '*';
	}
	out[*len] = '\0';
	return 0;
}

int im_fts_query(const char *kw, char *out, size_t outsz)
{
	const char *p = kw;
	size_t len = 0;
	int terms = 0;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	while (p && *p && terms < MAX_TERMS) {
		const char *s;
		size_t n;
		int prefix = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '\0')
			break;
		if (*p == '"') {                 /* phrase; an unbalanced quote runs to the end */
			s = ++p;
			while (*p && *p != '"')
				p++;
			n = (size_t)(p - s);
			if (*p == '"')
				p++;
			if (*p == '*') {         /* "a phrase"* : prefix on the last word */
				prefix = 1;
				while (*p == '*')
					p++;
			}
		} else {
			s = p;
			while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '"')
				p++;
			n = (size_t)(p - s);
			while (n > 0 && s[n - 1] == '*') {   /* trailing * only: a prefix marker */
				n--;
				prefix = 1;
			}
		}
		if (!searchable(s, n))
			continue;
		if (emit(out, outsz, &len, s, n, prefix) != 0)
			return -1;
		terms++;
	}
	return terms;
}

/* --- cursor ---------------------------------------------------------------------- */

static void cursor_make(char *buf, size_t sz, int64_t ts, int64_t id)
{
	snprintf(buf, sz, "%" PRIx64 "-%" PRIx64, (uint64_t)ts, (uint64_t)id);
}

static int cursor_read(const char *c, int64_t *ts, int64_t *id)
{
	uint64_t a, b;
	int n = 0;

	if (strlen(c) > 40 || strspn(c, "0123456789abcdef-") != strlen(c) ||
	    sscanf(c, "%16" SCNx64 "-%16" SCNx64 "%n", &a, &b, &n) != 2 || c[n] != '\0' ||
	    a > INT64_MAX || b > INT64_MAX)
		return IM_EINVAL;
	*ts = (int64_t)a;
	*id = (int64_t)b;
	return IM_OK;
}

/* --- SQL ---------------------------------------------------------------------------- */

typedef struct { char s[4096]; size_t n; int overflow; } sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	r = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof b->s - b->n)
		b->overflow = 1;
	else
		b->n += (size_t)r;
}

/* Parameter numbers, shared by every statement built here. */
enum { P_DOMAIN = 1, P_ROOM, P_KIND, P_SINCE, P_UNTIL, P_CTS, P_CID, P_USER, P_MATCH, P_LIMIT };

#define COLS "m.id, m.ts, m.domain, m.sender, m.recipient, m.room, m.kind, m.stanza_id, " \
             "m.size, m.body, m.encrypted, m.truncated"

enum side { SIDE_NONE, SIDE_SENDER, SIDE_RECIPIENT };
enum kwmode { KW_NONE, KW_IN, KW_EXISTS };

/* One branch: rows from one index, filters, keyword mode, newest first.
 * what: 0 rows, 1 count probe. */
static void branch(sbuf *b, const im_search_q *q, int has_cursor, enum side side,
                   enum kwmode kw, int count)
{
	const char *index;

	if (side == SIDE_SENDER)
		index = "log_message_sender_ts";
	else if (side == SIDE_RECIPIENT)
		index = "log_message_recipient_ts";
	else if (q->room)
		index = "log_message_room_ts";
	else if (q->domain)
		index = "log_message_domain_ts";
	else
		index = "log_message_ts";
	/* In IM_PLAN_FTS the planner should be free to start from the FTS rowids. */
	if (kw == KW_IN)
		sb_add(b, "SELECT %s FROM log_message m WHERE 1", count ? "1" : COLS);
	else
		sb_add(b, "SELECT %s FROM log_message m INDEXED BY %s WHERE 1", count ? "1" : COLS, index);
	if (side == SIDE_SENDER)
		sb_add(b, " AND m.sender = ?%d", P_USER);
	if (side == SIDE_RECIPIENT)   /* a note to oneself is found by the sender branch */
		sb_add(b, " AND m.recipient = ?%d AND m.sender <> ?%d", P_USER, P_USER);
	if (q->domain)
		sb_add(b, " AND m.domain = ?%d", P_DOMAIN);
	if (q->room)
		sb_add(b, " AND m.room = ?%d", P_ROOM);
	if (q->kind)
		sb_add(b, " AND m.kind = ?%d", P_KIND);
	sb_add(b, " AND m.ts >= ?%d AND m.ts < ?%d", P_SINCE, P_UNTIL);
	if (has_cursor)
		sb_add(b, " AND m.ts <= ?%d AND (m.ts < ?%d OR m.id < ?%d)", P_CTS, P_CTS, P_CID);
	if (kw == KW_IN)
		sb_add(b, " AND m.id IN (SELECT rowid FROM log_message_fts WHERE log_message_fts MATCH ?%d)", P_MATCH);
	else if (kw == KW_EXISTS)
		sb_add(b, " AND EXISTS (SELECT 1 FROM log_message_fts WHERE log_message_fts MATCH ?%d"
		          " AND rowid = m.id)", P_MATCH);
	if (count)
		sb_add(b, " LIMIT %d", CAND_CAP);
	else
		sb_add(b, " ORDER BY m.ts DESC, m.id DESC LIMIT ?%d", P_LIMIT);
}

static void build(sbuf *b, const im_search_q *q, int has_cursor, enum kwmode kw, int count)
{
	if (count)
		sb_add(b, "SELECT count(*) FROM (");
	if (q->user) {
		sb_add(b, "SELECT * FROM (");
		branch(b, q, has_cursor, SIDE_SENDER, kw, count);
		sb_add(b, ") UNION ALL SELECT * FROM (");
		branch(b, q, has_cursor, SIDE_RECIPIENT, kw, count);
		sb_add(b, ")");
		if (!count)
			sb_add(b, " ORDER BY 2 DESC, 1 DESC LIMIT ?%d", P_LIMIT);
	} else {
		branch(b, q, has_cursor, SIDE_NONE, kw, count);
	}
	if (count)
		sb_add(b, ")");
}

/* Binds every parameter the statement uses (unused numbers are skipped). */
static int bind_all(sqlite3_stmt *st, const im_search_q *q, int64_t cts, int64_t cid,
                    const char *match, int limit)
{
	int i, n = sqlite3_bind_parameter_count(st), rc = SQLITE_OK;

	for (i = 1; i <= n && rc == SQLITE_OK; i++) {
		switch (i) {
		case P_DOMAIN: rc = q->domain ? sqlite3_bind_text(st, i, q->domain, -1, SQLITE_STATIC) : SQLITE_OK; break;
		case P_ROOM:   rc = q->room ? sqlite3_bind_text(st, i, q->room, -1, SQLITE_STATIC) : SQLITE_OK; break;
		case P_KIND:   rc = q->kind ? sqlite3_bind_text(st, i, q->kind, -1, SQLITE_STATIC) : SQLITE_OK; break;
		case P_SINCE:  rc = sqlite3_bind_int64(st, i, q->since); break;
		case P_UNTIL:  rc = sqlite3_bind_int64(st, i, q->until); break;
		case P_CTS:    rc = sqlite3_bind_int64(st, i, cts); break;
		case P_CID:    rc = sqlite3_bind_int64(st, i, cid); break;
		case P_USER:   rc = q->user ? sqlite3_bind_text(st, i, q->user, -1, SQLITE_STATIC) : SQLITE_OK; break;
		case P_MATCH:  rc = match ? sqlite3_bind_text(st, i, match, -1, SQLITE_STATIC) : SQLITE_OK; break;
		case P_LIMIT:  rc = sqlite3_bind_int(st, i, limit); break;
		}
	}
	return rc;
}

/* Runs a count statement; -1 on error. */
static int64_t count_query(sqlite3 *db, const char *sql, const im_search_q *q, int64_t cts,
                           int64_t cid, const char *match)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    bind_all(st, q, cts, cid, match, 0) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? json_string((const char *)s) : json_null();
}

static json_t *row_json(sqlite3_stmt *st)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "ts", json_integer(sqlite3_column_int64(st, 1)));
	json_object_set_new(o, "domain", text_or_null(st, 2));
	json_object_set_new(o, "from", text_or_null(st, 3));
	json_object_set_new(o, "to", text_or_null(st, 4));
	json_object_set_new(o, "room", text_or_null(st, 5));
	json_object_set_new(o, "kind", text_or_null(st, 6));
	json_object_set_new(o, "stanza_id", text_or_null(st, 7));
	json_object_set_new(o, "size", json_integer(sqlite3_column_int64(st, 8)));
	json_object_set_new(o, "body", text_or_null(st, 9));
	json_object_set_new(o, "encrypted", text_or_null(st, 10));
	json_object_set_new(o, "truncated", json_boolean(sqlite3_column_int(st, 11)));
	return o;
}

int im_logsearch(sqlite3 *db, const im_search_q *q, json_t **out, im_search_info *info, char **err)
{
	char match[2048];
	int64_t cts = 0, cid = 0, cand = -1, fts = -1;
	int has_cursor = 0, terms = 0, n = 0, rc;
	enum kwmode kw = KW_NONE;
	sqlite3_stmt *st = NULL;
	json_t *items = NULL, *res;
	sbuf b;

	*out = NULL;
	if (q->limit < 1 || q->limit > 500) {
		set_err(err, "limit out of range");
		return IM_EINVAL;
	}
	if (q->cursor) {
		if (cursor_read(q->cursor, &cts, &cid) != IM_OK) {
			set_err(err, "malformed cursor");
			return IM_EINVAL;
		}
		has_cursor = 1;
	}
	if (q->keyword && (terms = im_fts_query(q->keyword, match, sizeof match)) < 0) {
		set_err(err, "keyword too long");
		return IM_EINVAL;
	}
	if (terms > 0) {
		/* Probe: how many rows do the filters allow, how many match the words? */
		memset(&b, 0, sizeof b);
		build(&b, q, has_cursor, KW_NONE, 1);
		cand = b.overflow ? -1 : count_query(db, b.s, q, cts, cid, NULL);
		snprintf(b.s, sizeof b.s,
		         "SELECT count(*) FROM (SELECT 1 FROM log_message_fts WHERE log_message_fts MATCH ?%d LIMIT %d)",
		         P_MATCH, FTS_CAP);
		fts = count_query(db, b.s, q, cts, cid, match);
		if (cand < 0 || fts < 0) {
			set_err(err, "search probe: %s", sqlite3_errmsg(db));
			return IM_ERR;
		}
		/* FTS plan when materialising the matches is cheaper than checking
		 * each candidate row; a common word (FTS_CAP reached) with many
		 * candidates is dense enough for the index walk to stop early. */
		kw = fts < FTS_CAP && fts <= cand * CHECK_COST ? KW_IN : KW_EXISTS;
		if (q->force_plan == IM_PLAN_FTS)
			kw = KW_IN;
		else if (q->force_plan == IM_PLAN_INDEX_CHECK)
			kw = KW_EXISTS;
	}
	memset(&b, 0, sizeof b);
	build(&b, q, has_cursor, kw, 0);
	if (b.overflow) {
		set_err(err, "search: query too long");
		return IM_ERR;
	}
	if (sqlite3_prepare_v2(db, b.s, -1, &st, NULL) != SQLITE_OK ||
	    bind_all(st, q, cts, cid, match, q->limit + 1) != SQLITE_OK) {
		set_err(err, "search: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return IM_ERR;
	}
	items = json_array();
	res = json_object();
	if (items == NULL || res == NULL)
		goto oom;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == q->limit) {          /* one more exists: hand out a cursor */
			char c[48];
			json_t *last = json_array_get(items, json_array_size(items) - 1);
			cursor_make(c, sizeof c, json_integer_value(json_object_get(last, "ts")),
			            json_integer_value(json_object_get(last, "id")));
			json_object_set_new(res, "next_cursor", json_string(c));
			break;
		}
		if (json_array_append_new(items, row_json(st)) != 0)
			goto oom;
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_err(err, "search: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		json_decref(items);
		json_decref(res);
		return IM_ERR;
	}
	sqlite3_finalize(st);
	if (json_object_get(res, "next_cursor") == NULL)
		json_object_set_new(res, "next_cursor", json_null());
	json_object_set_new(res, "items", items);
	if (info) {
		info->plan = kw == KW_NONE ? IM_PLAN_INDEX : kw == KW_IN ? IM_PLAN_FTS : IM_PLAN_INDEX_CHECK;
		info->candidates = cand;
		info->fts_matches = fts;
	}
	*out = res;
	return IM_OK;
oom:
	sqlite3_finalize(st);
	json_decref(items);
	json_decref(res);
	set_err(err, "out of memory");
	return IM_ERR;
}
