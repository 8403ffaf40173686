/*
 * desk.h — the support desk's engine: tickets, their thread, status
 * transitions, SLA clocks, notifications, queries.  The desk.* operations
 * (ops_desk.c) are thin wrappers over these functions.
 *
 * Conventions: every function takes the caller's connection (not shared
 * between threads) and the desk configuration; JIDs arrive normalised
 * (params.c).  Write functions run in their own BEGIN IMMEDIATE transaction
 * and append one desk_event row per change.  Return codes: IM_OK, IM_EINVAL
 * (input refused), IM_ENOTFOUND, IM_EBUSY (conflict: e.g. a transition the
 * table does not allow), IM_ERR (database); *why, where given, is set to a
 * static message the caller shows and never frees.  JSON handed back is a new
 * reference.
 *
 * Statuses: new, open, waiting (on the customer), resolved, closed.  The only
 * allowed changes are those of the table in desk_ticket.c (im_desk_transition_ok).
 * Replies to closed tickets: a customer reply within reopen_days of closing
 * reopens the ticket; later it is refused ("open a new ticket").  A reply to a
 * resolved ticket reopens it.  A customer reply while waiting resumes it (open).
 *
 * Events for the glue (module events): a result with "event":"created" is
 * imhost-ticket-created, any other write result carries "event":"updated"
 * (imhost-ticket-updated), both with {ticket, event_id}.
 */
#ifndef IMHOST_DESK_H
#define IMHOST_DESK_H

#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>

#include "desk_sla.h"

enum { IM_DESK_LOW, IM_DESK_NORMAL, IM_DESK_HIGH, IM_DESK_URGENT, IM_DESK_NPRIO };

/* The desk's settings (desk_setting table; defaults in desk_conf.c). */
typedef struct {
	im_desk_cal cal;                      /* business hours (zone, window, days) */
	int64_t first_target[IM_DESK_NPRIO];  /* business seconds to first response */
	int64_t resolve_target[IM_DESK_NPRIO];/* business seconds to resolution */
	int reopen_days;                      /* closed tickets reopen on reply within this */
	int rate_per_min;                     /* incoming messages per sender and minute */
	int body_max;                         /* bytes kept of a message; the rest is cut */
	char desk_jids[512];                  /* space-separated: never notified (no loops) */
	char index_dir[512];                  /* sitegen output dir (has search/), "" = none */
	char site_url[256];                   /* base URL of the help site */
} im_desk_conf;

/* Loads the configuration (defaults for unset keys).  IM_OK or IM_ERR. */
int im_desk_conf_load(sqlite3 *db, im_desk_conf *conf);

/* Sets one key after validating it (keys and forms in desk_conf.c).  IM_OK,
 * IM_EINVAL (*why), IM_ERR. */
int im_desk_conf_set(sqlite3 *db, const char *key, const char *value, const char **why);

/* The configuration as JSON (desk.configure without arguments). */
json_t *im_desk_conf_json(const im_desk_conf *conf);

/* 1 if jid is one of the desk's own addresses. */
int im_desk_is_desk_jid(const im_desk_conf *conf, const char *jid);

/* Priority and status names <-> indexes; -1 when unknown. */
int im_desk_prio_index(const char *name);
const char *im_desk_prio_name(int idx);

/* 1 if the transition table allows from -> to. */
int im_desk_transition_ok(const char *from, const char *to);

/* --- writes (desk_ticket.c) ------------------------------------------------ */

typedef struct {
	const char *requester;   /* bare JID */
	const char *subject;     /* 1..200 bytes */
	const char *body;        /* the opening message */
	const char *category;    /* billing|technical|domain|account */
	const char *priority;    /* low|normal|high|urgent */
	const char *idem;        /* stanza id / idempotency key, or NULL */
} im_desk_new;

/* Opens a ticket.  *ticket its number, *event the "created" event.  A resend
 * (same requester and idem) returns the existing ticket with *dup = 1. */
int im_desk_open(sqlite3 *db, const im_desk_conf *conf, const im_desk_new *n, int64_t now,
                 int64_t *ticket, int64_t *event, int *dup, const char **why);

/* Adds a public reply (note = 0) or an internal note (note = 1, staff only) to
 * ticket (a merged ticket's posts go to its target; *ticket is updated).
 * staff: the author is a technician (first response, new->open) or not (the
 * customer: waiting->open, resolved->open, closed->open within reopen_days).
 * A resend with the same idem stores nothing: *dup = 1, *event = 0. */
int im_desk_post(sqlite3 *db, const im_desk_conf *conf, int64_t *ticket, const char *author,
                 int staff, int note, const char *body, const char *idem, int64_t now,
                 int64_t *event, int *dup, const char **why);

