/*
 * logwriter.h — the interaction-log hot path.
 *
 * Producers (Prosody's event loop, through lua_binding.c) call im_writer_message /
 * im_writer_session: the entry is validated, copied into one allocation and pushed
 * onto a bounded in-memory queue; that costs a few microseconds and never touches
 * SQLite (except in sync mode).  One writer thread with its own connection drains
 * the queue in batches: one transaction per batch that inserts entries, FTS rows
 * and rollup deltas (aggregated per batch: one UPSERT per distinct key).
 *
 * If a commit fails (disk full, database locked, ...) the writer keeps the batch,
 * sets `degraded` and retries with a backoff of at most one second; the queue
 * keeps absorbing until full, then drops and counts.  The process never aborts.
 *
 * Thread safety: im_writer_message, im_writer_session, im_writer_flush and
 * im_writer_stats_get may be called from any thread.  im_writer_close must be
 * called once, when no other call is in progress.
 */
#ifndef IMHOST_LOGWRITER_H
#define IMHOST_LOGWRITER_H

#include <stddef.h>
#include <stdint.h>
#include "imhost_err.h"

typedef struct im_writer im_writer;

typedef struct {
	const char *path;
	int sync;        /* 1: every im_writer_* call commits before returning (zero loss) */
	int queue_max;   /* bounded queue; entries beyond are dropped and counted (0: 65536) */
	int batch_max;   /* entries per transaction at most (0: 2048) */
	int flush_ms;    /* commit at least this often; documented loss window <= 1 s (0: 200, max 1000) */
	size_t body_max; /* bodies longer are stored truncated (UTF-8 safe cut) with truncated=1; 0: 64 KiB */
	void (*notify)(void *arg); void *notify_arg; /* called from the writer thread after each
	                   commit and on a state change (degraded/recovered); may be NULL */
} im_writer_opts;

/* One message.  Required: domain, from, kind (chat|groupchat|normal|headline).
 * to is NULL for groupchat; room is set for groupchat.  body may be NULL (the
 * host does not log bodies); when encrypted is non-NULL (omemo|openpgp|otr|
 * encrypted) the body is never stored.  body_len is the byte length of body
 * (body need not be NUL-terminated).  All strings are copied by the call. */
typedef struct {
	int64_t ts; const char *domain, *from, *to, *room, *kind, *stanza_id;
	int64_t size; const char *body; size_t body_len; const char *encrypted;
} im_log_message;

/* One session event.  Required: domain, user, event ("login"|"logout"). */
typedef struct {
	int64_t ts; const char *domain, *user, *resource, *client, *event; /* "login"|"logout" */
} im_log_session;

typedef struct {
	int64_t queue_depth, queue_max, dropped, written, batches;
	int64_t last_batch_size, last_flush_us, max_flush_us, db_bytes;
	int degraded; char last_error[256];
} im_writer_stats;

/* Opens the database (creating and migrating it), starts the writer thread.
 * *out is the caller's, released with im_writer_close.  On failure IM_ERR or
 * IM_EINVAL and *err (malloc'd, caller frees; err may be NULL). */
int  im_writer_open(const im_writer_opts *o, im_writer **out, char **err);

/* Queue an entry.  IM_OK; IM_EFULL (dropped and counted); IM_EINVAL (refused:
 * missing required field, unknown kind/event, bad encrypted scheme).  In sync
 * mode returns only after the entry is committed (IM_ERR if the commit failed;
 * the entry then stays queued and is retried). */
int  im_writer_message(im_writer *w, const im_log_message *m); /* IM_OK, IM_EFULL, IM_EINVAL */
int  im_writer_session(im_writer *w, const im_log_session *s);

/* Blocks until all entries queued before the call are committed (IM_OK) or the
 * writer is degraded and cannot commit them right now (IM_ERR after the writer
 * has tried once more). */
int  im_writer_flush(im_writer *w);          /* blocks until all queued entries are committed or failed */

void im_writer_stats_get(im_writer *w, im_writer_stats *out);

/* Flushes (retrying for a bounded time if degraded), joins the thread, frees.
 * NULL-safe. */
void im_writer_close(im_writer *w);          /* flushes, joins the thread, frees; NULL-safe */

#endif
