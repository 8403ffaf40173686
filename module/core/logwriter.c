/*
 * logwriter.c — bounded queue + one writer thread that commits log entries in
 * batches.
 *
 * Producer side (any thread, usually Prosody's event loop): validate the entry,
 * copy it into ONE allocation, push it under the mutex, and signal the writer
 * only when it sleeps and either the queue just became non-empty (so it can arm
 * its flush_ms timer) or a full batch is waiting.  No SQLite on this side.
 *
 * Writer side: waits until a batch is due (batch_max entries, the oldest entry
 * is flush_ms old, a flush is requested, or close), then commits the batch in
 * one transaction: entries, FTS rows, and rollup deltas aggregated in memory
 * (a small hash map) so each distinct rollup key costs one UPSERT.
 * A failed commit keeps the batch and retries with backoff (degraded mode);
 * an entry SQLite refuses for good ("poison") is dropped and counted, so one bad
 * entry can never wedge the writer.
 *
 * Text repair (invalid UTF-8, control characters, truncation of long bodies on
 * a character boundary) happens on the writer thread, not the producer's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logwriter.h"
#include "slotpool.h"
#include "store.h"
#include "thread_prio.h"

#define DEF_QUEUE_MAX   65536
#define DEF_BATCH_MAX   2048
#define DEF_FLUSH_MS    200
#define MAX_FLUSH_MS    1000             /* the documented loss window */
#define DEF_BODY_MAX    (64 * 1024)
#define MAX_BODY_MAX    ((size_t)16 * 1024 * 1024)  /* keeps lengths far from INT_MAX */
/* Bound on queued bytes as well as entries: 65536 entries of 64 KiB would be
 * 4 GiB.  Entries beyond are dropped and counted like a full queue. */
#define QUEUE_BYTES_MAX ((size_t)256 * 1024 * 1024)
#define JID_MAX         3071             /* RFC 7622: 3 parts of 1023 bytes */
#define DOMAIN_MAX      1023
#define SHORT_MAX       1023             /* stanza id, resource, client: cut, not refused */
#define TS_MAX          INT64_C(253402300799) /* 9999-12-31: keeps bucket math sane */
#define WRITER_BUSY_MS  1000             /* lock waits beyond this go to degraded mode */
#define BACKOFF_MIN_MS  50
#define BACKOFF_MAX_MS  1000
#define CLOSE_GRACE_MS  3000             /* close gives a degraded writer this long */
/* Entries up to this size (a chat message of a few hundred bytes) come from the
 * writer's slot pool, at most POOL_BATCHES batches' worth; larger ones from malloc. */
#define ENTRY_SLOT_BYTES 512
#define POOL_BATCHES    4

enum { E_MESSAGE, E_SESSION };
/* String fields.  Sessions reuse the slots: FROM=user, TO=resource, ROOM=client. */
enum { F_DOMAIN, F_FROM, F_TO, F_ROOM, F_STANZA, F_BODY, NF };

struct entry {
	struct entry *next;
	uint64_t seq;            /* enqueue order; flush waits for done_seq >= its seq */
	int64_t enq_ns;          /* CLOCK_MONOTONIC at enqueue, for the flush_ms timer */
	int64_t ts, size;
	size_t bytes;            /* allocation size, for the queue byte bound */
	unsigned char type, truncated, clean;  /* clean: text already repaired */
	unsigned char pooled;    /* from w->pool, not malloc */
	const char *kind;        /* static string: message kind or session event */
	const char *encrypted;   /* static string or NULL */
	const char *f[NF];       /* into data[], or NULL */
	size_t len[NF];
	char data[];
};

/* Rollup deltas of one batch attempt, keyed by (type, bucket, domain, name).
 * Keys point into the batch's entries, which outlive the attempt. */
enum { R_HOUR = 'H', R_PEAK = 'P', R_USER = 'U', R_ROOM = 'R', R_KNOWN = 'K', R_ONLINE = 'O' };
struct rslot {
	uint64_t h;
	const char *domain, *name;
	size_t dlen, nlen;
	int64_t bucket, a, b;
	char type, used;
};
struct rmap {
	struct rslot *s;
	size_t cap, n;
};

enum {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_INS_MSG, S_INS_FTS, S_INS_SESS, S_UP_HOUR,
	S_UP_PEAK, S_UP_USER, S_UP_ROOM, S_UP_KNOWN, S_GET_ONLINE, S_SET_ONLINE, S_COUNT
};
static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_INS_MSG] = "INSERT INTO log_message(ts,domain,sender,recipient,room,kind,"
	              "stanza_id,size,body,encrypted,truncated) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
	[S_INS_FTS] = "INSERT INTO log_message_fts(rowid, body) VALUES(?,?)",
	[S_INS_SESS] = "INSERT INTO log_session(ts,domain,user,resource,client,event) "
	               "VALUES(?,?,?,?,?,?)",
	[S_UP_HOUR] = "INSERT INTO rollup_hour(domain,hour,messages,bytes) VALUES(?,?,?,?) "
	              "ON CONFLICT(domain,hour) DO UPDATE SET messages=messages+excluded.messages,"
	              " bytes=bytes+excluded.bytes",
	[S_UP_PEAK] = "INSERT INTO rollup_hour(domain,hour,peak_sessions) VALUES(?,?,?) "
	              "ON CONFLICT(domain,hour) DO UPDATE SET "
	              "peak_sessions=max(peak_sessions, excluded.peak_sessions)",
	[S_UP_USER] = "INSERT INTO rollup_user_day(domain,day,user,messages,logins) "
	              "VALUES(?,?,?,?,?) ON CONFLICT(domain,day,user) DO UPDATE SET "
	              "messages=messages+excluded.messages, logins=logins+excluded.logins",
	[S_UP_ROOM] = "INSERT INTO rollup_room_day(domain,day,room,messages) VALUES(?,?,?,?) "
	              "ON CONFLICT(domain,day,room) DO UPDATE SET "
	              "messages=messages+excluded.messages",
	[S_UP_KNOWN] = "INSERT INTO known_user(domain,user,first_seen,last_seen) "
	               "VALUES(?,?,?,?) ON CONFLICT(domain,user) DO UPDATE SET "
	               "first_seen=min(first_seen,excluded.first_seen),"
	               " last_seen=max(last_seen,excluded.last_seen)",
	[S_GET_ONLINE] = "SELECT online FROM session_online WHERE domain=?",
	[S_SET_ONLINE] = "INSERT INTO session_online(domain,online) VALUES(?,?) "
	                 "ON CONFLICT(domain) DO UPDATE SET online=excluded.online",
};

