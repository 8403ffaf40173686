/*
 * workers.c — see workers.h.  One mutex protects the job queue; a condition
 * variable wakes idle threads.  Completions go on a lock-free stack and the
 * eventfd (a counter: every completion adds one, drain() reads it to zero) is
 * written with no lock held: the event loop must never wait for a worker.
 * Workers run at a lower priority (nice 10): if the loop had to take a lock a
 * worker holds, a worker preempted inside it would stall the loop for as long
 * as the scheduler keeps it off a core (2-3 ms seen on 2 cores, when the kick
 * was written under the lock and woke the loop straight into it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "imhost_err.h"
#include "registry.h"
#include "store.h"
#include "thread_prio.h"
#include "workers.h"

#define MAX_THREADS 16
/* VM instructions between two looks at `abandon` (sqlite3_progress_handler):
 * a few microseconds apart, so an abandoned job stops within a millisecond. */
#define ABANDON_CHECK_OPS 1000

/* A registry operation (op set) or a task (fn set). */
typedef struct job {
	int64_t id;
	char *op, *params, *ctx;
	im_task_fn fn;
	void *arg;
	void (*arg_free)(void *);
	struct job *next;
} job;

struct im_workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t idle;      /* broadcast after each job: close_within waits on it */
	atomic_int abandon;       /* set by close_within at its deadline; read lock-free by SQLite's progress handler */
	job *head, *tail;
	int queued, running, queue_max, stopping;
	_Atomic(im_completion *) done;   /* newest first; drain() takes them all */
	int efd;
	int nthreads;
	pthread_t threads[MAX_THREADS];
	sqlite3 *db[MAX_THREADS];
	im_writer *writer;
	int erasure;
};

struct thread_arg { im_workers *w; int index; };

/* SQLite's progress handler: non-zero makes the running statement fail with
 * SQLITE_INTERRUPT.  Unlike sqlite3_interrupt, it also stops statements a job
 * starts after the deadline. */
static int abandoned(void *arg)
{
	im_workers *w = arg;

	return atomic_load_explicit(&w->abandon, memory_order_relaxed);
}

static void job_free(job *j)
{
	if (j == NULL)
		return;
	free(j->op);
	free(j->params);
	free(j->ctx);
	if (j->arg_free)
		j->arg_free(j->arg);
	free(j);
}

/* The job's result text and ok flag (worker thread, no lock held). */
static char *run_job(im_env *env, job *j, int *ok)
{
	char *result = NULL;

	*ok = 0;
	if (j->fn == NULL)
		return im_registry_call(env, j->op, j->params, j->ctx, ok);
	*ok = j->fn(j->arg, &result) ? 1 : 0;
	if (result == NULL)
		*ok = 0;
	return result;
}

void im_workers_kick(im_workers *w)
{
	uint64_t one = 1;

	/* EAGAIN only if the counter would overflow: then it is readable anyway. */
	while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

/* Workers run below the event loop's priority (thread_prio.h): on a small
 * machine a burst of searches or a billing run must not delay the loop that
 * routes messages. */
#define WORKER_NICE 10

/* Treiber push: the only writers are workers, the only reader takes the whole
 * stack at once (no pop of single nodes, so no ABA). */
static void push_done(im_workers *w, im_completion *c)
{
	im_completion *top = atomic_load_explicit(&w->done, memory_order_relaxed);

	do
		c->next = top;
	while (!atomic_compare_exchange_weak_explicit(&w->done, &top, c,
	                                              memory_order_release, memory_order_relaxed));
}

static void *run(void *arg)
{
	struct thread_arg *ta = arg;
	im_workers *w = ta->w;
	im_env env;

	im_thread_background(WORKER_NICE);
	env.db = w->db[ta->index];
	env.erasure = w->erasure;
	free(ta);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		job *j;
		im_completion *c;
		int ok = 0;

		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->head == NULL)      /* stopping and nothing left */
			break;
		j = w->head;
		w->head = j->next;
		if (w->head == NULL)
			w->tail = NULL;
		w->queued--;
		w->running++;
		env.writer = w->writer;
		pthread_mutex_unlock(&w->lock);

		c = calloc(1, sizeof *c);
		if (c != NULL) {
			c->id = j->id;
			c->result = run_job(&env, j, &ok);
			c->ok = ok;
			if (c->result == NULL)   /* out of memory: still report the job */
				c->result = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
		}
		job_free(j);
		if (c != NULL) {
			push_done(w, c);
			im_workers_kick(w);
		}

		pthread_mutex_lock(&w->lock);
		w->running--;
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int im_workers_open(const im_workers_opts *o, im_workers **out, char **err)
{
	im_workers *w;
	int i, n = o->threads ? o->threads : 2;

	*out = NULL;
	if (n < 1 || n > MAX_THREADS) {
		if (err)
			*err = strdup("workers: threads must be 1..16");
		return IM_EINVAL;
	}
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return IM_ERR;
	w->queue_max = o->queue_max > 0 ? o->queue_max : 1024;
	w->erasure = o->erasure;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0 || pthread_mutex_init(&w->lock, NULL) != 0) {
		if (err)
			*err = strdup("workers: eventfd/mutex failed");
		if (w->efd >= 0)
			close(w->efd);
		free(w);
		return IM_ERR;
	}
	if (pthread_cond_init(&w->cond, NULL) != 0) {
		pthread_mutex_destroy(&w->lock);
		close(w->efd);
		free(w);
		return IM_ERR;
	}
	if (pthread_cond_init(&w->idle, NULL) != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		close(w->efd);
		free(w);
		return IM_ERR;
	}
	atomic_init(&w->abandon, 0);
	atomic_init(&w->done, NULL);
	for (i = 0; i < n; i++) {
		struct thread_arg *ta;
		if (im_store_open(o->path, &w->db[i], err) != IM_OK)
			goto fail;
		/* Lets close_within stop a long job (no other code sets a progress
		 * handler on these connections). */
		sqlite3_progress_handler(w->db[i], ABANDON_CHECK_OPS, abandoned, w);
		ta = malloc(sizeof *ta);
		if (ta == NULL) {
			sqlite3_close(w->db[i]);
			w->db[i] = NULL;
			goto fail;
		}
		ta->w = w;
		ta->index = i;
		if (pthread_create(&w->threads[i], NULL, run, ta) != 0) {
			free(ta);
			sqlite3_close(w->db[i]);
			w->db[i] = NULL;
			if (err)
				*err = strdup("workers: cannot start a thread");
			goto fail;
		}
		w->nthreads++;
	}
	*out = w;
	return IM_OK;
fail:
	im_workers_close(w);
	return IM_ERR;
}

