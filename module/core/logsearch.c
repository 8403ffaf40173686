/*
 * logsearch.c — see logsearch.h.
 *
 * Costs measured on 10^6 entries (bench/logsearch.c) decide the plans:
 *   - streaming FTS5 rowids of a term: ~0.1 us per match (a common word has
 *     600,000 matches: 55 ms to read them all);
 *   - reading (id, ts) from a (column, ts) index: ~0.1 us per row;
 *   - one FTS5 lookup "MATCH ? AND rowid = ?": ~12-25 us (a query start each time),
 *     so "walk the index, ask FTS per row" is ~250 times dearer per row;
 *   - SQLite's own "id IN (SELECT rowid ... MATCH ?)": ~1 us per match.
 * Hence IM_PLAN_MERGE for a keyword with an indexed filter (user, room, domain):
 * read the filter's candidates (id, ts) into memory, stream the FTS matches
 * newest rowid first inside the candidates' rowid range, keep the best
 * limit+1 hits, and stop as soon as no unseen candidate can beat them (a prefix
 * maximum of ts over candidates sorted by id proves it; ids need not follow ts
 * for this to be correct, only for it to be fast).  If a very common word meets
 * a sparse filter the stream could run long: once the rows streamed would pay
 * for checking every remaining candidate by lookup (CHECK_RATIO each), the
 * rest are checked one by one, newest first (ski-rental rule: never worse
 * than twice the better of the two), which ends quickly because a common
 * word fills a page in a few checks.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imhost_err.h"
#include "logsearch.h"

#define CAND_MAX   200000   /* more candidates than this: IM_PLAN_FTS (~20 ms to read) */
#define CHECK_RATIO 250     /* one per-candidate FTS lookup (~20 us) costs ~250 streamed rows */
#define WINDOW_AFTER 4096   /* matches streamed before a time window is turned into rowid bounds */
#define MAX_TERMS  16

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
enum { P_DOMAIN = 1, P_ROOM, P_KIND, P_SINCE, P_UNTIL, P_CTS, P_CID, P_USER, P_MATCH, P_LIMIT, P_ID };

#define COLS "m.id, m.ts, m.domain, m.sender, m.recipient, m.room, m.kind, m.stanza_id, " \
             "m.size, m.body, m.encrypted, m.truncated"

enum side { SIDE_NONE, SIDE_SENDER, SIDE_RECIPIENT, SIDE_EITHER };
enum what { W_ROWS, W_CANDIDATES, W_LOOKUP };

/* One branch: rows from one index with every filter.  W_ROWS: full rows newest
 * first (limit); W_CANDIDATES: (id, ts) only, unordered, at most CAND_MAX+1;
 * W_LOOKUP: (id, ts) of the one row ?P_ID if it passes the filters. */
static void branch(sbuf *b, const im_search_q *q, int has_cursor, enum side side, enum what w)
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
	if (w == W_LOOKUP)
		sb_add(b, "SELECT m.id, m.ts FROM log_message m WHERE m.id = ?%d", P_ID);
	else
		sb_add(b, "SELECT %s FROM log_message m INDEXED BY %s WHERE 1",
		       w == W_CANDIDATES ? "m.id, m.ts" : COLS, index);
	if (side == SIDE_SENDER)
		sb_add(b, " AND m.sender = ?%d", P_USER);
	if (side == SIDE_EITHER)
		sb_add(b, " AND (m.sender = ?%d OR m.recipient = ?%d)", P_USER, P_USER);
	/* A note to oneself is in both branches.  Rows: the recipient branch skips
	 * it.  Candidates: merge() drops the duplicate instead, because testing
	 * sender here would read every table row (9 ms instead of 0.2 ms for 2,000
	 * candidates) where the (recipient, ts) index alone suffices. */
	if (side == SIDE_RECIPIENT)
		sb_add(b, " AND m.recipient = ?%d", P_USER);
	if (side == SIDE_RECIPIENT && w != W_CANDIDATES)
		sb_add(b, " AND m.sender <> ?%d", P_USER);
	if (q->domain)
		sb_add(b, " AND m.domain = ?%d", P_DOMAIN);
	if (q->room)
		sb_add(b, " AND m.room = ?%d", P_ROOM);
	if (q->kind)
		sb_add(b, " AND m.kind = ?%d", P_KIND);
	sb_add(b, " AND m.ts >= ?%d AND m.ts < ?%d", P_SINCE, P_UNTIL);
	if (has_cursor)
		sb_add(b, " AND m.ts <= ?%d AND (m.ts < ?%d OR m.id < ?%d)", P_CTS, P_CTS, P_CID);
	if (w == W_CANDIDATES)
		sb_add(b, " LIMIT %d", CAND_MAX + 1);
	else if (w == W_ROWS)
		sb_add(b, " ORDER BY m.ts DESC, m.id DESC LIMIT ?%d", P_LIMIT);
}