struct im_writer {
	/* Immutable after open. */
	int sync, queue_max, batch_max;
	int64_t flush_ns;
	size_t body_max;
	void (*notify)(void *);
	void *notify_arg;
	sqlite3 *db;             /* owned by the writer thread after open */
	im_slotpool pool;        /* entries' memory (thread-safe) */
	sqlite3_stmt *st[S_COUNT];
	pthread_t thread;

	pthread_mutex_t mu;
	pthread_cond_t wake;     /* writer waits here */
	pthread_cond_t done;     /* flush waiters wait here */
	/* Guarded by mu. */
	struct entry *head, *tail;
	int64_t qcount;
	size_t qbytes;
	int waiting;             /* writer is in pthread_cond_*wait on wake */
	int flush_waiters;
	int closing;
	int64_t close_deadline_ns;
	uint64_t enq_seq, done_seq, attempts;
	int64_t dropped, written, batches, last_batch_size, last_flush_us, max_flush_us;
	int64_t db_bytes, inflight;
	int degraded;
	char last_error[256];

	/* Writer thread only. */
	struct entry **batch;
	int nbatch;
	struct rmap rm;
};

static const char *const kinds[] = { "chat", "groupchat", "normal", "headline" };
static const char *const schemes[] = { "omemo", "openpgp", "otr", "encrypted" };
static const char *const events[] = { "login", "logout" };

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static struct timespec ns_to_ts(int64_t ns)
{
	struct timespec t = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
	return t;
}

static const char *pick(const char *s, const char *const *set, size_t n)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return set[i];
	return NULL;
}

static void set_err(char **err, const char *msg)
{
	if (err != NULL) {
		free(*err);
		*err = strdup(msg);
	}
}

/* --- UTF-8 repair (writer thread) ----------------------------------------------- */

/* Length (1..4) of the valid UTF-8 sequence at s, 0 if invalid, -1 if it is cut
 * short by the end of the buffer.  Rejects overlongs, surrogates, > U+10FFFF. */
static int u8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	uint32_t v, min;
	int len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2; v = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3; v = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4; v = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -1;
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* C0 controls (except tab, newline, carriage return when ws), DEL, C1 controls. */
static int u8_ctrl(uint32_t cp, int ws)
{
	if (cp < 0x20)
		return !(ws && (cp == '\t' || cp == '\n' || cp == '\r'));
	return cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

static int u8_is_clean(const char *p, size_t n, int ws)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		int r;

		if (s[i] >= 0x20 && s[i] < 0x7f) {   /* fast path: printable ASCII */
			i++;
			continue;
		}
		r = u8_seq(s + i, n - i, &cp);
		if (r <= 0 || u8_ctrl(cp, ws))
			return 0;
		i += (size_t)r;
	}
	return 1;
}

/* Writes the repaired text to out (room for 3 * n bytes): invalid bytes become
 * U+FFFD, controls are dropped, and a sequence cut by the end of the buffer is
 * dropped when cut (the producer truncated there) or replaced otherwise.
 * Returns the output length. */
static size_t u8_clean(const char *p, size_t n, char *out, int ws, int cut)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, o = 0;

	while (i < n) {
		uint32_t cp;
		int r = u8_seq(s + i, n - i, &cp);

		if (r > 0) {
			if (!u8_ctrl(cp, ws))
				memcpy(out + o, s + i, (size_t)r), o += (size_t)r;
			i += (size_t)r;
			continue;
		}
		if (r < 0 && cut)
			break;
		memcpy(out + o, "\xef\xbf\xbd", 3);
		o += 3;
		i++;
	}
	return o;
}

/* The longest prefix of valid UTF-8 text s that is at most max bytes and ends on
 * a character boundary. */
static size_t u8_cut(const char *s, size_t max)
{
	size_t l = max;

	while (l > 0 && ((unsigned char)s[l] & 0xc0) == 0x80)
		l--;
	return l;
}

/* --- entries ------------------------------------------------------------------- */

