/*
 * accounts.c — the SQL layer of imhost's hosting records (see accounts.h).
 * Every statement is prepared with bound values; nothing here decides who may
 * do what (the registry does, with the roles resolved here).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "billing_restrict.h"
#include "imhost_err.h"
#include "registry.h"

int im_acct_domain_check(const char *s, const char **why)
{
	const char *dom = im_acct_domain_of(s), *label = dom, *p;

	for (p = dom;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t n = (size_t)(p - label);
			if (n > 0 && (label[0] == '-' || label[n - 1] == '-')) {
				*why = "has a domain label that starts or ends with '-'";
				return IM_EINVAL;
			}
			/* "ab--" is reserved for IDNA; of those only A-labels exist. */
			if (n >= 4 && label[2] == '-' && label[3] == '-' &&
			    !(tolower((unsigned char)label[0]) == 'x' && tolower((unsigned char)label[1]) == 'n')) {
				*why = "has a domain label with '--' in positions 3-4 that is not an A-label (xn--)";
				return IM_EINVAL;
			}
			if (*p == '\0')
				break;
			label = p + 1;
		} else if ((unsigned char)*p >= 0x80) {
			*why = "is an internationalized domain in Unicode: give its A-label form (xn--...)";
			return IM_EINVAL;
		}
	}
	return IM_OK;
}

const char *im_acct_domain_of(const char *s)
{
	const char *at = strchr(s, '@');

	return at ? at + 1 : s;
}

/* Steps a statement expecting at most one row; 1 row, 0 none, -1 error. */
static int step_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Looks up domain d (exact): customer id (or -1 when detached).  1 found,
 * 0 not attached anywhere, -1 error. */
static int domain_row(sqlite3 *db, const char *d, int64_t *customer)
{
	sqlite3_stmt *st = NULL;
	int r = -1;

	if (sqlite3_prepare_v2(db, "SELECT customer_id FROM domain WHERE name = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, d, -1, SQLITE_STATIC) == SQLITE_OK) {
		r = step_row(st);
		if (r == 1)
			*customer = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return r;
}

/* The domain a scope resolves to: the scope's own domain if it is in the
 * domain table, else its parent (conference.a.test -> a.test: a MUC component
 * belongs to the VirtualHost it hangs under).  1 found, 0 none, -1 error. */
static int resolve(sqlite3 *db, const char *scope, const char **dom, int64_t *customer)
{
	const char *d = im_acct_domain_of(scope), *dot;
	int r = domain_row(db, d, customer);

	if (r != 0) {
		*dom = d;
		return r;
	}
	dot = strchr(d, '.');
	if (dot == NULL || strchr(dot + 1, '.') == NULL)   /* never climb to a TLD */
		return 0;
	r = domain_row(db, dot + 1, customer);
	*dom = dot + 1;
	return r;
}

int im_acct_scope_customer(sqlite3 *db, const char *scope, int64_t *customer)
{
	const char *d;
	int r = resolve(db, scope, &d, customer);

	if (r < 0)
		return IM_ERR;
	return r == 1 && *customer >= 0 ? IM_OK : IM_ENOTFOUND;
}

int im_acct_scope_domain(sqlite3 *db, const char *scope, char **domain)
{
	const char *d;
	int64_t c;
	int r = resolve(db, scope, &d, &c);

	if (r < 0)
		return IM_ERR;
	if (r == 0)
		return IM_ENOTFOUND;
	*domain = strdup(d);
	return *domain ? IM_OK : IM_ERR;
}

static unsigned role_bit(const unsigned char *role)
{
	static const struct { const char *name; unsigned bit; } map[] = {
		{ "owner", IM_ROLE_OWNER }, { "domain_admin", IM_ROLE_DOMAIN_ADMIN },
		{ "member", IM_ROLE_MEMBER }, { "billing", IM_ROLE_BILLING },
		{ "technician", IM_ROLE_TECHNICIAN },
	};
	size_t i;

	for (i = 0; role && i < sizeof map / sizeof map[0]; i++)
		if (strcmp((const char *)role, map[i].name) == 0)
			return map[i].bit;
	return 0;
}

unsigned im_acct_customer_roles(sqlite3 *db, int64_t customer, const char *actor)
{
	sqlite3_stmt *st = NULL;
	unsigned bits = 0;

	if (actor == NULL || *actor == '\0')
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT role FROM member WHERE customer_id = ? AND jid = ?",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, customer) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC) == SQLITE_OK &&
	    step_row(st) == 1)
		bits = role_bit(sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	/* Only customer roles may come from this table. */
	return bits & (IM_ROLE_OWNER | IM_ROLE_DOMAIN_ADMIN | IM_ROLE_MEMBER);
}

int im_acct_is_member_anywhere(sqlite3 *db, const char *actor)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (actor == NULL || *actor == '\0')
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM member WHERE jid = ? LIMIT 1", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, actor, -1, SQLITE_STATIC) == SQLITE_OK)
		r = step_row(st) == 1;
	sqlite3_finalize(st);
	return r;
}

unsigned im_acct_staff_roles(sqlite3 *db, const char *actor)
{
	sqlite3_stmt *st = NULL;
	unsigned bits = 0;

	if (actor == NULL || *actor == '\0')
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT role FROM staff WHERE jid = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, actor, -1, SQLITE_STATIC) == SQLITE_OK &&
	    step_row(st) == 1)
		bits = role_bit(sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return bits & (IM_ROLE_BILLING | IM_ROLE_TECHNICIAN);
}