/* Changes status through the transition table; the SLA clock pauses on
 * waiting/resolved/closed and resumes on open. */
int im_desk_set_status(sqlite3 *db, const im_desk_conf *conf, int64_t ticket, const char *actor,
                       const char *to, int64_t now, int64_t *event, const char **why);

/* Changes priority; due times are recomputed from the business time used. */
int im_desk_set_priority(sqlite3 *db, const im_desk_conf *conf, int64_t ticket, const char *actor,
                         const char *prio, int64_t now, int64_t *event, const char **why);

/* Assigns to assignee (NULL: unassign).  only_if_unassigned: claim semantics
 * (IM_EBUSY when someone holds it). */
int im_desk_assign(sqlite3 *db, int64_t ticket, const char *actor, const char *assignee,
                   int only_if_unassigned, int64_t now, int64_t *event, const char **why);

/* Merges src into target: both threads stay; src is closed and points at
 * target; events on both. */
int im_desk_merge(sqlite3 *db, int64_t src, int64_t target, const char *actor, int64_t now,
                  int64_t *event, const char **why);

/* --- the one delivery path (desk_notify.c) ----------------------------------- */

/* The notifications an event causes, each recorded once under (ticket, event,
 * recipient): a second call for the same event returns only what was not yet
 * recorded.  Customers (the requester) get public replies and status changes,
 * never notes nor note text; staff (the assignee, or every technician while
 * unassigned) get everything.  Never the event's author, never a desk address.
 * *out: [{"to","audience":"customer"|"staff","ticket","event","kind","text"}];
 * a customer's entry also has "email" when the customer has one on file. */
int im_desk_notify(sqlite3 *db, const im_desk_conf *conf, int64_t event, int64_t now, json_t **out);

/* --- reads (desk_query.c) ------------------------------------------------------ */

typedef struct {
	const char *requester;   /* customer view: only this requester's tickets, public text only */
	const char *status;      /* one status, or NULL */
	const char *queue;       /* staff: "unassigned", "mine", "overdue", or NULL (all) */
	const char *me;          /* the technician, for "mine" */
	const char *keyword;     /* FTS (im_fts_query rules), or NULL */
	int64_t since, until;    /* created in [since, until) */
	int64_t now;
	int limit;               /* 1..500 */
} im_desk_filter;

/* Tickets matching f: {"tickets":[{number,subject,category,priority,status,
 * assignee,requester,created,updated,due_first,due_resolve,overdue}]}. */
int im_desk_list(sqlite3 *db, const im_desk_filter *f, json_t **out, const char **why);

/* One ticket with its thread (and the threads of tickets merged into it).
 * staff = 0 leaves notes out and shows no assignee details beyond the name. */
int im_desk_view(sqlite3 *db, int64_t ticket, int staff, int64_t now, json_t **out);

/* The ticket's requester (malloc'd) and status; IM_ENOTFOUND. */
int im_desk_owner(sqlite3 *db, int64_t ticket, char **requester, char status[16]);

/* Reports over tickets created in [since, until): open per category,
 * first-response and resolution times (count, mean, p50, p90 in seconds),
 * SLA breaches (recorded) and tickets overdue now. */
int im_desk_report(sqlite3 *db, int64_t since, int64_t until, int64_t now, json_t **out);

/* --- incoming messages (desk_incoming.c) ----------------------------------------- */

/* A chat message to the desk from `from`: rate-limited per sender, cleaned,
 * then threaded into the sender's open ticket ("#N text" names one) or opens
 * a new ticket with article suggestions.  *out: {"reply": text|null,
 * "ticket": n|null, "action": "created|threaded|duplicate|solved|rate_limited|
 * refused|ignored", "suggestions": [...], "event_id", "notify": [...]}. */
int im_desk_incoming(sqlite3 *db, const im_desk_conf *conf, const char *from, const char *body,
                     const char *stanza_id, int64_t now, json_t **out);

/* --- erasure (desk_erase.c) ------------------------------------------------------- */

/* A deleted user's personal data leaves the desk; tickets stay.  mode is
 * IM_ERASE_DELETE (JID -> "erased@<domain>") or IM_ERASE_PSEUDONYMIZE (JID ->
 * im_logs_pseudonym); both drop the bodies and subjects the user wrote and
 * their search rows (details in desk_erase.c).  One transaction; *count rows
 * changed.  IM_OK, IM_EINVAL (not local@domain, bad mode), IM_ERR. */
int im_desk_erase_user(sqlite3 *db, const char *user, int mode, int64_t *count);

#endif