/* One allocation: header + NUL-terminated copies of the strings. */
static struct entry *entry_new(im_writer *w, const struct entry *proto,
                               const char *const f[NF], const size_t len[NF])
{
	size_t total = sizeof(struct entry), i;
	struct entry *e = NULL;
	int pooled = 0;
	char *p;

	for (i = 0; i < NF; i++)
		if (f[i] != NULL)
			total += len[i] + 1;
	if (total <= ENTRY_SLOT_BYTES) {
		e = im_slotpool_get(&w->pool);
		pooled = e != NULL;
	}
	if (e == NULL)
		e = malloc(total);
	if (e == NULL)
		return NULL;
	*e = *proto;
	e->next = NULL;
	e->bytes = total;
	e->pooled = (unsigned char)pooled;
	p = e->data;
	for (i = 0; i < NF; i++) {
		e->len[i] = f[i] ? len[i] : 0;
		e->f[i] = NULL;
		if (f[i] == NULL)
			continue;
		memcpy(p, f[i], len[i]);
		p[len[i]] = '\0';
		e->f[i] = p;
		p += len[i] + 1;
	}
	return e;
}

static void entry_free(im_writer *w, struct entry *e)
{
	if (e->pooled)
		im_slotpool_put(&w->pool, (void *const *)&e, 1);
	else
		free(e);
}

/* A JID field: the bare part (the resource is cut: the schema stores bare JIDs).
 * Returns 0 if acceptable (absent allowed when !required). */
static int jid_field(const char *s, size_t max, int required, const char **f, size_t *len)
{
	const char *slash;
	size_t n;

	*f = NULL;
	*len = 0;
	if (s == NULL || *s == '\0')
		return required ? -1 : 0;
	n = strnlen(s, max + 1);
	if (n > max)
		return -1;
	slash = memchr(s, '/', n);
	if (slash != NULL)
		n = (size_t)(slash - s);
	if (n == 0)
		return -1;
	*f = s;
	*len = n;
	return 0;
}

/* An optional free-text field, cut at SHORT_MAX (the writer repairs a cut
 * character). */
static void short_field(const char *s, const char **f, size_t *len)
{
	*f = s;
	*len = s ? strnlen(s, SHORT_MAX) : 0;
}