int im_acct_seats(sqlite3 *db, const char *domain, int64_t *used, int64_t *limit)
{
	sqlite3_stmt *st = NULL;
	int r = -1;

	if (sqlite3_prepare_v2(db, "SELECT seats, (SELECT count(*) FROM account WHERE account.domain = d.name) "
	                       "FROM domain d WHERE name = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) == SQLITE_OK &&
	    (r = step_row(st)) == 1) {
		*limit = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
		*used = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return r == 1 ? IM_OK : r == 0 ? IM_ENOTFOUND : IM_ERR;
}

int im_acct_suspension(sqlite3 *db, const char *domain, char **reason)
{
	sqlite3_stmt *st = NULL;
	int r = -1;

	*reason = NULL;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(suspended_manual, suspended_overdue) FROM domain "
	                       "WHERE name = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) == SQLITE_OK &&
	    (r = step_row(st)) == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*reason = strdup((const char *)sqlite3_column_text(st, 0));
		if (*reason == NULL)
			r = -1;
	}
	sqlite3_finalize(st);
	return r < 0 ? IM_ERR : IM_OK;
}

/* *reason = malloc'd "prefix: text". */
static int why(char **reason, const char *prefix, const char *text)
{
	size_t n = strlen(prefix) + strlen(text) + 3;

	if ((*reason = malloc(n)) == NULL)
		return IM_ERR;
	strcpy(*reason, prefix);
	strcat(*reason, ": ");
	strcat(*reason, text);
	return IM_OK;
}

int im_acct_may_login(sqlite3 *db, const char *user, int *allowed, char **reason)
{
	sqlite3_stmt *st = NULL;
	char *susp = NULL;
	int r = -1, rc = IM_OK;

	*allowed = 0;
	*reason = NULL;
	if (sqlite3_prepare_v2(db, "SELECT locked_reason FROM account WHERE jid = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC) == SQLITE_OK)
		r = step_row(st);
	if (r < 0) {
		sqlite3_finalize(st);
		return IM_ERR;
	}
	if (r == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL)
		rc = why(reason, "Your account is locked", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != IM_OK || *reason != NULL)
		return rc;
	if (im_acct_suspension(db, im_acct_domain_of(user), &susp) != IM_OK)
		return IM_ERR;
	if (susp != NULL) {
		rc = why(reason, "This domain is suspended", susp);
		free(susp);
		return rc;
	}
	*allowed = 1;
	return IM_OK;
}

static int account_exists(sqlite3 *db, const char *user)
{
	sqlite3_stmt *st = NULL;
	int r = -1;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM account WHERE jid = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC) == SQLITE_OK)
		r = step_row(st);
	sqlite3_finalize(st);
	return r;
}

int im_acct_may_create(sqlite3 *db, const char *user, int *allowed, char **reason,
                       int64_t *seats_left)
{
	const char *dom = im_acct_domain_of(user);
	char *susp = NULL, msg[160];
	int64_t used = 0, limit = -1;
	int rc, ex;

	*allowed = 0;
	*reason = NULL;
	*seats_left = -1;
	rc = im_acct_seats(db, dom, &used, &limit);
	if (rc == IM_ERR)
		return IM_ERR;
	/* A domain imhost does not manage has no seat limit here. */
	if (rc == IM_OK && limit >= 0)
		*seats_left = limit > used ? limit - used : 0;
	if (im_acct_suspension(db, dom, &susp) != IM_OK)
		return IM_ERR;
	if (susp != NULL) {
		rc = why(reason, "This domain is suspended", susp);
		free(susp);
		return rc;
	}
	if ((ex = account_exists(db, user)) < 0)
		return IM_ERR;
	if (ex == 1)
		return (*reason = strdup("The account already exists")) ? IM_OK : IM_ERR;
	if (im_bill_restriction(db, dom, reason) != IM_OK || *reason != NULL)   /* billing: overdue */
		return *reason != NULL ? IM_OK : IM_ERR;
	if (limit >= 0 && used >= limit) {
		snprintf(msg, sizeof msg, "Seat limit reached: %lld of %lld accounts in use",
		         (long long)used, (long long)limit);
		return (*reason = strdup(msg)) ? IM_OK : IM_ERR;
	}
	*allowed = 1;
	return IM_OK;
}

/* Runs one statement with (text, text?, int64) bindings; IM_OK or IM_ERR. */
static int exec3(sqlite3 *db, const char *sql, const char *a, const char *b, int64_t n)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	         sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC) == SQLITE_OK &&
	         (sqlite3_bind_parameter_count(st) < 2 ||
	          (b ? sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 2)) == SQLITE_OK) &&
	         (sqlite3_bind_parameter_count(st) < 3 || sqlite3_bind_int64(st, 3, n) == SQLITE_OK) &&
	         sqlite3_step(st) == SQLITE_DONE;

	sqlite3_finalize(st);
	return ok ? IM_OK : IM_ERR;
}