static void build(sbuf *b, const im_search_q *q, int has_cursor, enum what w)
{
	if (w == W_LOOKUP) {
		branch(b, q, has_cursor, q->user ? SIDE_EITHER : SIDE_NONE, w);
		return;
	}
	if (!q->user) {
		branch(b, q, has_cursor, SIDE_NONE, w);
		return;
	}
	sb_add(b, "SELECT * FROM (");
	branch(b, q, has_cursor, SIDE_SENDER, w);
	sb_add(b, ") UNION ALL SELECT * FROM (");
	branch(b, q, has_cursor, SIDE_RECIPIENT, w);
	sb_add(b, ")");
	if (w != W_CANDIDATES)
		sb_add(b, " ORDER BY 2 DESC, 1 DESC LIMIT ?%d", P_LIMIT);
}

/* Binds every parameter the statement uses (unused numbers are skipped). */
static int bind_all(sqlite3_stmt *st, const im_search_q *q, int64_t cts, int64_t cid,
                    const char *match, int limit)
{
	int i, n = sqlite3_bind_parameter_count(st), rc = SQLITE_OK;

	for (i = 1; i <= n && rc == SQLITE_OK; i++) {
		if (sqlite3_bind_parameter_name(st, i) == NULL)
			continue;
		switch (i) {
		case P_DOMAIN: rc = sqlite3_bind_text(st, i, q->domain, -1, SQLITE_STATIC); break;
		case P_ROOM:   rc = sqlite3_bind_text(st, i, q->room, -1, SQLITE_STATIC); break;
		case P_KIND:   rc = sqlite3_bind_text(st, i, q->kind, -1, SQLITE_STATIC); break;
		case P_SINCE:  rc = sqlite3_bind_int64(st, i, q->since); break;
		case P_UNTIL:  rc = sqlite3_bind_int64(st, i, q->until); break;
		case P_CTS:    rc = sqlite3_bind_int64(st, i, cts); break;
		case P_CID:    rc = sqlite3_bind_int64(st, i, cid); break;
		case P_USER:   rc = sqlite3_bind_text(st, i, q->user, -1, SQLITE_STATIC); break;
		case P_MATCH:  rc = sqlite3_bind_text(st, i, match, -1, SQLITE_STATIC); break;
		case P_LIMIT:  rc = sqlite3_bind_int(st, i, limit); break;
		case P_ID:     break;   /* bound per row by the caller */
		}
	}
	return rc;
}

/* --- IM_PLAN_MERGE ---------------------------------------------------------------------- */

typedef struct { int64_t id, ts; } cand;

/* Keys compare by (ts, id): the result order. */
static int key_gt(int64_t ts1, int64_t id1, int64_t ts2, int64_t id2)
{
	return ts1 > ts2 || (ts1 == ts2 && id1 > id2);
}

