/*
 * logsearch.h — searching the interaction log (logs.search).
 *
 * Results are newest first, ordered by (ts DESC, id DESC), paged with an opaque
 * keyset cursor on (ts, id): a page never shifts when new entries arrive.
 *
 * Keywords go through FTS5, but never as FTS5 syntax: im_fts_query() splits the
 * user's text into words, "exact phrases" and prefix* words and emits each as a
 * quoted FTS5 string, ANDed.  No user text can raise an FTS syntax error or use
 * an FTS operator (OR, NOT, NEAR, column filters, ^).
 *
 * Query plans (picked per query; costs and reasons in logsearch.c):
 *   IM_PLAN_INDEX  no keyword: walk the filter's (column, ts) index newest
 *                  first, stop after limit+1 rows.
 *   IM_PLAN_MERGE  keyword + user/room/domain: the filter's candidates
 *                  intersected in memory with the FTS matches streamed newest
 *                  rowid first, stopping as soon as the page is proven complete.
 *   IM_PLAN_FTS    keyword without an indexed filter (or one matching more than
 *                  200,000 rows): FTS matches streamed newest rowid first, each
 *                  row checked by primary key, stopping once the (ts) index
 *                  proves the page complete.
 * All plans return the same rows (tests/unit/test_search.c checks it).
 */
#ifndef IMHOST_LOGSEARCH_H
#define IMHOST_LOGSEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>

typedef struct {
	const char *domain, *user, *room, *kind;  /* NULL: no filter; user matches either side */
	const char *keyword;                      /* user text, NULL: none */
	const char *cursor;                       /* next_cursor of the previous page, or NULL */
	int64_t since, until;                     /* since <= ts < until */
	int limit;                                /* 1..500 */
	int force_plan;                           /* 0: choose; tests: IM_PLAN_FTS, IM_PLAN_MERGE_CHECK */
} im_search_q;

/* IM_PLAN_MERGE_CHECK is only a force_plan value: merge with a zero streaming
 * budget, i.e. per-candidate FTS checks (tests prove both paths agree). */
enum { IM_PLAN_INDEX = 1, IM_PLAN_FTS = 2, IM_PLAN_MERGE = 3, IM_PLAN_MERGE_CHECK = 4 };

typedef struct {
	int plan;                   /* IM_PLAN_INDEX, IM_PLAN_FTS or IM_PLAN_MERGE */
	int64_t candidates;         /* rows the filters allow (MERGE), else -1 */
	int fell_back;              /* MERGE switched to per-candidate checks */
} im_search_info;

/* Runs q on db.  IM_OK with *out a new {"items":[...],"next_cursor":..|null};
 * IM_EINVAL (bad cursor) or IM_ERR, with *err a malloc'd message (caller frees).
 * info may be NULL. */
int im_logsearch(sqlite3 *db, const im_search_q *q, json_t **out, im_search_info *info, char **err);

/* Turns user text into a safe FTS5 query in out.  Returns the number of terms
 * (0: nothing searchable, out is ""), or -1 if out is too small. */
int im_fts_query(const char *keyword, char *out, size_t outsz);

#endif