int im_acct_record(sqlite3 *db, const char *user, const char *event, const char *client,
                   int64_t now)
{
	if (strcmp(event, "created") == 0)
		return exec3(db, "INSERT INTO account(jid, domain, created) VALUES(?1, ?2, ?3) "
		             "ON CONFLICT(jid) DO NOTHING", user, im_acct_domain_of(user), now);
	if (strcmp(event, "deleted") == 0) {
		if (exec3(db, "DELETE FROM account WHERE jid = ?", user, NULL, 0) != IM_OK)
			return IM_ERR;
		return exec3(db, "DELETE FROM member WHERE jid = ?", user, NULL, 0);
	}
	if (strcmp(event, "login") == 0) {
		/* A login proves the account exists (e.g. created while imhost was
		 * not loaded): record it, then its activity. */
		if (exec3(db, "INSERT INTO account(jid, domain, created) VALUES(?1, ?2, ?3) "
		          "ON CONFLICT(jid) DO NOTHING", user, im_acct_domain_of(user), now) != IM_OK)
			return IM_ERR;
		return exec3(db, "UPDATE account SET last_login = ?3, client = ?2, version = version + 1 "
		             "WHERE jid = ?1", user, client, now);
	}
	return IM_EINVAL;
}

int im_acct_tx(sqlite3 *db, int (*fn)(void *arg), void *arg)
{
	int rc;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return IM_ERR;
	rc = fn(arg);
	if (rc == IM_OK) {
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
			return IM_OK;
		rc = IM_ERR;
	}
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