static int by_id(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_key_desc(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	return key_gt(x->ts, x->id, y->ts, y->id) ? -1 : key_gt(y->ts, y->id, x->ts, x->id);
}

/* The best `cap` hits so far, sorted by key descending. */
typedef struct { cand *v; int n, cap; } topk;

static void top_add(topk *t, cand c)
{
	int i;

	if (t->n == t->cap && !key_gt(c.ts, c.id, t->v[t->n - 1].ts, t->v[t->n - 1].id))
		return;
	i = t->n < t->cap ? t->n++ : t->n - 1;
	while (i > 0 && key_gt(c.ts, c.id, t->v[i - 1].ts, t->v[i - 1].id)) {
		t->v[i] = t->v[i - 1];
		i--;
	}
	t->v[i] = c;
}

/* Reads the candidates.  Returns their number, CAND_MAX+1 if there are more,
 * or -1 on error; *out malloc'd. */
static int64_t load_candidates(sqlite3 *db, const im_search_q *q, int has_cursor, int64_t cts,
                               int64_t cid, cand **out, char **err)
{
	sqlite3_stmt *st = NULL;
	cand *v = NULL;
	int64_t n = 0, cap = 0;
	int rc;
	sbuf b;

	*out = NULL;
	memset(&b, 0, sizeof b);
	build(&b, q, has_cursor, W_CANDIDATES);
	if (b.overflow || sqlite3_prepare_v2(db, b.s, -1, &st, NULL) != SQLITE_OK ||
	    bind_all(st, q, cts, cid, NULL, 0) != SQLITE_OK) {
		im_set_errf(err, "search candidates: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n > CAND_MAX)
			break;
		if (n == cap) {
			cand *nv;
			cap = cap ? cap * 2 : 1024;
			nv = realloc(v, (size_t)cap * sizeof *v);
			if (nv == NULL) {
				im_set_errf(err, "out of memory");
				goto fail;
			}
			v = nv;
		}
		v[n].id = sqlite3_column_int64(st, 0);
		v[n].ts = sqlite3_column_int64(st, 1);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		im_set_errf(err, "search candidates: %s", sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	*out = v;
	return n;
fail:
	sqlite3_finalize(st);
	free(v);
	return -1;
}

/* Checks the candidates c[0..n) (ids below every FTS row streamed so far) one
 * FTS lookup each, newest first, until none can enter t. */
static int check_rest(sqlite3 *db, const char *match, cand *c, int64_t n, topk *t, char **err)
{
	sqlite3_stmt *st = NULL;
	int64_t i;
	int rc = IM_OK;

	qsort(c, (size_t)n, sizeof *c, by_key_desc);
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM log_message_fts WHERE log_message_fts MATCH ?1 AND rowid = ?2",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC) != SQLITE_OK) {
		im_set_errf(err, "search check: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return IM_ERR;
	}
	for (i = 0; i < n; i++) {
		int r;
		if (t->n == t->cap && !key_gt(c[i].ts, c[i].id, t->v[t->n - 1].ts, t->v[t->n - 1].id))
			break;   /* sorted: no later candidate can enter either */
		if (sqlite3_reset(st) != SQLITE_OK || sqlite3_bind_int64(st, 2, c[i].id) != SQLITE_OK) {
			rc = IM_ERR;
			break;
		}
		r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			top_add(t, c[i]);
		else if (r != SQLITE_DONE) {
			rc = IM_ERR;
			break;
		}
	}
	if (rc != IM_OK)
		im_set_errf(err, "search check: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

/* Intersects candidates c[0..n) with the FTS matches into t (see the top). */
static int merge(sqlite3 *db, const char *match, cand *c, int64_t n, topk *t, int64_t ratio,
                 int *fell_back, char **err)
{
	sqlite3_stmt *st = NULL;
	int64_t *pmax, j, streamed = 0, i;
	int rc = SQLITE_DONE;

	*fell_back = 0;
	if (n == 0)
		return IM_OK;
	qsort(c, (size_t)n, sizeof *c, by_id);
	for (i = j = 1; i < n; i++)   /* drop duplicates (notes to oneself, see branch()) */
		if (c[i].id != c[j - 1].id)
			c[j++] = c[i];
	n = j;
	pmax = malloc((size_t)n * sizeof *pmax);
	if (pmax == NULL) {
		im_set_errf(err, "out of memory");
		return IM_ERR;
	}
	for (i = 0; i < n; i++)
		pmax[i] = i == 0 || c[i].ts > pmax[i - 1] ? c[i].ts : pmax[i - 1];
	if (sqlite3_prepare_v2(db, "SELECT rowid FROM log_message_fts WHERE log_message_fts MATCH ?1 "
	                       "AND rowid BETWEEN ?2 AND ?3 ORDER BY rowid DESC", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, c[0].id) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, c[n - 1].id) != SQLITE_OK) {
		im_set_errf(err, "search stream: %s", sqlite3_errmsg(db));
		goto fail;
	}
	j = n - 1;   /* c[0..j]: candidates not yet passed by the stream */
	while (j >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t r = sqlite3_column_int64(st, 0);
		while (j >= 0 && c[j].id > r)
			j--;
		if (j >= 0 && c[j].id == r)
			top_add(t, c[j--]);
		/* Every unseen candidate has id < r; if none has a newer ts than the
		 * worst kept hit, none can enter. */
		if (t->n == t->cap && (j < 0 || pmax[j] <= t->v[t->n - 1].ts))
			break;
		if (++streamed >= (j + 1) * ratio && j >= 0) {
			sqlite3_finalize(st);
			st = NULL;
			free(pmax);
			*fell_back = 1;
			return check_rest(db, match, c, j + 1, t, err);
		}
	}
	if (j >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		im_set_errf(err, "search stream: %s", sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	free(pmax);
	return IM_OK;
fail:
	sqlite3_finalize(st);
	free(pmax);
	return IM_ERR;
}

/* --- IM_PLAN_FTS ------------------------------------------------------------------------ */

/* 1 if some row older (by id) than `below` has lo < ts < hi: a row the stream
 * has not reached that could still belong on the page.  -1 on error. */
static int unseen_may_qualify(sqlite3_stmt *st, int64_t below, int64_t lo, int64_t hi)
{
	int r;

	if (sqlite3_reset(st) != SQLITE_OK || sqlite3_bind_int64(st, 1, below) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, lo) != SQLITE_OK || sqlite3_bind_int64(st, 3, hi) != SQLITE_OK)
		return -1;
	r = sqlite3_step(st);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -1;
}

/* Runs a one-row statement of integers; IM_OK and the columns, or IM_ERR.
 * *found is 0 when the statement returned no row. */
static int ints(sqlite3 *db, const char *sql, int64_t a, int64_t b, int64_t *out, int n, int *found)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR, r, i;

	*found = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, a) == SQLITE_OK && sqlite3_bind_int64(st, 2, b) == SQLITE_OK) {
		r = sqlite3_step(st);
		if (r == SQLITE_ROW) {
			for (i = 0; i < n; i++)
				out[i] = sqlite3_column_int64(st, i);
			*found = sqlite3_column_type(st, 0) != SQLITE_NULL;
		}
		rc = r == SQLITE_ROW || r == SQLITE_DONE ? IM_OK : IM_ERR;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Narrows [*lo_id, *hi_id] to the rows with since <= ts < hi when that pays:
 * the stream is at rowid `pos` after `streamed` matches since rowid `first`.
 * Two index seeks find the window's oldest and newest rows; if the window
 * seems to lie well below the stream, reading its exact min/max id from the
 * (ts) index (~0.1 us a row) beats streaming every match above it (~1 us a
 * match).  Exact, whatever the order of ids. */
static int narrow_to_window(sqlite3 *db, int64_t since, int64_t hi, int64_t first, int64_t pos,
                            int64_t streamed, int64_t *lo_id, int64_t *hi_id)
{
	int64_t top[1], bottom[1], mm[2];
	double density, saving, cost;
	int found;

	if (ints(db, "SELECT id FROM log_message INDEXED BY log_message_ts WHERE ts >= ?1 AND ts < ?2 "
	         "ORDER BY ts DESC LIMIT 1", since, hi, top, 1, &found) != IM_OK)
		return IM_ERR;
	if (!found) {                 /* nothing in the window at all */
		*lo_id = 1;
		*hi_id = 0;
		return IM_OK;
	}
	if (ints(db, "SELECT id FROM log_message INDEXED BY log_message_ts WHERE ts >= ?1 AND ts < ?2 "
	         "ORDER BY ts LIMIT 1", since, hi, bottom, 1, &found) != IM_OK)
		return IM_ERR;
	density = (double)streamed / (double)(first - pos + 1);
	saving = top[0] < pos ? (double)(pos - top[0]) * density * 1.0 : 0;
	cost = (double)(top[0] > bottom[0] ? top[0] - bottom[0] : bottom[0] - top[0]) * 0.1;
	if (saving <= 2 * cost)
		return IM_OK;
	if (ints(db, "SELECT min(id), max(id) FROM log_message INDEXED BY log_message_ts "
	         "WHERE ts >= ?1 AND ts < ?2", since, hi, mm, 2, &found) != IM_OK)
		return IM_ERR;
	if (found) {
		*lo_id = mm[0];
		*hi_id = mm[1];
	}
	return IM_OK;
}

/* Streams every FTS match newest rowid first, keeps the rows that pass the
 * filters (one primary-key lookup each, ~1-2 us), and stops once the (ts)
 * index proves that no row below the stream position can enter the page: with
 * a full page, none newer than the worst kept hit; before that, none inside
 * [since, until).  Checks run at doubling intervals so they cost at most about
 * as much as the stream itself.  A common word matches 600,000 rows; it fills
 * a page within ~100 and the first check ends the stream. */
static int fts_stream(sqlite3 *db, const im_search_q *q, int has_cursor, int64_t cts, int64_t cid,
                      const char *match, topk *t, char **err)
{
	sqlite3_stmt *fts = NULL, *look = NULL, *proof = NULL;
	int64_t streamed = 0, next_check = 256, hi = q->until, lo_id = 0, hi_id = INT64_MAX, first = 0;
	int rc = IM_ERR, r = SQLITE_DONE;
	sbuf b;

	if (has_cursor && cts < INT64_MAX && cts + 1 < hi)
		hi = cts + 1;   /* rows on later pages have ts <= cts */
	memset(&b, 0, sizeof b);
	build(&b, q, has_cursor, W_LOOKUP);
	if (b.overflow ||
	    sqlite3_prepare_v2(db, "SELECT rowid FROM log_message_fts WHERE log_message_fts MATCH ?1 "
	                       "AND rowid BETWEEN ?2 AND ?3 ORDER BY rowid DESC", -1, &fts, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(fts, 1, match, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(fts, 2, lo_id) != SQLITE_OK ||
	    sqlite3_bind_int64(fts, 3, hi_id) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, b.s, -1, &look, NULL) != SQLITE_OK ||
	    bind_all(look, q, cts, cid, match, 0) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM log_message INDEXED BY log_message_ts "
	                       "WHERE ts > ?2 AND ts < ?3 AND id < ?1 LIMIT 1", -1, &proof, NULL) != SQLITE_OK)
		goto done;
	while ((r = sqlite3_step(fts)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(fts, 0);
		int lr;

		if (sqlite3_reset(look) != SQLITE_OK || sqlite3_bind_int64(look, P_ID, id) != SQLITE_OK)
			goto done;
		lr = sqlite3_step(look);
		if (lr == SQLITE_ROW) {
			cand c = { id, sqlite3_column_int64(look, 1) };
			top_add(t, c);
		} else if (lr != SQLITE_DONE) {
			goto done;
		}
		/* Still going with a time window: it may lie far in the past, and
		 * its rowid range would spare streaming every newer match (see
		 * narrow_to_window).  Rows above `id` are done already. */
		if (streamed == 0)
			first = id;
		if (++streamed == WINDOW_AFTER && (q->since > 0 || hi < INT64_MAX)) {
			if (narrow_to_window(db, q->since, hi, first, id, streamed, &lo_id, &hi_id) != IM_OK)
				goto done;
			if (hi_id > id - 1)
				hi_id = id - 1;
			if (sqlite3_reset(fts) != SQLITE_OK || sqlite3_bind_int64(fts, 2, lo_id) != SQLITE_OK ||
			    sqlite3_bind_int64(fts, 3, hi_id) != SQLITE_OK)
				goto done;
			continue;
		}
		if (streamed >= next_check) {
			int64_t lo = t->n == t->cap ? t->v[t->n - 1].ts : q->since > INT64_MIN ? q->since - 1 : q->since;
			int u = unseen_may_qualify(proof, id, lo, hi);
			if (u < 0)
				goto done;
			if (u == 0)
				break;
			next_check = streamed * 2;
		}
	}
	if (r == SQLITE_ROW || r == SQLITE_DONE)
		rc = IM_OK;
done:
	if (rc != IM_OK)
		im_set_errf(err, "search: %s", sqlite3_errmsg(db));
	sqlite3_finalize(fts);
	sqlite3_finalize(look);
	sqlite3_finalize(proof);
	return rc;
}

/* --- results ----------------------------------------------------------------------------- */

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

/* Appends rows from a statement that yields COLS newest first (limit+1 at most). */
static int add_rows(sqlite3 *db, sqlite3_stmt *st, json_t *items, char **err)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (json_array_append_new(items, row_json(st)) != 0) {
			im_set_errf(err, "out of memory");
			return IM_ERR;
		}
	if (rc != SQLITE_DONE) {
		im_set_errf(err, "search: %s", sqlite3_errmsg(db));
		return IM_ERR;
	}
	return IM_OK;
}

/* Appends the rows of the hits, in the hits' order. */
static int add_hits(sqlite3 *db, const topk *t, json_t *items, char **err)
{
	sqlite3_stmt *st = NULL;
	int i, rc = IM_OK;

	if (sqlite3_prepare_v2(db, "SELECT " COLS " FROM log_message m WHERE m.id = ?1", -1, &st, NULL) != SQLITE_OK) {
		im_set_errf(err, "search: %s", sqlite3_errmsg(db));
		return IM_ERR;
	}
	for (i = 0; i < t->n && rc == IM_OK; i++) {
		if (sqlite3_reset(st) != SQLITE_OK || sqlite3_bind_int64(st, 1, t->v[i].id) != SQLITE_OK) {
			im_set_errf(err, "search: %s", sqlite3_errmsg(db));
			rc = IM_ERR;
		} else {
			rc = add_rows(db, st, items, err);   /* 0 rows if deleted meanwhile */
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* Runs a full-row statement (IM_PLAN_INDEX, IM_PLAN_FTS). */
static int run_rows(sqlite3 *db, const im_search_q *q, int has_cursor, int64_t cts, int64_t cid,
                    const char *match, enum what w, json_t *items, char **err)
{
	sqlite3_stmt *st = NULL;
	sbuf b;
	int rc;

	memset(&b, 0, sizeof b);
	build(&b, q, has_cursor, w);
	if (b.overflow || sqlite3_prepare_v2(db, b.s, -1, &st, NULL) != SQLITE_OK ||
	    bind_all(st, q, cts, cid, match, q->limit + 1) != SQLITE_OK) {
		im_set_errf(err, "search: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return IM_ERR;
	}
	rc = add_rows(db, st, items, err);
	sqlite3_finalize(st);
	return rc;
}

int im_logsearch(sqlite3 *db, const im_search_q *q, json_t **out, im_search_info *info, char **err)
{
	char match[2048];
	int64_t cts = 0, cid = 0, ncand = -1;
	int has_cursor = 0, terms = 0, plan, fell_back = 0, rc;
	cand *c = NULL;
	topk t;
	json_t *items, *res;

	*out = NULL;
	if (q->limit < 1 || q->limit > 500) {
		im_set_errf(err, "limit out of range");
		return IM_EINVAL;
	}
	if (q->cursor) {
		if (cursor_read(q->cursor, &cts, &cid) != IM_OK) {
			im_set_errf(err, "malformed cursor");
			return IM_EINVAL;
		}
		has_cursor = 1;
	}
	if (q->keyword && (terms = im_fts_query(q->keyword, match, sizeof match)) < 0) {
		im_set_errf(err, "keyword too long");
		return IM_EINVAL;
	}
	items = json_array();
	if (items == NULL) {
		im_set_errf(err, "out of memory");
		return IM_ERR;
	}
	if (terms == 0) {
		plan = IM_PLAN_INDEX;
		rc = run_rows(db, q, has_cursor, cts, cid, NULL, W_ROWS, items, err);
	} else {
		plan = IM_PLAN_FTS;
		if ((q->user || q->room || q->domain) && q->force_plan != IM_PLAN_FTS) {
			ncand = load_candidates(db, q, has_cursor, cts, cid, &c, err);
			if (ncand < 0) {
				json_decref(items);
				return IM_ERR;
			}
			if (ncand <= CAND_MAX)
				plan = IM_PLAN_MERGE;
		}
		t.cap = q->limit + 1;
		t.n = 0;
		t.v = malloc((size_t)t.cap * sizeof *t.v);
		if (t.v == NULL) {
			im_set_errf(err, "out of memory");
			rc = IM_ERR;
		} else if (plan == IM_PLAN_MERGE) {
			rc = merge(db, match, c, ncand, &t, q->force_plan == IM_PLAN_MERGE_CHECK ? 0 : CHECK_RATIO,
			           &fell_back, err);
		} else {
			rc = fts_stream(db, q, has_cursor, cts, cid, match, &t, err);
		}
		if (rc == IM_OK)
			rc = add_hits(db, &t, items, err);
		free(t.v);
		free(c);
	}
	if (rc != IM_OK) {
		json_decref(items);
		return IM_ERR;
	}
	res = json_object();
	if (res == NULL) {
		json_decref(items);
		im_set_errf(err, "out of memory");
		return IM_ERR;
	}
	/* limit+1 rows were asked for: one more means another page exists. */
	if (json_array_size(items) > (size_t)q->limit) {
		char cur[48];
		json_t *last = json_array_get(items, (size_t)q->limit - 1);
		cursor_make(cur, sizeof cur, json_integer_value(json_object_get(last, "ts")),
		            json_integer_value(json_object_get(last, "id")));
		json_array_remove(items, (size_t)q->limit);
		json_object_set_new(res, "next_cursor", json_string(cur));
	} else {
		json_object_set_new(res, "next_cursor", json_null());
	}
	json_object_set_new(res, "items", items);
	if (info) {
		info->plan = plan;
		info->candidates = ncand;
		info->fell_back = fell_back;
	}
	*out = res;
	return IM_OK;
}