static int push(im_writer *w, struct entry *e)
{
	int64_t t = now_ns();
	uint64_t seq;
	int rc;

	pthread_mutex_lock(&w->mu);
	if (w->closing || w->qcount >= w->queue_max || w->qbytes + e->bytes > QUEUE_BYTES_MAX) {
		w->dropped++;
		pthread_mutex_unlock(&w->mu);
		entry_free(w, e);
		return IM_EFULL;
	}
	seq = e->seq = ++w->enq_seq;
	e->enq_ns = t;
	if (w->tail)
		w->tail->next = e;
	else
		w->head = e;
	w->tail = e;
	w->qcount++;
	w->qbytes += e->bytes;
	/* Wake a sleeping writer only when it must act: to arm its timer for a new
	 * oldest entry, when a full batch waits, or in sync mode. */
	if (w->waiting && (w->qcount == 1 || w->qcount >= w->batch_max))
		pthread_cond_signal(&w->wake);
	if (!w->sync) {
		pthread_mutex_unlock(&w->mu);
		return IM_OK;
	}
	/* Sync mode: wait for this entry's commit. */
	rc = IM_OK;
	{
		uint64_t start = w->attempts;

		w->flush_waiters++;
		pthread_cond_signal(&w->wake);
		while (w->done_seq < seq && !(w->degraded && w->attempts > start))
			pthread_cond_wait(&w->done, &w->mu);
		w->flush_waiters--;
		if (w->done_seq < seq)
			rc = IM_ERR;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int im_writer_message(im_writer *w, const im_log_message *m)
{
	struct entry proto = { 0 };
	const char *f[NF] = { 0 };
	size_t len[NF] = { 0 };
	struct entry *e;

	if (w == NULL || m == NULL || m->ts < 0 || m->ts > TS_MAX || m->size < 0)
		return IM_EINVAL;
	proto.type = E_MESSAGE;
	proto.ts = m->ts;
	proto.size = m->size;
	proto.kind = pick(m->kind, kinds, 4);
	if (proto.kind == NULL)
		return IM_EINVAL;
	if (jid_field(m->domain, DOMAIN_MAX, 1, &f[F_DOMAIN], &len[F_DOMAIN]) != 0 ||
	    jid_field(m->from, JID_MAX, 1, &f[F_FROM], &len[F_FROM]) != 0 ||
	    jid_field(m->to, JID_MAX, 0, &f[F_TO], &len[F_TO]) != 0 ||
	    jid_field(m->room, JID_MAX, 0, &f[F_ROOM], &len[F_ROOM]) != 0)
		return IM_EINVAL;
	if (proto.kind == kinds[1]) {    /* groupchat: the room is the recipient */
		if (f[F_ROOM] == NULL)
			return IM_EINVAL;
		f[F_TO] = NULL;
		len[F_TO] = 0;
	}
	short_field(m->stanza_id, &f[F_STANZA], &len[F_STANZA]);
	if (m->encrypted != NULL && *m->encrypted != '\0') {
		/* An unknown scheme is still encryption: never store its "body". */
		proto.encrypted = pick(m->encrypted, schemes, 4);
		if (proto.encrypted == NULL)
			proto.encrypted = schemes[3];
	} else if (m->body != NULL) {
		f[F_BODY] = m->body;
		len[F_BODY] = m->body_len;
		if (m->body_len > w->body_max) {
			len[F_BODY] = w->body_max;   /* the writer drops a cut trailing character */
			proto.truncated = 1;
		}
	}
	e = entry_new(w, &proto, f, len);
	if (e == NULL)
		return IM_ERR;
	return push(w, e);
}

int im_writer_session(im_writer *w, const im_log_session *s)
{
	struct entry proto = { 0 };
	const char *f[NF] = { 0 };
	size_t len[NF] = { 0 };
	struct entry *e;

	if (w == NULL || s == NULL || s->ts < 0 || s->ts > TS_MAX)
		return IM_EINVAL;
	proto.type = E_SESSION;
	proto.ts = s->ts;
	proto.kind = pick(s->event, events, 2);
	if (proto.kind == NULL)
		return IM_EINVAL;
	if (jid_field(s->domain, DOMAIN_MAX, 1, &f[F_DOMAIN], &len[F_DOMAIN]) != 0 ||
	    jid_field(s->user, JID_MAX, 1, &f[F_FROM], &len[F_FROM]) != 0)
		return IM_EINVAL;
	short_field(s->resource, &f[F_TO], &len[F_TO]);
	short_field(s->client, &f[F_ROOM], &len[F_ROOM]);
	e = entry_new(w, &proto, f, len);
	if (e == NULL)
		return IM_ERR;
	return push(w, e);
}

/* Writer thread: repairs an entry's text in place or by replacing the entry.
 * Returns the (possibly new) entry, or NULL when out of memory (the caller
 * keeps the old one and retries later). */
static struct entry *entry_clean(im_writer *w, struct entry *e)
{
	const char *f[NF];
	size_t len[NF], i;
	char *buf[NF] = { 0 };
	struct entry *n;
	int dirty = 0;

	for (i = 0; i < NF; i++) {
		int ws = (i == F_BODY);
		/* Short free-text fields may have been cut by the producer. */
		int cut = (i == F_BODY) ? e->truncated
		        : (i == F_STANZA || (e->type == E_SESSION && i != F_DOMAIN && i != F_FROM));

		f[i] = e->f[i];
		len[i] = e->len[i];
		if (f[i] == NULL || u8_is_clean(f[i], len[i], ws))
			continue;
		buf[i] = malloc(len[i] * 3 + 1);
		if (buf[i] == NULL)
			goto oom;
		len[i] = u8_clean(f[i], len[i], buf[i], ws, cut);
		f[i] = buf[i];
		dirty = 1;
	}
	if (f[F_BODY] != NULL && len[F_BODY] > w->body_max) {
		/* Replacement characters made the body longer than the limit. */
		len[F_BODY] = u8_cut(f[F_BODY], w->body_max);
		e->truncated = 1;
		dirty = 1;
	}
	if (!dirty) {
		e->clean = 1;
		return e;
	}
	n = entry_new(w, e, f, len);
	for (i = 0; i < NF; i++)
		free(buf[i]);
	if (n == NULL)
		return NULL;
	n->clean = 1;
	entry_free(w, e);
	return n;
oom:
	for (i = 0; i < NF; i++)
		free(buf[i]);
	return NULL;
}

/* --- rollup map ---------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		h ^= *s++;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static int rmap_grow(struct rmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024, i;
	struct rslot *s = calloc(cap, sizeof *s);

	if (s == NULL)
		return -1;
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->s[i].used)
			continue;
		for (j = m->s[i].h & (cap - 1); s[j].used; j = (j + 1) & (cap - 1))
			;
		s[j] = m->s[i];
	}
	free(m->s);
	m->s = s;
	m->cap = cap;
	return 0;
}

static void rmap_reset(struct rmap *m)
{
	if (m->n > 0)
		memset(m->s, 0, m->cap * sizeof *m->s);
	m->n = 0;
}

/* Finds or adds the slot for a key; *is_new tells which.  NULL on OOM. */
static struct rslot *rmap_get(struct rmap *m, char type, int64_t bucket, const char *domain,
                              size_t dlen, const char *name, size_t nlen, int *is_new)
{
	uint64_t h = UINT64_C(14695981039346656037);
	size_t j;

	if ((m->n + 1) * 2 > m->cap && rmap_grow(m) != 0)
		return NULL;
	h = fnv(h, &type, 1);
	h = fnv(h, &bucket, sizeof bucket);
	h = fnv(h, domain, dlen + 1);    /* + the NUL: separates domain from name */
	if (name)
		h = fnv(h, name, nlen);
	for (j = h & (m->cap - 1); m->s[j].used; j = (j + 1) & (m->cap - 1)) {
		struct rslot *s = &m->s[j];

		if (s->h == h && s->type == type && s->bucket == bucket && s->dlen == dlen &&
		    s->nlen == nlen && memcmp(s->domain, domain, dlen) == 0 &&
		    (nlen == 0 || memcmp(s->name, name, nlen) == 0)) {
			*is_new = 0;
			return s;
		}
	}
	m->s[j] = (struct rslot){ .h = h, .domain = domain, .name = name, .dlen = dlen,
	                          .nlen = nlen, .bucket = bucket, .type = type, .used = 1 };
	m->n++;
	*is_new = 1;
	return &m->s[j];
}

/* --- the batch transaction ----------------------------------------------------- */

/* Result of one step: SQLITE_OK/DONE/ROW are fine. */
static int step_reset(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (rc == SQLITE_DONE || rc == SQLITE_ROW) ? SQLITE_OK : rc;
}

static void bind_f(sqlite3_stmt *st, int i, const struct entry *e, int f)
{
	if (e->f[f] != NULL)
		sqlite3_bind_text(st, i, e->f[f], (int)e->len[f], SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The domain part of a bare JID. */
static const char *jid_domain(const char *jid, size_t len, size_t *dlen)
{
	const char *at = memchr(jid, '@', len);

	if (at == NULL) {
		*dlen = len;
		return jid;
	}
	*dlen = len - (size_t)(at + 1 - jid);
	return at + 1;
}

static int known(struct rmap *m, const struct entry *e, const char *user, size_t ulen)
{
	int is_new;
	struct rslot *s = rmap_get(m, R_KNOWN, 0, e->f[F_DOMAIN], e->len[F_DOMAIN], user, ulen,
	                           &is_new);

	if (s == NULL)
		return SQLITE_NOMEM;
	if (is_new || e->ts < s->a)
		s->a = e->ts;
	if (is_new || e->ts > s->b)
		s->b = e->ts;
	return SQLITE_OK;
}

static int add(struct rmap *m, char type, int64_t bucket, const struct entry *e, int field,
               int64_t da, int64_t db)
{
	int is_new;
	struct rslot *s = rmap_get(m, type, bucket, e->f[F_DOMAIN], e->len[F_DOMAIN],
	                           field >= 0 ? e->f[field] : NULL,
	                           field >= 0 ? e->len[field] : 0, &is_new);

	if (s == NULL)
		return SQLITE_NOMEM;
	s->a += da;
	s->b += db;
	return SQLITE_OK;
}

static int do_message(im_writer *w, const struct entry *e)
{
	sqlite3_stmt *st = w->st[S_INS_MSG];
	int64_t hour = e->ts - e->ts % 3600, day = e->ts - e->ts % 86400;
	int rc;

	sqlite3_bind_int64(st, 1, e->ts);
	bind_f(st, 2, e, F_DOMAIN);
	bind_f(st, 3, e, F_FROM);
	bind_f(st, 4, e, F_TO);
	bind_f(st, 5, e, F_ROOM);
	sqlite3_bind_text(st, 6, e->kind, -1, SQLITE_STATIC);
	bind_f(st, 7, e, F_STANZA);
	sqlite3_bind_int64(st, 8, e->size);
	bind_f(st, 9, e, F_BODY);
	if (e->encrypted)
		sqlite3_bind_text(st, 10, e->encrypted, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 10);
	sqlite3_bind_int(st, 11, e->truncated);
	if ((rc = step_reset(st)) != SQLITE_OK)
		return rc;
	if (e->f[F_BODY] != NULL) {
		st = w->st[S_INS_FTS];
		sqlite3_bind_int64(st, 1, sqlite3_last_insert_rowid(w->db));
		bind_f(st, 2, e, F_BODY);
		if ((rc = step_reset(st)) != SQLITE_OK)
			return rc;
	}
	if ((rc = add(&w->rm, R_HOUR, hour, e, -1, 1, e->size)) != SQLITE_OK ||
	    (rc = add(&w->rm, R_USER, day, e, F_FROM, 1, 0)) != SQLITE_OK ||
	    (rc = known(&w->rm, e, e->f[F_FROM], e->len[F_FROM])) != SQLITE_OK)
		return rc;
	if (e->f[F_ROOM] != NULL && (rc = add(&w->rm, R_ROOM, day, e, F_ROOM, 1, 0)) != SQLITE_OK)
		return rc;
	if (e->f[F_TO] != NULL) {
		size_t dl;
		const char *d = jid_domain(e->f[F_TO], e->len[F_TO], &dl);

		/* Only local recipients are users of this host. */
		if (dl == e->len[F_DOMAIN] && memcmp(d, e->f[F_DOMAIN], dl) == 0 &&
		    (rc = known(&w->rm, e, e->f[F_TO], e->len[F_TO])) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int do_session(im_writer *w, const struct entry *e)
{
	sqlite3_stmt *st = w->st[S_INS_SESS];
	int64_t hour = e->ts - e->ts % 3600, day = e->ts - e->ts % 86400;
	struct rslot *on, *peak;
	int rc, is_new;

	sqlite3_bind_int64(st, 1, e->ts);
	bind_f(st, 2, e, F_DOMAIN);
	bind_f(st, 3, e, F_FROM);
	bind_f(st, 4, e, F_TO);
	bind_f(st, 5, e, F_ROOM);
	sqlite3_bind_text(st, 6, e->kind, -1, SQLITE_STATIC);
	if ((rc = step_reset(st)) != SQLITE_OK)
		return rc;
	if ((rc = known(&w->rm, e, e->f[F_FROM], e->len[F_FROM])) != SQLITE_OK)
		return rc;
	/* The online count changes in entry order, so the first time a domain shows
	 * up in this batch its stored count is read, then kept in the map. */
	on = rmap_get(&w->rm, R_ONLINE, 0, e->f[F_DOMAIN], e->len[F_DOMAIN], NULL, 0, &is_new);
	if (on == NULL)
		return SQLITE_NOMEM;
	if (is_new) {
		st = w->st[S_GET_ONLINE];
		bind_f(st, 1, e, F_DOMAIN);
		rc = sqlite3_step(st);
		on->a = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return rc;
	}
	if (e->kind == events[0]) {
		on->a++;
		if ((rc = add(&w->rm, R_USER, day, e, F_FROM, 0, 1)) != SQLITE_OK)
			return rc;
		peak = rmap_get(&w->rm, R_PEAK, hour, e->f[F_DOMAIN], e->len[F_DOMAIN], NULL, 0,
		                &is_new);
		if (peak == NULL)
			return SQLITE_NOMEM;
		if (on->a > peak->a)
			peak->a = on->a;
	} else if (on->a > 0) {
		on->a--;     /* never below zero: a logout whose login predates the log */
	}
	return SQLITE_OK;
}

static int flush_rollups(im_writer *w)
{
	size_t i;
	int rc = SQLITE_OK;

	for (i = 0; i < w->rm.cap && rc == SQLITE_OK; i++) {
		const struct rslot *s = &w->rm.s[i];
		sqlite3_stmt *st;
		int n = 1;

		if (!s->used)
			continue;
		switch (s->type) {
		case R_HOUR: st = w->st[S_UP_HOUR]; break;
		case R_PEAK: st = w->st[S_UP_PEAK]; break;
		case R_USER: st = w->st[S_UP_USER]; break;
		case R_ROOM: st = w->st[S_UP_ROOM]; break;
		case R_KNOWN: st = w->st[S_UP_KNOWN]; break;
		default: st = w->st[S_SET_ONLINE]; break;
		}
		sqlite3_bind_text(st, n++, s->domain, (int)s->dlen, SQLITE_STATIC);
		if (s->type == R_HOUR || s->type == R_PEAK || s->type == R_USER || s->type == R_ROOM)
			sqlite3_bind_int64(st, n++, s->bucket);
		if (s->type == R_USER || s->type == R_ROOM || s->type == R_KNOWN)
			sqlite3_bind_text(st, n++, s->name, (int)s->nlen, SQLITE_STATIC);
		sqlite3_bind_int64(st, n++, s->a);
		if (s->type == R_HOUR || s->type == R_USER || s->type == R_KNOWN)
			sqlite3_bind_int64(st, n++, s->b);
		rc = step_reset(st);
	}
	return rc;
}

/* Errors that belong to one entry, not to the database: that entry is dropped
 * and counted.  Everything else (busy, locked, full, I/O, a broken schema) keeps
 * the whole batch for a retry: better degraded than silently dropping. */
static int entry_error(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT: case SQLITE_TOOBIG: case SQLITE_MISMATCH: case SQLITE_RANGE:
		return 1;
	default:
		return 0;
	}
}

/* Commits w->batch[0..nbatch).  Returns IM_OK; IM_ERR (transient: keep and retry)
 * with errbuf set; or IM_EINVAL with *poison = index of an entry SQLite refuses. */
static int commit_batch(im_writer *w, int *poison, char *errbuf, size_t errsz)
{
	int i, rc;

	rmap_reset(&w->rm);
	rc = step_reset(w->st[S_BEGIN]);
	if (rc != SQLITE_OK) {
		snprintf(errbuf, errsz, "begin: %s", sqlite3_errmsg(w->db));
		return IM_ERR;
	}
	for (i = 0; i < w->nbatch; i++) {
		const struct entry *e = w->batch[i];

		rc = e->type == E_MESSAGE ? do_message(w, e) : do_session(w, e);
		if (rc != SQLITE_OK) {
			snprintf(errbuf, errsz, "insert: %s", sqlite3_errmsg(w->db));
			step_reset(w->st[S_ROLLBACK]);
			if (!entry_error(rc))
				return IM_ERR;
			*poison = i;
			return IM_EINVAL;
		}
	}
	if ((rc = flush_rollups(w)) != SQLITE_OK) {
		snprintf(errbuf, errsz, "rollups: %s", sqlite3_errmsg(w->db));
		step_reset(w->st[S_ROLLBACK]);
		return IM_ERR;
	}
	if (step_reset(w->st[S_COMMIT]) != SQLITE_OK) {
		snprintf(errbuf, errsz, "commit: %s", sqlite3_errmsg(w->db));
		/* A failed COMMIT may leave the transaction open. */
		if (!sqlite3_get_autocommit(w->db))
			step_reset(w->st[S_ROLLBACK]);
		return IM_ERR;
	}
	return IM_OK;
}

/* --- the writer thread --------------------------------------------------------- */

static int batch_due(const im_writer *w, int64_t now)
{
	return w->qcount > 0 &&
	       (w->qcount >= w->batch_max || w->flush_waiters > 0 || w->closing ||
	        now >= w->head->enq_ns + w->flush_ns);
}

/* Moves the oldest min(qcount, batch_max) entries into w->batch.  Called and
 * returns with mu held, but walks the list without it: the entries were
 * written on the event loop's core, so the walk is a string of cache misses
 * (a few hundred us for a full batch) that push() must not wait out.  This is
 * safe because only this thread removes entries and push() only touches the
 * tail: either the whole queue is detached first, or the walk stops short of
 * the tail. */
static void take_batch(im_writer *w)
{
	struct entry *e = w->head;
	int n = w->qcount < w->batch_max ? w->qcount : w->batch_max, i;
	int whole = n == w->qcount;
	int64_t bytes = 0;

	if (whole) {
		w->head = w->tail = NULL;
		w->qcount = 0;
		w->qbytes = 0;
		w->inflight = n;
	}
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < n; i++) {
		struct entry *next = e->next;

		bytes += e->bytes;
		e->next = NULL;
		w->batch[i] = e;
		e = next;
	}
	pthread_mutex_lock(&w->mu);
	if (!whole) {
		w->head = e;   /* the oldest entry left */
		w->qcount -= n;
		w->qbytes -= bytes;
	}
	w->nbatch = n;
	w->inflight = n;
}

/* Frees the batch: malloc'd entries one by one, pooled ones in one call. */
static void free_batch(im_writer *w)
{
	int i, npooled = 0;

	for (i = 0; i < w->nbatch; i++) {
		if (w->batch[i]->pooled)
			w->batch[npooled++] = w->batch[i];   /* the array is done with */
		else
			free(w->batch[i]);
	}
	im_slotpool_put(&w->pool, (void *const *)w->batch, (size_t)npooled);
	w->nbatch = 0;
}

static void *writer_main(void *arg)
{
	im_writer *w = arg;
	int64_t backoff_ms = 0;
	char errbuf[200];   /* leaves room for a prefix in last_error */

	/* Woken by push() for a full batch: without this, the writer could take the
	 * event loop's core from it for a whole commit.  Nice 0: it must keep up. */
	im_thread_background(0);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		int64_t t0, us, bytes;
		int rc, poison = -1, i, was_degraded, notify = 0, committed;
		uint64_t last_seq;

		if (w->nbatch == 0) {
			int64_t now = now_ns();

			while (!batch_due(w, now) && !(w->closing && w->qcount == 0)) {
				w->waiting = 1;
				if (w->qcount > 0) {
					struct timespec dl = ns_to_ts(w->head->enq_ns + w->flush_ns);
					pthread_cond_timedwait(&w->wake, &w->mu, &dl);
				} else {
					pthread_cond_wait(&w->wake, &w->mu);
				}
				w->waiting = 0;
				now = now_ns();
			}
			if (w->qcount == 0)
				break;     /* closing and drained */
			take_batch(w);
		}
		pthread_mutex_unlock(&w->mu);

		for (i = 0; i < w->nbatch; i++) {
			if (!w->batch[i]->clean) {
				struct entry *n = entry_clean(w, w->batch[i]);
				if (n != NULL)
					w->batch[i] = n;   /* on OOM the raw entry stays: still valid SQL text */
			}
		}
		t0 = now_ns();
		rc = commit_batch(w, &poison, errbuf, sizeof errbuf);
		us = (now_ns() - t0) / 1000;
		bytes = rc == IM_OK ? im_store_size_bytes(w->db) : -1;
		last_seq = w->batch[w->nbatch - 1]->seq;

		committed = w->nbatch;
		if (rc == IM_OK)
			free_batch(w);   /* outside mu, like the walk in take_batch */

		pthread_mutex_lock(&w->mu);
		w->attempts++;
		was_degraded = w->degraded;
		if (rc == IM_OK) {
			w->written += committed;
			w->batches++;
			w->last_batch_size = committed;
			w->last_flush_us = us;
			if (us > w->max_flush_us)
				w->max_flush_us = us;
			if (bytes >= 0)
				w->db_bytes = bytes;
			w->done_seq = last_seq;
			w->degraded = 0;
			w->inflight = 0;
			backoff_ms = 0;
			notify = 1;
		} else if (rc == IM_EINVAL) {
			/* Drop the one entry SQLite refuses; retry the rest at once. */
			snprintf(w->last_error, sizeof w->last_error, "entry dropped: %s", errbuf);
			w->dropped++;
			entry_free(w, w->batch[poison]);
			memmove(&w->batch[poison], &w->batch[poison + 1],
			        (size_t)(w->nbatch - poison - 1) * sizeof w->batch[0]);
			w->nbatch--;
			w->inflight = w->nbatch;
			if (w->nbatch == 0)
				w->done_seq = last_seq;
		} else {
			w->degraded = 1;
			snprintf(w->last_error, sizeof w->last_error, "%s", errbuf);
			notify = !was_degraded;
			if (w->closing && now_ns() >= w->close_deadline_ns) {
				/* Give up: count everything still held as dropped. */
				struct entry *e;

				w->dropped += w->nbatch + w->qcount;
				free_batch(w);
				while ((e = w->head) != NULL) {
					w->head = e->next;
					entry_free(w, e);
				}
				w->tail = NULL;
				w->qcount = 0;
				w->qbytes = 0;
				w->inflight = 0;
				w->done_seq = w->enq_seq;
			}
		}
		/* notify before waking flush waiters: once flush returns, the commit's
		 * notification has happened (the glue and the tests rely on it). */
		if (notify && w->notify) {
			pthread_mutex_unlock(&w->mu);
			w->notify(w->notify_arg);
			pthread_mutex_lock(&w->mu);
		}
		pthread_cond_broadcast(&w->done);
		if (rc == IM_ERR && w->nbatch > 0) {
			struct timespec dl;

			backoff_ms = backoff_ms ? backoff_ms * 2 : BACKOFF_MIN_MS;
			if (backoff_ms > BACKOFF_MAX_MS)
				backoff_ms = BACKOFF_MAX_MS;
			dl = ns_to_ts(now_ns() + backoff_ms * 1000000);
			/* waiting stays 0: producers must not cut the backoff short; only
			 * flush and close (which signal unconditionally) do. */
			pthread_cond_timedwait(&w->wake, &w->mu, &dl);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* --- open / flush / stats / close ---------------------------------------------- */

static void writer_free(im_writer *w)
{
	int i;

	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(w->st[i]);
	sqlite3_close(w->db);
	free(w->batch);
	free(w->rm.s);
	im_slotpool_destroy(&w->pool);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int im_writer_open(const im_writer_opts *o, im_writer **out, char **err)
{
	pthread_condattr_t ca;
	im_writer *w;
	int i;

	*out = NULL;
	if (o == NULL || o->path == NULL || o->queue_max < 0 || o->batch_max < 0 ||
	    o->flush_ms < 0) {
		set_err(err, "log writer: bad options");
		return IM_EINVAL;
	}
	w = calloc(1, sizeof *w);
	if (w == NULL) {
		set_err(err, "log writer: out of memory");
		return IM_ERR;
	}
	w->sync = o->sync != 0;
	w->queue_max = o->queue_max ? o->queue_max : DEF_QUEUE_MAX;
	w->batch_max = o->batch_max ? o->batch_max : DEF_BATCH_MAX;
	w->flush_ns = (int64_t)(o->flush_ms ? o->flush_ms : DEF_FLUSH_MS) * 1000000;
	if (w->flush_ns > (int64_t)MAX_FLUSH_MS * 1000000)
		w->flush_ns = (int64_t)MAX_FLUSH_MS * 1000000;
	w->body_max = o->body_max ? o->body_max : DEF_BODY_MAX;
	if (w->body_max > MAX_BODY_MAX)
		w->body_max = MAX_BODY_MAX;
	w->notify = o->notify;
	w->notify_arg = o->notify_arg;
	if (im_slotpool_init(&w->pool, ENTRY_SLOT_BYTES,
	                     (size_t)w->batch_max * POOL_BATCHES) != 0) {
		free(w);
		set_err(err, "log writer: slot pool");
		return IM_ERR;
	}
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		im_slotpool_destroy(&w->pool);
		free(w);
		set_err(err, "log writer: mutex");
		return IM_ERR;
	}
	/* Timed waits use CLOCK_MONOTONIC: wall-clock jumps must not stall commits. */
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&w->wake, &ca) != 0) {
		pthread_mutex_destroy(&w->mu);
		im_slotpool_destroy(&w->pool);
		free(w);
		set_err(err, "log writer: condvar");
		return IM_ERR;
	}
	if (pthread_cond_init(&w->done, NULL) != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->mu);
		im_slotpool_destroy(&w->pool);
		free(w);
		set_err(err, "log writer: condvar");
		return IM_ERR;
	}
	pthread_condattr_destroy(&ca);
	w->batch = calloc((size_t)w->batch_max, sizeof *w->batch);
	if (w->batch == NULL) {
		set_err(err, "log writer: out of memory");
		goto fail;
	}
	if (im_store_open(o->path, &w->db, err) != IM_OK)
		goto fail;
	/* A lock held longer than WRITER_BUSY_MS sends the writer to degraded mode
	 * (and back to retrying) instead of stalling flush() for the default 5 s.
	 * Checkpoints every 4000 pages (16 MB of WAL) instead of 1000: a hot page
	 * (the right edge of each index) is copied back once per checkpoint however
	 * many batches rewrote it. */
	if (sqlite3_busy_timeout(w->db, WRITER_BUSY_MS) != SQLITE_OK ||
	    sqlite3_wal_autocheckpoint(w->db, 4000) != SQLITE_OK ||
	    (w->sync && sqlite3_exec(w->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)) {
		im_store_set_err(err, "log writer: pragma", w->db);
		goto fail;
	}
	for (i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(w->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &w->st[i], NULL) != SQLITE_OK) {
			im_store_set_err(err, "log writer: prepare", w->db);
			goto fail;
		}
	}
	w->db_bytes = im_store_size_bytes(w->db);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		set_err(err, "log writer: cannot start thread");
		goto fail;
	}
	*out = w;
	return IM_OK;
fail:
	writer_free(w);
	return IM_ERR;
}

int im_writer_flush(im_writer *w)
{
	uint64_t target, start;
	int rc;

	if (w == NULL)
		return IM_EINVAL;
	pthread_mutex_lock(&w->mu);
	target = w->enq_seq;
	start = w->attempts;
	w->flush_waiters++;
	pthread_cond_signal(&w->wake);
	while (w->done_seq < target && !(w->degraded && w->attempts > start))
		pthread_cond_wait(&w->done, &w->mu);
	w->flush_waiters--;
	rc = w->done_seq >= target ? IM_OK : IM_ERR;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void im_writer_stats_get(im_writer *w, im_writer_stats *out)
{
	memset(out, 0, sizeof *out);
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	out->queue_depth = w->qcount + w->inflight;
	out->queue_max = w->queue_max;
	out->dropped = w->dropped;
	out->written = w->written;
	out->batches = w->batches;
	out->last_batch_size = w->last_batch_size;
	out->last_flush_us = w->last_flush_us;
	out->max_flush_us = w->max_flush_us;
	out->db_bytes = w->db_bytes;
	out->degraded = w->degraded;
	memcpy(out->last_error, w->last_error, sizeof out->last_error);
	pthread_mutex_unlock(&w->mu);
}

void im_writer_close(im_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->closing = 1;
	w->close_deadline_ns = now_ns() + (int64_t)CLOSE_GRACE_MS * 1000000;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	writer_free(w);
}
