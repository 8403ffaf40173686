/*
 * accounts.h — imhost's hosting records: customers, domains, customer roles,
 * staff roles, accounts (user state), certificates.
 *
 * These live in imhost's own store (migration step 2), never in Prosody's
 * per-user stores, which Prosody purges when a user is deleted.  This file is
 * the SQL layer; the operations that expose it are in ops_accounts.c, the
 * reminder engine in reminders.h.
 *
 * Conventions: every function takes the caller's connection (not shared
 * between threads) and returns IM_OK or an IM_* code; strings handed back are
 * malloc'd and the caller frees them; JSON handed back is a new reference.
 * Domains and JIDs arrive already normalised by params.c (ASCII-lowercased).
 */
#ifndef IMHOST_ACCOUNTS_H
#define IMHOST_ACCOUNTS_H

#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>

/* Suspension sources.  A domain may carry both at once; each is lifted only by
 * naming its own source, so billing (overdue) can never lift a manual one. */
#define IM_SUSPEND_MANUAL  "manual"
#define IM_SUSPEND_OVERDUE "overdue"

/* Refuses what imhost does not accept as a hosted domain name: raw Unicode
 * (IDNs must be given as A-labels, "xn--..."; no IDNA library is linked, and
 * converting silently could map two spellings to one host), labels starting or
 * ending with '-', and "--" in positions 3-4 other than "xn--".  dom may be a
 * domain or a bare JID (its domain part is checked).  IM_OK, or IM_EINVAL with
 * *why a static message. */
int im_acct_domain_check(const char *dom, const char **why);

/* The domain part of a bare JID or domain (pointer into s). */
const char *im_acct_domain_of(const char *s);

/* The customer owning scope (a domain, a bare JID, or a MUC component host
 * whose parent domain is attached).  IM_OK with *customer, IM_ENOTFOUND when
 * no customer owns it, IM_ERR on database error. */
int im_acct_scope_customer(sqlite3 *db, const char *scope, int64_t *customer);

/* The attached domain a scope resolves to (the scope's domain or its MUC
 * parent), malloc'd into *domain.  IM_OK, IM_ENOTFOUND, IM_ERR. */
int im_acct_scope_domain(sqlite3 *db, const char *scope, char **domain);

/* IM_ROLE_OWNER/DOMAIN_ADMIN/MEMBER bits actor holds at customer (0 if none). */
unsigned im_acct_customer_roles(sqlite3 *db, int64_t customer, const char *actor);

/* 1 if actor holds a role at any customer, 0 if not (or on error). */
int im_acct_is_member_anywhere(sqlite3 *db, const char *actor);

/* IM_ROLE_BILLING/TECHNICIAN bits from the staff table (0 if none). */
unsigned im_acct_staff_roles(sqlite3 *db, const char *actor);

/* Seats of domain: *used = accounts recorded, *limit = seat limit or -1 for
 * none.  IM_OK, IM_ENOTFOUND (domain not attached), IM_ERR. */
int im_acct_seats(sqlite3 *db, const char *domain, int64_t *used, int64_t *limit);

/* Why domain is suspended: *reason malloc'd ("" never; NULL when not
 * suspended).  Manual wins over overdue when both are set. IM_OK or IM_ERR. */
int im_acct_suspension(sqlite3 *db, const char *domain, char **reason);

/* Whether user may log in now: *allowed 0/1, *reason malloc'd (NULL when
 * allowed).  A locked account or a suspended domain refuses.  One indexed
 * lookup each: this is on the login path.  IM_OK or IM_ERR. */
int im_acct_may_login(sqlite3 *db, const char *user, int *allowed, char **reason);

/* Whether an account user may be created now (seat limit, suspension, not
 * already recorded): *allowed, *reason as above; *seats_left -1 when
 * unlimited.  IM_OK or IM_ERR. */
int im_acct_may_create(sqlite3 *db, const char *user, int *allowed, char **reason,
                       int64_t *seats_left);

/* Records facts reported by the glue.  event: "created", "deleted" (also
 * drops the JID's customer roles: a re-registered name must not inherit
 * them), "login" (last_login = now, client).  IM_OK or IM_ERR. */
int im_acct_record(sqlite3 *db, const char *user, const char *event, const char *client,
                   int64_t now);

/* Runs fn inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK when fn fails), so that
 * read-check-write sequences are atomic between connections.  Returns fn's
 * code, or IM_ERR when the transaction cannot start or commit. */
int im_acct_tx(sqlite3 *db, int (*fn)(void *arg), void *arg);

#endif