void im_workers_set_writer(im_workers *w, im_writer *writer)
{
	pthread_mutex_lock(&w->lock);
	w->writer = writer;
	pthread_mutex_unlock(&w->lock);
}

static char *dup_or_null(const char *s, int *failed)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*failed = 1;
	return d;
}

/* Appends j to the queue, or frees it when the queue is full or closing. */
static int enqueue(im_workers *w, job *j)
{
	pthread_mutex_lock(&w->lock);
	if (w->queued >= w->queue_max || w->stopping) {
		pthread_mutex_unlock(&w->lock);
		job_free(j);
		return IM_EFULL;
	}
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->queued++;
	pthread_mutex_unlock(&w->lock);
	pthread_cond_signal(&w->cond);   /* unlocked: the woken worker does not block on the lock */
	return IM_OK;
}

int im_workers_submit(im_workers *w, int64_t id, const char *op, const char *params,
                      const char *ctx)
{
	job *j;
	int failed = 0;

	if (op == NULL || ctx == NULL)
		return IM_EINVAL;
	j = calloc(1, sizeof *j);
	if (j == NULL)
		return IM_ERR;
	j->id = id;
	j->op = dup_or_null(op, &failed);
	j->params = dup_or_null(params, &failed);
	j->ctx = dup_or_null(ctx, &failed);
	if (failed) {
		job_free(j);
		return IM_ERR;
	}
	return enqueue(w, j);
}

int im_workers_submit_task(im_workers *w, int64_t id, im_task_fn fn, void *arg,
                           void (*arg_free)(void *))
{
	job *j;

	if (fn == NULL) {
		if (arg_free)
			arg_free(arg);
		return IM_EINVAL;
	}
	j = calloc(1, sizeof *j);
	if (j == NULL) {
		if (arg_free)
			arg_free(arg);
		return IM_ERR;
	}
	j->id = id;
	j->fn = fn;
	j->arg = arg;
	j->arg_free = arg_free;
	return enqueue(w, j);
}

im_completion *im_workers_drain(im_workers *w)
{
	uint64_t v;
	im_completion *c, *fifo = NULL;

	/* Counter first: a completion pushed after the exchange below kicks
	 * again, so none waits unseen (at worst a later drain finds nothing). */
	while (read(w->efd, &v, sizeof v) < 0 && errno == EINTR)
		;
	c = atomic_exchange_explicit(&w->done, NULL, memory_order_acquire);
	while (c) {   /* newest first -> oldest first */
		im_completion *next = c->next;
		c->next = fifo;
		fifo = c;
		c = next;
	}
	return fifo;
}

void im_completions_free(im_completion *c)
{
	while (c) {
		im_completion *next = c->next;
		free(c->result);
		free(c);
		c = next;
	}
}

int im_workers_fd(im_workers *w)
{
	return w->efd;
}

int im_workers_busy(im_workers *w)
{
	int n;

	pthread_mutex_lock(&w->lock);
	n = w->queued + w->running;
	pthread_mutex_unlock(&w->lock);
	return n;
}

static void free_queued(im_workers *w)
{
	while (w->head) {
		job *j = w->head;
		w->head = j->next;
		job_free(j);
	}
	w->tail = NULL;
	w->queued = 0;
}

void im_workers_close_within(im_workers *w, int grace_ms)
{
	struct timespec deadline;
	int timed_out = 0;

	if (w == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);   /* pthread_cond_timedwait's clock */
	if (grace_ms > 0) {
		deadline.tv_sec += grace_ms / 1000;
		deadline.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cond);
	while (w->queued + w->running > 0 && !timed_out)
		timed_out = grace_ms <= 0 ||
		            pthread_cond_timedwait(&w->idle, &w->lock, &deadline) == ETIMEDOUT;
	if (timed_out) {
		/* Past the grace: drop what has not started, interrupt what runs. */
		free_queued(w);
		atomic_store_explicit(&w->abandon, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&w->lock);
	im_workers_close(w);
}

void im_workers_close(im_workers *w)
{
	int i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	for (i = 0; i < MAX_THREADS; i++)
		if (w->db[i])
			sqlite3_close(w->db[i]);
	im_completions_free(atomic_exchange(&w->done, NULL));
	free_queued(w);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	close(w->efd);
	free(w);
}
