/*
 * workers.h — a small thread pool that runs registry operations off the event
 * loop and reports completions through one eventfd.
 *
 * Each thread has its own read/write connection (im_store_open).  The Lua
 * thread submits (id, op, params, ctx); a worker runs im_registry_call and
 * pushes {id, ok, result} onto a lock-free completion list, then writes the
 * eventfd: draining never waits for a worker.
 * A task (im_workers_submit_task) is the other kind of job: a C function that
 * is not an operation (a password check, scram.h), so it has no surface, no
 * permission and no audit; it shares the queue, its bound and the completions.  The
 * event loop watches im_workers_fd() and calls im_workers_drain().  The log
 * writer's notify callback may call im_workers_kick() so that writer state
 * changes wake the loop the same way.
 *
 * Thread safety: submit, drain, kick and fd may be called from any thread;
 * im_workers_close once, when no other call is in progress.
 */
#ifndef IMHOST_WORKERS_H
#define IMHOST_WORKERS_H

#include <stdint.h>
#include "logwriter.h"

typedef struct im_workers im_workers;

typedef struct {
	const char *path;     /* database (each thread opens its own connection) */
	int threads;          /* 1..16 (0: 2) */
	int queue_max;        /* pending jobs at most (0: 1024); beyond: IM_EFULL */
	int erasure;          /* logs.erase default mode */
} im_workers_opts;

/* One finished job; strings malloc'd, freed by im_completions_free. */
typedef struct im_completion {
	int64_t id;
	int ok;
	char *result;         /* JSON text: a result or {"error":...} */
	struct im_completion *next;
} im_completion;

/* Opens the connections and starts the threads.  IM_OK with *out, or IM_ERR with
 * *err (malloc'd, caller frees; err may be NULL). */
int im_workers_open(const im_workers_opts *o, im_workers **out, char **err);

/* The writer that logs.status reports on (may be NULL).  Set before the first
 * submit; not owned. */
void im_workers_set_writer(im_workers *w, im_writer *writer);

/* Queues a job; strings are copied.  IM_OK, IM_EFULL (queue full), IM_EINVAL. */
int im_workers_submit(im_workers *w, int64_t id, const char *op, const char *params_json,
                      const char *ctx_json);

/* A task: runs on a worker thread, returns ok (1 or 0) and sets *result to
 * malloc'd text (NULL: out of memory, reported as an internal error). */
typedef int (*im_task_fn)(void *arg, char **result);

/* Queues fn(arg) as job id; arg_free(arg) (may be NULL) runs on the worker right
 * after fn, or when the job is dropped unrun (close).  arg is the pool's from
 * this call on, whatever it returns: on refusal it is freed at once.  IM_OK,
 * IM_EFULL (queue full), IM_EINVAL, IM_ERR. */
int im_workers_submit_task(im_workers *w, int64_t id, im_task_fn fn, void *arg,
                           void (*arg_free)(void *));

/* Clears the eventfd and returns all completions so far, oldest first (NULL if
 * none).  The list is the caller's: im_completions_free. */
im_completion *im_workers_drain(im_workers *w);
void im_completions_free(im_completion *c);

/* The eventfd (non-blocking), readable while completions wait; a kick that
 * races a drain may leave it readable once more, with nothing to drain. */
int im_workers_fd(im_workers *w);

/* Makes the eventfd readable without a completion (writer notify). */
void im_workers_kick(im_workers *w);

/* Pending jobs + jobs running (tests, status). */
int im_workers_busy(im_workers *w);

/* Finishes the jobs already queued, joins the threads, frees everything
 * (including undrained completions).  NULL-safe. */
void im_workers_close(im_workers *w);

/* The same, bounded in time, for a process that is exiting (nobody will drain
 * the results): queued jobs still run for up to grace_ms; then jobs not yet
 * started are dropped, and every statement a running job executes fails with
 * SQLITE_INTERRUPT, so its transaction rolls back and the thread returns
 * promptly.  Jobs are transactions the server re-derives (reconciliation and
 * the daily runs at the next start), so abandoning one loses no fact for good.
 * grace_ms <= 0 abandons at once.  NULL-safe. */
void im_workers_close_within(im_workers *w, int grace_ms);

#endif
