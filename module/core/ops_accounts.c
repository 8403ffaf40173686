/*
 * ops_accounts.c — the hosting-account operations: customers, domains,
 * customer and staff roles, users, channels, certificates, reminders.
 *
 * The registry has already validated params, resolved the caller's roles for
 * the op's scope (customer roles only for the customer owning it) and checked
 * the permission; writes are audited there.  Handlers add the rules that need
 * the database (seat limit, suspension, last owner, confirmation) and act.
 *
 * Live ops (im_op.live) act on the running Prosody: their handler checks the
 * C-side rules and returns {"live":true,"params":{normalized},...}; the glue
 * then does the work and reports facts back through users.record.
 *
 * Result shapes (for docs/core-api.md; live ones also carry live, params):
 *   customers.create      {customer, name, owner}
 *   customers.list|mine   {customers:[{customer, name, created, domains:[..], role (mine)}]}
 *   customers.show        {customer, name, created, members:[{jid, role}], domains:[<status>]}
 *   domains.status        {domain, customer, owners:[..], seats:{used, limit|null},
 *                          suspended:null|{manual, overdue, since}, expires|null,
 *                          cert:null|{not_after, fingerprint, lifetime, error, recorded}}
 *   domains.attach        {domain, customer}      domains.detach {domain, detached}
 *   domains.set_seats     {domain, limit|null, used, over_limit}
 *   domains.(un)suspend   {domain, suspended, reason|null, changed}  (fire the event on changed)
 *   domains.set_expiry|renew {domain, expires}
 *   members.set|remove, users.set_role {customer, jid, role|null}   staff.set {jid, role|null}
 *   users.list (live)     {users:[{jid, created, last_login, client, locked, locked_reason}], next_cursor}
 *   users.create (live)   {seats_left|null}  (after this creation)
 *   users.lock (live)     {locked:true}          users.unlock {user, locked:false}
 *   users.record          {user, event, over_limit}
 *   users.reconcile       {domain, added:[..], removed:[..], seats_used, seats|null, over_limit}
 *   users.may_login       {allowed, reason|null}
 *   users.may_create      {allowed, reason|null, seats_left|null}
 *   certs.record          {domain, changed (new fingerprint), readable}
 *   reminders.run         {now, reminders:[{kind, object, threshold, due_at, expires,
 *                          days_left, customer|null, owners:[..], staff:[..], message}]}
 * Errors: forbidden, invalid (+param), not_found, conflict (seat limit, suspended,
 * exists, last owner, renewal not later, domain of another customer).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "imhost_err.h"
#include "registry.h"
#include "reminders.h"

#define FAIL(...) do { *result = im_error_new(__VA_ARGS__); return IM_ERR; } while (0)
#define S(p, k) json_string_value(json_object_get((p), (k)))
#define I(p, k) ((int64_t)json_integer_value(json_object_get((p), (k))))
#define HAS(p, k) (json_object_get((p), (k)) != NULL)
#define COUNT(a) (sizeof a / sizeof a[0])

static const char *const customer_roles[] = { "owner", "domain_admin", "member", NULL };
static const char *const customer_roles_none[] = { "owner", "domain_admin", "member", "none", NULL };
static const char *const staff_roles[] = { "billing", "technician", "none", NULL };
static const char *const sources[] = { IM_SUSPEND_MANUAL, IM_SUSPEND_OVERDUE, NULL };
static const char *const record_events[] = { "created", "deleted", "login", NULL };
static const char *const affiliations[] = { "owner", "admin", "member", "outcast", "none", NULL };

static int db_fail(im_op_ctx *c, json_t **result)
{
	*result = im_error_new("unavailable", NULL, "database: %s", sqlite3_errmsg(c->env->db));
	return IM_ERR;
}

/* {"live":true,"params":<copy of p>}: what the glue runs its live handler with. */
static json_t *live_result(json_t *p)
{
	return json_pack("{s:b,s:O}", "live", 1, "params", p);
}

/* Prepares sql and binds args described by fmt: 's' text (NULL binds NULL),
 * 'i' int64.  NULL on failure (statement finalized). */
static sqlite3_stmt *prep(sqlite3 *db, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int i, ok = 1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	va_start(ap, fmt);
	for (i = 0; ok && fmt[i]; i++) {
		if (fmt[i] == 's') {
			const char *s = va_arg(ap, const char *);
			ok = (s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT)
			        : sqlite3_bind_null(st, i + 1)) == SQLITE_OK;
		} else {
			ok = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t)) == SQLITE_OK;
		}
	}
	va_end(ap);
	if (!ok) {
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* Runs a statement that returns no rows; number of rows changed, or -1. */
static int exec_st(sqlite3 *db, sqlite3_stmt *st)
{
	int ok = st && sqlite3_step(st) == SQLITE_DONE;

	sqlite3_finalize(st);
	return ok ? sqlite3_changes(db) : -1;
}

/* Text for people: no control characters, and no markup (a name is shown in
 * rooms lists, chat and HTML; escaping happens there too, but '<' in a room
 * name is a mistake or an attack, never intended).  1 ok. */
static int plain_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '<' || *s == '>')
			return 0;
	return 1;
}

/* The user param must be local@domain (not a bare domain). */
static int need_local(json_t *p, const char *k, json_t **result)
{
	if (strchr(S(p, k), '@') == NULL)
		FAIL("invalid", k, "%s must be a user address: name@domain", k);
	return IM_OK;
}

static int customer_exists(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = prep(db, "SELECT 1 FROM customer WHERE id = ?", "i", id);
	int r = st ? sqlite3_step(st) : SQLITE_ERROR;

	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -1;
}

/* --- customers ------------------------------------------------------------------ */

static const im_param customers_create_params[] = {
	{ "name", IM_PT_STRING, 1, 0, 200, NULL, NULL, "customer (billing account) name" },
	{ "owner", IM_PT_JID, 1, 0, 0, NULL, NULL, "the customer's owner (bare JID)" },
};

static int customers_create(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3 *db = c->env->db;
	int64_t id;

	if (!plain_text(S(p, "name")))
		FAIL("invalid", "name", "name must be plain text (no control characters, < or >)");
	if (need_local(p, "owner", result) != IM_OK)
		return IM_ERR;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(c, result);
	if (exec_st(db, prep(db, "INSERT INTO customer(name, created) VALUES(?, ?)", "si",
	                     S(p, "name"), c->now)) != 1)
		goto fail;
	id = sqlite3_last_insert_rowid(db);
	if (exec_st(db, prep(db, "INSERT INTO member(customer_id, jid, role) VALUES(?, ?, 'owner')", "is",
	                     id, S(p, "owner"))) != 1)
		goto fail;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	*result = json_pack("{s:I,s:s,s:s}", "customer", (json_int_t)id, "name", S(p, "name"),
	                    "owner", S(p, "owner"));
	return IM_OK;
fail:
	db_fail(c, result);
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return IM_ERR;
}

/* Customers as [{customer,name,created,domains:[..],role?}] for a query whose
 * columns are id, name, created, role-or-NULL. */
static int customer_rows(im_op_ctx *c, sqlite3_stmt *st, json_t **result)
{
	json_t *list = json_array();
	int rc;

	if (st == NULL || list == NULL) {
		sqlite3_finalize(st);
		json_decref(list);
		return db_fail(c, result);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_pack("{s:I,s:s,s:I}", "customer", (json_int_t)sqlite3_column_int64(st, 0),
		                      "name", (const char *)sqlite3_column_text(st, 1),
		                      "created", (json_int_t)sqlite3_column_int64(st, 2));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			json_object_set_new(o, "role", json_string((const char *)sqlite3_column_text(st, 3)));
		json_object_set_new(o, "domains", json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL));
		json_array_append_new(list, o);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		return db_fail(c, result);
	}
	*result = json_pack("{s:o}", "customers", list);
	return IM_OK;
}

#define DOMAINS_OF "(SELECT json_group_array(name) FROM (SELECT name FROM domain d " \
                   "WHERE d.customer_id = customer.id ORDER BY name))"

static int customers_list(im_op_ctx *c, json_t *p, json_t **result)
{
	(void)p;
	return customer_rows(c, prep(c->env->db, "SELECT id, name, created, NULL, " DOMAINS_OF
	                             " FROM customer ORDER BY id", ""), result);
}

/* Unscoped: filtered by the actor here, so a customer sees only its own. */
static int customers_mine(im_op_ctx *c, json_t *p, json_t **result)
{
	(void)p;
	return customer_rows(c, prep(c->env->db, "SELECT id, name, created, role, " DOMAINS_OF
	                             " FROM customer JOIN member ON member.customer_id = customer.id "
	                             "WHERE member.jid = ? ORDER BY id", "s", c->actor), result);
}

static const im_param customers_show_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
};

static int domain_json(im_op_ctx *c, const char *domain, json_t **out);

static int customers_show(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3 *db = c->env->db;
	sqlite3_stmt *st = prep(db, "SELECT name, created FROM customer WHERE id = ?", "i", I(p, "customer"));
	json_t *members = json_array(), *domains = json_array(), *names = json_array(), *n;
	int rc;
	size_t i;

	rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto dbfail;
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		json_decref(members); json_decref(domains); json_decref(names);
		FAIL("not_found", NULL, "no customer %lld", (long long)I(p, "customer"));
	}
	*result = json_pack("{s:I,s:s,s:I}", "customer", (json_int_t)I(p, "customer"),
	                    "name", (const char *)sqlite3_column_text(st, 0),
	                    "created", (json_int_t)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	st = prep(db, "SELECT jid, role FROM member WHERE customer_id = ? ORDER BY role, jid", "i", I(p, "customer"));
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(members, json_pack("{s:s,s:s}", "jid", sqlite3_column_text(st, 0),
		                                         "role", sqlite3_column_text(st, 1)));
	sqlite3_finalize(st);
	if (st == NULL || rc != SQLITE_DONE)
		goto dbfail2;
	st = prep(db, "SELECT name FROM domain WHERE customer_id = ? ORDER BY name", "i", I(p, "customer"));
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(names, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	if (st == NULL || rc != SQLITE_DONE)
		goto dbfail2;
	json_array_foreach(names, i, n) {
		json_t *d;
		if (domain_json(c, json_string_value(n), &d) != IM_OK)
			goto dbfail2;
		json_array_append_new(domains, d);
	}
	json_decref(names);
	json_object_set_new(*result, "members", members);
	json_object_set_new(*result, "domains", domains);
	return IM_OK;
dbfail2:
	json_decref(*result);
	*result = NULL;
	st = NULL;
dbfail:
	sqlite3_finalize(st);
	json_decref(members); json_decref(domains); json_decref(names);
	return db_fail(c, result);
}

/* --- domains ----------------------------------------------------------------------- */

/* The status of one domain: customer, owners, seats, suspension, expiry, cert.
 * IM_OK (+ *out), IM_ENOTFOUND, IM_ERR. */
static int domain_json(im_op_ctx *c, const char *domain, json_t **out)
{
	sqlite3 *db = c->env->db;
	sqlite3_stmt *st = prep(db, "SELECT customer_id, seats, suspended_manual, suspended_overdue, "
	                        "suspended_at, expires, (SELECT count(*) FROM account WHERE account.domain = ?1), "
	                        "c.not_after, c.fingerprint, c.lifetime, c.error, c.recorded "
	                        "FROM domain LEFT JOIN cert c ON c.domain = domain.name WHERE name = ?1",
	                        "s", domain);
	json_t *o, *owners = json_array(), *susp = NULL;
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	int64_t customer;

#define COL_INT_OR_NULL(i) (sqlite3_column_type(st, (i)) == SQLITE_NULL ? json_null() \
                            : json_integer(sqlite3_column_int64(st, (i))))
#define COL_TEXT_OR_NULL(i) (sqlite3_column_type(st, (i)) == SQLITE_NULL ? json_null() \
                             : json_string((const char *)sqlite3_column_text(st, (i))))
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		json_decref(owners);
		return rc == SQLITE_DONE ? IM_ENOTFOUND : IM_ERR;
	}
	customer = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
	o = json_pack("{s:s,s:o,s:{s:I,s:o},s:o}", "domain", domain, "customer", COL_INT_OR_NULL(0),
	              "seats", "used", (json_int_t)sqlite3_column_int64(st, 6), "limit", COL_INT_OR_NULL(1),
	              "expires", COL_INT_OR_NULL(5));
	if (sqlite3_column_type(st, 2) != SQLITE_NULL || sqlite3_column_type(st, 3) != SQLITE_NULL)
		susp = json_pack("{s:o,s:o,s:o}", "manual", COL_TEXT_OR_NULL(2), "overdue", COL_TEXT_OR_NULL(3),
		                 "since", COL_INT_OR_NULL(4));
	json_object_set_new(o, "suspended", susp ? susp : json_null());
	json_object_set_new(o, "cert", sqlite3_column_type(st, 11) == SQLITE_NULL ? json_null() :
	                    json_pack("{s:o,s:o,s:o,s:o,s:I}", "not_after", COL_INT_OR_NULL(7),
	                              "fingerprint", COL_TEXT_OR_NULL(8), "lifetime", COL_INT_OR_NULL(9),
	                              "error", COL_TEXT_OR_NULL(10),
	                              "recorded", (json_int_t)sqlite3_column_int64(st, 11)));
	sqlite3_finalize(st);
	st = prep(db, "SELECT jid FROM member WHERE customer_id = ? AND role = 'owner' ORDER BY jid", "i", customer);
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(owners, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	json_object_set_new(o, "owners", owners);
	if (st == NULL || rc != SQLITE_DONE) {
		json_decref(o);
		return IM_ERR;
	}
	*out = o;
	return IM_OK;
#undef COL_INT_OR_NULL
#undef COL_TEXT_OR_NULL
}

static const im_param domain_only_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "hosted domain (A-label form for IDNs)" },
};

static int domains_status(im_op_ctx *c, json_t *p, json_t **result)
{
	char *dom = NULL;
	int rc = im_acct_scope_domain(c->env->db, S(p, "domain"), &dom);

	if (rc == IM_ENOTFOUND)
		FAIL("not_found", "domain", "%s is not a hosted domain", S(p, "domain"));
	if (rc == IM_OK)
		rc = domain_json(c, dom, result);
	free(dom);
	return rc == IM_OK ? IM_OK : db_fail(c, result);
}

static const im_param domains_attach_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "domain (a Prosody VirtualHost; A-label form)" },
};

static int domains_attach(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3 *db = c->env->db;
	int ex = customer_exists(db, I(p, "customer")), n;

	if (ex < 0)
		return db_fail(c, result);
	if (ex == 0)
		FAIL("not_found", "customer", "no customer %lld", (long long)I(p, "customer"));
	if (strchr(S(p, "domain"), '.') == NULL)
		FAIL("invalid", "domain", "domain must have at least two labels");
	/* One statement: attach when new or detached, or already ours. */
	n = exec_st(db, prep(db, "INSERT INTO domain(name, customer_id, created) VALUES(?1, ?2, ?3) "
	                     "ON CONFLICT(name) DO UPDATE SET customer_id = ?2 "
	                     "WHERE customer_id IS NULL OR customer_id = ?2",
	                     "sii", S(p, "domain"), I(p, "customer"), c->now));
	if (n < 0)
		return db_fail(c, result);
	if (n == 0)
		FAIL("conflict", "domain", "%s belongs to another customer: detach it first", S(p, "domain"));
	*result = json_pack("{s:s,s:I}", "domain", S(p, "domain"), "customer", (json_int_t)I(p, "customer"));
	return IM_OK;
}

static int domains_detach(im_op_ctx *c, json_t *p, json_t **result)
{
	int n = exec_st(c->env->db, prep(c->env->db, "UPDATE domain SET customer_id = NULL "
	                                 "WHERE name = ? AND customer_id IS NOT NULL", "s", S(p, "domain")));
	if (n < 0)
		return db_fail(c, result);
	if (n == 0)
		FAIL("not_found", "domain", "%s is not attached to a customer", S(p, "domain"));
	*result = json_pack("{s:s,s:b}", "domain", S(p, "domain"), "detached", 1);
	return IM_OK;
}

static const im_param set_seats_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "hosted domain" },
	{ "seats", IM_PT_INT, 0, 0, 10000000, NULL, NULL, "seat limit; absent = no limit" },
};

static int domains_set_seats(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3 *db = c->env->db;
	int64_t used = 0, limit = -1;
	int n = exec_st(db, HAS(p, "seats") ? prep(db, "UPDATE domain SET seats = ? WHERE name = ?", "is",
	                                           I(p, "seats"), S(p, "domain"))
	                                    : prep(db, "UPDATE domain SET seats = NULL WHERE name = ?", "s",
	                                           S(p, "domain")));
	if (n < 0)
		return db_fail(c, result);
	if (n == 0)
		FAIL("not_found", "domain", "%s is not a hosted domain", S(p, "domain"));
	if (im_acct_seats(db, S(p, "domain"), &used, &limit) != IM_OK)
		return db_fail(c, result);
	/* Lowering below use is allowed (nobody is deleted); creation stops. */
	*result = json_pack("{s:s,s:o,s:I,s:b}", "domain", S(p, "domain"),
	                    "limit", limit >= 0 ? json_integer(limit) : json_null(),
	                    "used", (json_int_t)used, "over_limit", limit >= 0 && used > limit);
	return IM_OK;
}

static const im_param suspend_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "hosted domain" },
	{ "reason", IM_PT_STRING, 1, 0, 500, NULL, NULL, "shown to the domain's users when they log in" },
	{ "source", IM_PT_ENUM, 0, 0, 0, sources, IM_SUSPEND_MANUAL,
	  "manual (staff) or overdue (billing); each is lifted only by its own source" },
};
static const im_param unsuspend_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "hosted domain" },
	{ "source", IM_PT_ENUM, 0, 0, 0, sources, IM_SUSPEND_MANUAL,
	  "which suspension to lift: billing lifts overdue only, never a manual one" },
};

/* Result of suspend/unsuspend: the state after, and whether it changed. */
static int suspension_result(im_op_ctx *c, const char *domain, int changed, json_t **result)
{
	char *reason = NULL;

	if (im_acct_suspension(c->env->db, domain, &reason) != IM_OK)
		return db_fail(c, result);
	*result = json_pack("{s:s,s:b,s:o,s:b}", "domain", domain, "suspended", reason != NULL,
	                    "reason", reason ? json_string(reason) : json_null(), "changed", changed);
	free(reason);
	return IM_OK;
}

static int domains_suspend(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3 *db = c->env->db;
	int manual = strcmp(S(p, "source"), IM_SUSPEND_MANUAL) == 0, was, n;
	char *before = NULL;

	if (!plain_text(S(p, "reason")) || *S(p, "reason") == '\0')
		FAIL("invalid", "reason", "reason must be plain text (no control characters, < or >)");
	if (im_acct_suspension(db, S(p, "domain"), &before) != IM_OK)
		return db_fail(c, result);
	was = before != NULL;
	free(before);
	n = exec_st(db, prep(db, manual
	                     ? "UPDATE domain SET suspended_manual = ?, suspended_at = coalesce(suspended_at, ?) WHERE name = ?"
	                     : "UPDATE domain SET suspended_overdue = ?, suspended_at = coalesce(suspended_at, ?) WHERE name = ?",
	                     "sis", S(p, "reason"), c->now, S(p, "domain")));
	if (n < 0)
		return db_fail(c, result);
	if (n == 0)
		FAIL("not_found", "domain", "%s is not a hosted domain", S(p, "domain"));
	return suspension_result(c, S(p, "domain"), !was, result);
}

static int domains_unsuspend(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3 *db = c->env->db;
	int manual = strcmp(S(p, "source"), IM_SUSPEND_MANUAL) == 0, n, rc;
	char *before = NULL;

	if (im_acct_suspension(db, S(p, "domain"), &before) != IM_OK)
		return db_fail(c, result);
	/* Clears only the named source; suspended_at goes when nothing is left. */
	n = exec_st(db, prep(db, manual
	                     ? "UPDATE domain SET suspended_manual = NULL, suspended_at = "
	                       "CASE WHEN suspended_overdue IS NULL THEN NULL ELSE suspended_at END WHERE name = ?"
	                     : "UPDATE domain SET suspended_overdue = NULL, suspended_at = "
	                       "CASE WHEN suspended_manual IS NULL THEN NULL ELSE suspended_at END WHERE name = ?",
	                     "s", S(p, "domain")));
	if (n < 0) {
		free(before);
		return db_fail(c, result);
	}
	if (n == 0) {
		free(before);
		FAIL("not_found", "domain", "%s is not a hosted domain", S(p, "domain"));
	}
	rc = suspension_result(c, S(p, "domain"), 0, result);
	if (rc == IM_OK)
		json_object_set_new(*result, "changed",
		                    json_boolean(before != NULL && !json_is_true(json_object_get(*result, "suspended"))));
	free(before);
	return rc;
}

static const im_param expiry_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "hosted domain" },
	{ "expires", IM_PT_TIME, 1, 0, 0, NULL, NULL, "registration expiry (no WHOIS: staff set it)" },
};

static int set_expiry(im_op_ctx *c, json_t *p, int renew, json_t **result)
{
	sqlite3 *db = c->env->db;
	int n;

	/* A renewal only moves the expiry forward; set_expiry corrects it freely. */
	n = exec_st(db, prep(db, renew ? "UPDATE domain SET expires = ?1 WHERE name = ?2 AND "
	                                 "(expires IS NULL OR expires < ?1)"
	                               : "UPDATE domain SET expires = ?1 WHERE name = ?2",
	                     "is", I(p, "expires"), S(p, "domain")));
	if (n < 0)
		return db_fail(c, result);
	if (n == 0) {
		int64_t used, limit;
		int rc = im_acct_seats(db, S(p, "domain"), &used, &limit);   /* does it exist? */
		if (rc == IM_ERR)
			return db_fail(c, result);
		if (rc == IM_OK)
			FAIL("conflict", "expires", "a renewal must move the expiry later than the current one");
		FAIL("not_found", "domain", "%s is not a hosted domain", S(p, "domain"));
	}
	*result = json_pack("{s:s,s:I}", "domain", S(p, "domain"), "expires", (json_int_t)I(p, "expires"));
	return IM_OK;
}

static int domains_set_expiry(im_op_ctx *c, json_t *p, json_t **result) { return set_expiry(c, p, 0, result); }
static int domains_renew(im_op_ctx *c, json_t *p, json_t **result) { return set_expiry(c, p, 1, result); }

/* --- customer and staff roles ---------------------------------------------------- */

typedef struct {
	sqlite3 *db;
	int64_t customer;
	const char *jid, *role;   /* role NULL = remove */
	int outcome;              /* IM_OK, IM_ENOTFOUND, IM_EBUSY (last owner) */
} member_change;

static int member_change_tx(void *arg)
{
	member_change *m = arg;
	sqlite3_stmt *st;
	int owners_left, r;

	m->outcome = IM_OK;
	/* A customer always keeps an owner: refuse what would remove the last. */
	st = prep(m->db, "SELECT count(*) FROM member WHERE customer_id = ? AND role = 'owner' AND jid <> ?",
	          "is", m->customer, m->jid);
	if (st == NULL || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return IM_ERR;
	}
	owners_left = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (owners_left == 0 && (m->role == NULL || strcmp(m->role, "owner") != 0)) {
		st = prep(m->db, "SELECT 1 FROM member WHERE customer_id = ? AND jid = ? AND role = 'owner'",
		          "is", m->customer, m->jid);
		r = st ? sqlite3_step(st) : SQLITE_ERROR;
		sqlite3_finalize(st);
		if (r == SQLITE_ROW) {
			m->outcome = IM_EBUSY;
			return IM_OK;
		}
		if (r != SQLITE_DONE)
			return IM_ERR;
	}
	if (m->role == NULL) {
		r = exec_st(m->db, prep(m->db, "DELETE FROM member WHERE customer_id = ? AND jid = ?", "is",
		                        m->customer, m->jid));
		if (r == 0)
			m->outcome = IM_ENOTFOUND;
	} else {
		r = exec_st(m->db, prep(m->db, "INSERT INTO member(customer_id, jid, role) VALUES(?1, ?2, ?3) "
		                        "ON CONFLICT(customer_id, jid) DO UPDATE SET role = ?3", "iss",
		                        m->customer, m->jid, m->role));
	}
	return r < 0 ? IM_ERR : IM_OK;
}

static int change_member(im_op_ctx *c, int64_t customer, const char *jid, const char *role,
                         json_t **result)
{
	member_change m = { c->env->db, customer, jid, role, IM_OK };
	int ex = customer_exists(c->env->db, customer);

	if (ex < 0)
		return db_fail(c, result);
	if (ex == 0)
		FAIL("not_found", "customer", "no customer %lld", (long long)customer);
	if (im_acct_tx(c->env->db, member_change_tx, &m) != IM_OK)
		return db_fail(c, result);
	if (m.outcome == IM_EBUSY)
		FAIL("conflict", "jid", "%s is the customer's last owner: make someone else owner first", jid);
	if (m.outcome == IM_ENOTFOUND)
		FAIL("not_found", "jid", "%s has no role at customer %lld", jid, (long long)customer);
	*result = json_pack("{s:I,s:s,s:o}", "customer", (json_int_t)customer, "jid", jid,
	                    "role", role ? json_string(role) : json_null());
	return IM_OK;
}

static const im_param members_set_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "jid", IM_PT_JID, 1, 0, 0, NULL, NULL, "bare JID" },
	{ "role", IM_PT_ENUM, 1, 0, 0, customer_roles, NULL, "owner, domain_admin or member" },
};
static const im_param members_remove_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "jid", IM_PT_JID, 1, 0, 0, NULL, NULL, "bare JID" },
};

static int members_set(im_op_ctx *c, json_t *p, json_t **result)
{
	if (need_local(p, "jid", result) != IM_OK)
		return IM_ERR;
	return change_member(c, I(p, "customer"), S(p, "jid"), S(p, "role"), result);
}

static int members_remove(im_op_ctx *c, json_t *p, json_t **result)
{
	return change_member(c, I(p, "customer"), S(p, "jid"), NULL, result);
}

static const im_param staff_set_params[] = {
	{ "jid", IM_PT_JID, 1, 0, 0, NULL, NULL, "bare JID" },
	{ "role", IM_PT_ENUM, 1, 0, 0, staff_roles, NULL, "billing, technician, or none to remove" },
};

static int staff_set(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3 *db = c->env->db;
	int none = strcmp(S(p, "role"), "none") == 0;

	if (need_local(p, "jid", result) != IM_OK)
		return IM_ERR;
	if (exec_st(db, none ? prep(db, "DELETE FROM staff WHERE jid = ?", "s", S(p, "jid"))
	                     : prep(db, "INSERT INTO staff(jid, role) VALUES(?1, ?2) "
	                            "ON CONFLICT(jid) DO UPDATE SET role = ?2", "ss", S(p, "jid"), S(p, "role"))) < 0)
		return db_fail(c, result);
	*result = json_pack("{s:s,s:o}", "jid", S(p, "jid"), "role", none ? json_null() : json_string(S(p, "role")));
	return IM_OK;
}

/* --- users ------------------------------------------------------------------------- */

static const im_param users_list_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "hosted domain" },
	{ "query", IM_PT_STRING, 0, 0, 100, NULL, NULL, "part of the address" },
	{ "limit", IM_PT_INT, 0, 1, 500, NULL, "50", "page size" },
	{ "cursor", IM_PT_CURSOR, 0, 0, 0, NULL, NULL, "next_cursor of the previous page" },
};

static int users_list(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3_stmt *st;
	json_t *users = json_array();
	int64_t limit = I(p, "limit"), offset = 0;
	const char *cur = S(p, "cursor");
	char *end = NULL, next[24];
	int rc, n = 0;

	/* The cursor is the offset (the list is small and ordered by JID). */
	if (cur != NULL) {
		offset = strtoll(cur, &end, 10);
		if (*end != '\0' || offset < 0 || offset > 100000000) {
			json_decref(users);
			FAIL("invalid", "cursor", "cursor is not a cursor from a previous result");
		}
	}
	st = prep(c->env->db, "SELECT jid, created, last_login, client, locked_reason, locked_at FROM account "
	          "WHERE domain = ?1 AND (?2 IS NULL OR instr(jid, ?2) > 0) ORDER BY jid LIMIT ?3 OFFSET ?4",
	          "ssii", S(p, "domain"), S(p, "query"), limit + 1, offset);
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *u;
		if (++n > limit)
			break;
		u = json_pack("{s:s,s:I,s:b}", "jid", sqlite3_column_text(st, 0),
		              "created", (json_int_t)sqlite3_column_int64(st, 1),
		              "locked", sqlite3_column_type(st, 4) != SQLITE_NULL);
		json_object_set_new(u, "last_login", sqlite3_column_type(st, 2) == SQLITE_NULL ? json_null()
		                    : json_integer(sqlite3_column_int64(st, 2)));
		json_object_set_new(u, "client", sqlite3_column_type(st, 3) == SQLITE_NULL ? json_null()
		                    : json_string((const char *)sqlite3_column_text(st, 3)));
		json_object_set_new(u, "locked_reason", sqlite3_column_type(st, 4) == SQLITE_NULL ? json_null()
		                    : json_string((const char *)sqlite3_column_text(st, 4)));
		json_array_append_new(users, u);
	}
	sqlite3_finalize(st);
	if (st == NULL || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
		json_decref(users);
		return db_fail(c, result);
	}
	snprintf(next, sizeof next, "%lld", (long long)(offset + limit));
	*result = live_result(p);
	json_object_set_new(*result, "users", users);
	json_object_set_new(*result, "next_cursor", n > limit ? json_string(next) : json_null());
	return IM_OK;
}

static const im_param users_create_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "new account name@domain" },
	{ "invite", IM_PT_BOOL, 0, 0, 0, NULL, "false",
	  "send an invite instead of a one-time password-reset link" },
};

static int users_create(im_op_ctx *c, json_t *p, json_t **result)
{
	int allowed;
	char *reason = NULL;
	int64_t left;

	if (need_local(p, "user", result) != IM_OK)
		return IM_ERR;
	if (im_acct_may_create(c->env->db, S(p, "user"), &allowed, &reason, &left) != IM_OK)
		return db_fail(c, result);
	if (!allowed) {
		*result = im_error_new("conflict", "user", "%s", reason);
		free(reason);
		return IM_ERR;
	}
	*result = live_result(p);
	/* After this one is created. */
	json_object_set_new(*result, "seats_left", left >= 0 ? json_integer(left - 1) : json_null());
	return IM_OK;
}

static const im_param user_only_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "account name@domain" },
};
static const im_param users_delete_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "account name@domain" },
	{ "confirm", IM_PT_BOOL, 0, 0, 0, NULL, "false", "must be true: deletion cannot be undone" },
};

/* A live op whose only C-side rule is that param names something on a hosted
 * domain: hand the validated params to the glue. */
static int live_on_local(json_t *p, const char *param, json_t **result)
{
	if (need_local(p, param, result) != IM_OK)
		return IM_ERR;
	*result = live_result(p);
	return IM_OK;
}

/* Live ops on one account that needs no C-side state beyond its address. */
static int users_live(im_op_ctx *c, json_t *p, json_t **result)
{
	(void)c;
	return live_on_local(p, "user", result);
}

static int users_delete(im_op_ctx *c, json_t *p, json_t **result)
{
	if (!json_is_true(json_object_get(p, "confirm")))
		FAIL("invalid", "confirm", "deleting %s cannot be undone: repeat with confirm=true", S(p, "user"));
	return users_live(c, p, result);
}

/* 1 when the account is recorded, 0 not, -1 error. */
static int account_known(sqlite3 *db, const char *user)
{
	sqlite3_stmt *st = prep(db, "SELECT 1 FROM account WHERE jid = ?", "s", user);
	int r = st ? sqlite3_step(st) : SQLITE_ERROR;

	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -1;
}

static int users_reset_password(im_op_ctx *c, json_t *p, json_t **result)
{
	int k;

	if (need_local(p, "user", result) != IM_OK)
		return IM_ERR;
	if ((k = account_known(c->env->db, S(p, "user"))) < 0)
		return db_fail(c, result);
	if (k == 0)
		FAIL("not_found", "user", "no account %s", S(p, "user"));
	*result = live_result(p);
	return IM_OK;
}

static const im_param users_lock_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "account name@domain" },
	{ "reason", IM_PT_STRING, 1, 0, 500, NULL, NULL, "shown to the user when login is refused" },
};

/* lock: C state (atomic single UPDATE, version + 1), then live: the glue
 * kicks the account's sessions. */
static int users_lock(im_op_ctx *c, json_t *p, json_t **result)
{
	int n;

	if (need_local(p, "user", result) != IM_OK)
		return IM_ERR;
	if (!plain_text(S(p, "reason")))
		FAIL("invalid", "reason", "reason must be plain text (no control characters, < or >)");
	n = exec_st(c->env->db, prep(c->env->db, "UPDATE account SET locked_reason = ?, locked_at = ?, "
	                             "version = version + 1 WHERE jid = ?", "sis", S(p, "reason"), c->now,
	                             S(p, "user")));
	if (n < 0)
		return db_fail(c, result);
	if (n == 0)
		FAIL("not_found", "user", "no account %s", S(p, "user"));
	*result = live_result(p);
	json_object_set_new(*result, "locked", json_true());
	return IM_OK;
}

static int users_unlock(im_op_ctx *c, json_t *p, json_t **result)
{
	int n;

	if (need_local(p, "user", result) != IM_OK)
		return IM_ERR;
	n = exec_st(c->env->db, prep(c->env->db, "UPDATE account SET locked_reason = NULL, locked_at = NULL, "
	                             "version = version + 1 WHERE jid = ?", "s", S(p, "user")));
	if (n < 0)
		return db_fail(c, result);
	if (n == 0)
		FAIL("not_found", "user", "no account %s", S(p, "user"));
	*result = json_pack("{s:s,s:b}", "user", S(p, "user"), "locked", 0);
	return IM_OK;
}

static const im_param users_set_role_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "account name@domain" },
	{ "role", IM_PT_ENUM, 1, 0, 0, customer_roles_none, NULL,
	  "owner, domain_admin, member, or none: the role at the customer owning the domain" },
};

static int users_set_role(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t customer;
	int rc;

	if (need_local(p, "user", result) != IM_OK)
		return IM_ERR;
	rc = im_acct_scope_customer(c->env->db, S(p, "user"), &customer);
	if (rc == IM_ERR)
		return db_fail(c, result);
	if (rc != IM_OK)
		FAIL("not_found", "user", "%s is not on a domain attached to a customer", S(p, "user"));
	return change_member(c, customer, S(p, "user"),
	                     strcmp(S(p, "role"), "none") == 0 ? NULL : S(p, "role"), result);
}

static const im_param users_kick_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "account name@domain" },
	{ "resource", IM_PT_STRING, 0, 0, 1023, NULL, NULL, "one session; absent = all" },
};

static int users_kick(im_op_ctx *c, json_t *p, json_t **result)
{
	if (HAS(p, "resource") && !plain_text(S(p, "resource")))
		FAIL("invalid", "resource", "resource must not contain control characters, < or >");
	return users_live(c, p, result);
}

static const im_param users_record_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "account name@domain" },
	{ "event", IM_PT_ENUM, 1, 0, 0, record_events, NULL, "created, deleted or login" },
	{ "client", IM_PT_STRING, 0, 0, 200, NULL, NULL, "client software (login)" },
};

static int users_record(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t used = 0, limit = -1;
	int rc;

	if (need_local(p, "user", result) != IM_OK)
		return IM_ERR;
	if (im_acct_record(c->env->db, S(p, "user"), S(p, "event"), S(p, "client"), c->now) != IM_OK)
		return db_fail(c, result);
	rc = im_acct_seats(c->env->db, im_acct_domain_of(S(p, "user")), &used, &limit);
	if (rc == IM_ERR)
		return db_fail(c, result);
	/* A fact is recorded even beyond the limit (it happened); say so. */
	*result = json_pack("{s:s,s:s,s:b}", "user", S(p, "user"), "event", S(p, "event"),
	                    "over_limit", rc == IM_OK && limit >= 0 && used > limit);
	return IM_OK;
}

static const im_param users_reconcile_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "host whose accounts these are" },
	{ "users", IM_PT_STRING, 0, 0, 16 * 1024 * 1024, NULL, NULL,
	  "every existing account: local parts or bare JIDs, separated by spaces, commas or newlines" },
};

typedef struct {
	sqlite3 *db;
	const char *domain;
	json_t *names;            /* normalized bare JIDs */
	json_t *added, *removed;
	int64_t now;
} reconcile_state;

static int reconcile_tx(void *arg)
{
	reconcile_state *r = arg;
	sqlite3_stmt *st;
	json_t *v;
	size_t i;
	int rc;

	if (exec_st(r->db, prep(r->db, "CREATE TEMP TABLE IF NOT EXISTS reconcile_in(jid TEXT PRIMARY KEY)", "")) < 0 ||
	    exec_st(r->db, prep(r->db, "DELETE FROM reconcile_in", "")) < 0)
		return IM_ERR;
	json_array_foreach(r->names, i, v)
		if (exec_st(r->db, prep(r->db, "INSERT OR IGNORE INTO reconcile_in(jid) VALUES(?)", "s",
		                        json_string_value(v))) < 0)
			return IM_ERR;
	st = prep(r->db, "SELECT jid FROM reconcile_in WHERE jid NOT IN (SELECT jid FROM account) ORDER BY jid", "");
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(r->added, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	if (st == NULL || rc != SQLITE_DONE)
		return IM_ERR;
	st = prep(r->db, "SELECT jid FROM account WHERE domain = ? AND jid NOT IN (SELECT jid FROM reconcile_in) "
	          "ORDER BY jid", "s", r->domain);
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(r->removed, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	if (st == NULL || rc != SQLITE_DONE)
		return IM_ERR;
	json_array_foreach(r->added, i, v)
		if (im_acct_record(r->db, json_string_value(v), "created", NULL, r->now) != IM_OK)
			return IM_ERR;
	json_array_foreach(r->removed, i, v)
		if (im_acct_record(r->db, json_string_value(v), "deleted", NULL, r->now) != IM_OK)
			return IM_ERR;
	return exec_st(r->db, prep(r->db, "DELETE FROM reconcile_in", "")) < 0 ? IM_ERR : IM_OK;
}

static int users_reconcile(im_op_ctx *c, json_t *p, json_t **result)
{
	reconcile_state r = { c->env->db, S(p, "domain"), json_array(), json_array(), json_array(), c->now };
	const char *s = HAS(p, "users") ? S(p, "users") : "";
	char item[1100], jid[2200], norm[2200];
	const char *why;
	int64_t used = 0, limit = -1;
	int rc = IM_ERR;

	while (*s) {
		size_t n = strcspn(s, " ,\t\r\n");
		if (n > 0) {
			if (n >= sizeof item) {
				*result = im_error_new("invalid", "users", "an account name is too long");
				goto out;
			}
			memcpy(item, s, n);
			item[n] = '\0';
			if (strchr(item, '@'))
				snprintf(jid, sizeof jid, "%s", item);
			else
				snprintf(jid, sizeof jid, "%s@%s", item, r.domain);
			if (im_jid_normalize(jid, 0, norm, sizeof norm, &why) != IM_OK) {
				*result = im_error_new("invalid", "users", "users: an entry %s", why);
				goto out;
			}
			if (strcmp(im_acct_domain_of(norm), r.domain) != 0) {
				*result = im_error_new("invalid", "users", "users: every account must be on %s", r.domain);
				goto out;
			}
			json_array_append_new(r.names, json_string(norm));
		}
		s += n;
		s += strspn(s, " ,\t\r\n");
	}
	if (im_acct_tx(c->env->db, reconcile_tx, &r) != IM_OK) {
		db_fail(c, result);
		goto out;
	}
	if (im_acct_seats(c->env->db, r.domain, &used, &limit) == IM_ERR) {
		db_fail(c, result);
		goto out;
	}
	*result = json_pack("{s:s,s:O,s:O,s:I,s:o,s:b}", "domain", r.domain, "added", r.added,
	                    "removed", r.removed, "seats_used", (json_int_t)used,
	                    "seats", limit >= 0 ? json_integer(limit) : json_null(),
	                    "over_limit", limit >= 0 && used > limit);
	rc = IM_OK;
out:
	json_decref(r.names);
	json_decref(r.added);
	json_decref(r.removed);
	return rc;
}

static int users_may_login(im_op_ctx *c, json_t *p, json_t **result)
{
	int allowed;
	char *reason = NULL;

	if (im_acct_may_login(c->env->db, S(p, "user"), &allowed, &reason) != IM_OK)
		return db_fail(c, result);
	*result = json_pack("{s:b,s:o}", "allowed", allowed, "reason", reason ? json_string(reason) : json_null());
	free(reason);
	return IM_OK;
}

static int users_may_create(im_op_ctx *c, json_t *p, json_t **result)
{
	int allowed;
	char *reason = NULL;
	int64_t left;

	if (need_local(p, "user", result) != IM_OK)
		return IM_ERR;
	if (im_acct_may_create(c->env->db, S(p, "user"), &allowed, &reason, &left) != IM_OK)
		return db_fail(c, result);
	*result = json_pack("{s:b,s:o,s:o}", "allowed", allowed, "reason", reason ? json_string(reason) : json_null(),
	                    "seats_left", left >= 0 ? json_integer(left) : json_null());
	free(reason);
	return IM_OK;
}

/* --- channels (all live) -------------------------------------------------------------- */

static const im_param channels_list_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "hosted domain or its MUC component" },
};

#define ROOM_SETTINGS(D_TRUE, D_FALSE) \
	{ "name", IM_PT_STRING, 0, 0, 100, NULL, NULL, "display name (plain text)" }, \
	{ "description", IM_PT_STRING, 0, 0, 1000, NULL, NULL, "description (plain text)" }, \
	{ "persistent", IM_PT_BOOL, 0, 0, 0, NULL, D_TRUE, "kept when empty" }, \
	{ "members_only", IM_PT_BOOL, 0, 0, 0, NULL, D_FALSE, "only members may join" }, \
	{ "moderated", IM_PT_BOOL, 0, 0, 0, NULL, D_FALSE, "only participants with voice speak" }, \
	{ "password", IM_PT_STRING, 0, 0, 100, NULL, NULL, "room password" }, \
	{ "max_occupants", IM_PT_INT, 0, 1, 10000, NULL, NULL, "occupant limit" }, \
	{ "public_logging", IM_PT_BOOL, 0, 0, 0, NULL, D_FALSE, "public archive of the room" }

static const im_param channels_create_params[] = {
	{ "room", IM_PT_JID, 1, 0, 0, NULL, NULL, "room@muc-component" },
	ROOM_SETTINGS("true", "false"),
};
/* configure: only what is given changes, so no defaults. */
static const im_param channels_configure_params[] = {
	{ "room", IM_PT_JID, 1, 0, 0, NULL, NULL, "room@muc-component" },
	ROOM_SETTINGS(NULL, NULL),
};

static int room_checks(json_t *p, json_t **result)
{
	static const char *const texts[] = { "name", "description", NULL };
	const char *const *t;

	if (need_local(p, "room", result) != IM_OK)
		return IM_ERR;
	for (t = texts; *t; t++)
		if (HAS(p, *t) && !plain_text(S(p, *t)))
			FAIL("invalid", *t, "%s must be plain text: no markup (< or >) or control characters", *t);
	if (HAS(p, "password") && strpbrk(S(p, "password"), "\r\n\t") != NULL)
		FAIL("invalid", "password", "password must not contain control characters");
	return IM_OK;
}

static int channels_list(im_op_ctx *c, json_t *p, json_t **result)
{
	(void)c;
	*result = live_result(p);
	return IM_OK;
}

static int channels_create(im_op_ctx *c, json_t *p, json_t **result)
{
	(void)c;
	if (room_checks(p, result) != IM_OK)
		return IM_ERR;
	*result = live_result(p);
	return IM_OK;
}

static const im_param channels_affiliation_params[] = {
	{ "room", IM_PT_JID, 1, 0, 0, NULL, NULL, "room@muc-component" },
	{ "jid", IM_PT_JID, 1, 0, 0, NULL, NULL, "whose affiliation" },
	{ "affiliation", IM_PT_ENUM, 1, 0, 0, affiliations, NULL, "owner, admin, member, outcast or none" },
};
static const im_param channels_destroy_params[] = {
	{ "room", IM_PT_JID, 1, 0, 0, NULL, NULL, "room@muc-component" },
	{ "reason", IM_PT_STRING, 0, 0, 500, NULL, NULL, "told to the occupants" },
	{ "redirect", IM_PT_JID, 0, 0, 0, NULL, NULL, "alternative room" },
};
static const im_param channels_cleanup_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "hosted domain or its MUC component" },
	{ "idle_days", IM_PT_INT, 0, 1, 3650, NULL, "90", "rooms without activity for this long" },
	{ "dry_run", IM_PT_BOOL, 0, 0, 0, NULL, "true", "only list what would be destroyed" },
};

static int channels_affiliation(im_op_ctx *c, json_t *p, json_t **result)
{
	(void)c;
	return live_on_local(p, "room", result);
}

static int channels_destroy(im_op_ctx *c, json_t *p, json_t **result)
{
	(void)c;
	if (need_local(p, "room", result) != IM_OK)
		return IM_ERR;
	if (HAS(p, "reason") && !plain_text(S(p, "reason")))
		FAIL("invalid", "reason", "reason must be plain text (no control characters, < or >)");
	if (HAS(p, "redirect") && need_local(p, "redirect", result) != IM_OK)
		return IM_ERR;
	*result = live_result(p);
	return IM_OK;
}

/* --- certificates and reminders ----------------------------------------------------------- */

static const im_param certs_record_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "host whose served certificate this is" },
	{ "not_after", IM_PT_TIME, 0, 0, 0, NULL, NULL, "certificate expiry" },
	{ "fingerprint", IM_PT_STRING, 0, 0, 200, NULL, NULL, "SHA-256 fingerprint (hex, ':' allowed)" },
	{ "lifetime", IM_PT_INT, 0, 1, 20LL * 365 * 86400, NULL, NULL, "not_after - not_before, seconds" },
	{ "error", IM_PT_STRING, 0, 0, 500, NULL, NULL, "why the certificate could not be read" },
};

static int certs_record(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3 *db = c->env->db;
	const char *fp = S(p, "fingerprint"), *err = S(p, "error");
	sqlite3_stmt *st;
	int changed = 0, r;

	/* A missing or unreadable certificate is recorded as such (reported in
	 * domains.status), not fatal; the previous reading is kept beside it. */
	if (err == NULL && (fp == NULL || !HAS(p, "not_after")))
		FAIL("invalid", "fingerprint", "give not_after and fingerprint, or error");
	if (fp != NULL && (strlen(fp) < 16 || strspn(fp, "0123456789abcdefABCDEF:") != strlen(fp)))
		FAIL("invalid", "fingerprint", "fingerprint must be hex digits (':' allowed)");
	if (err != NULL && !plain_text(err))
		FAIL("invalid", "error", "error must be plain text");
	if (err != NULL) {
		r = exec_st(db, prep(db, "INSERT INTO cert(domain, error, recorded) VALUES(?1, ?2, ?3) "
		                     "ON CONFLICT(domain) DO UPDATE SET error = ?2, recorded = ?3",
		                     "ssi", S(p, "domain"), err, c->now));
	} else {
		st = prep(db, "SELECT fingerprint IS NOT ? FROM cert WHERE domain = ?", "ss", fp, S(p, "domain"));
		r = st ? sqlite3_step(st) : SQLITE_ERROR;
		changed = r == SQLITE_DONE || (r == SQLITE_ROW && sqlite3_column_int(st, 0));
		sqlite3_finalize(st);
		if (r != SQLITE_ROW && r != SQLITE_DONE)
			return db_fail(c, result);
		r = exec_st(db, prep(db, "INSERT INTO cert(domain, not_after, fingerprint, lifetime, error, recorded) "
		                     "VALUES(?1, ?2, lower(?3), ?4, NULL, ?5) ON CONFLICT(domain) DO UPDATE SET "
		                     "not_after = ?2, fingerprint = lower(?3), lifetime = ?4, error = NULL, recorded = ?5",
		                     "sisii", S(p, "domain"), I(p, "not_after"), fp,
		                     HAS(p, "lifetime") ? I(p, "lifetime") : (int64_t)0, c->now));
		/* lifetime 0 means unknown: store NULL. */
		if (r >= 0 && !HAS(p, "lifetime"))
			r = exec_st(db, prep(db, "UPDATE cert SET lifetime = NULL WHERE domain = ?", "s", S(p, "domain")));
	}
	if (r < 0)
		return db_fail(c, result);
	*result = json_pack("{s:s,s:b,s:b}", "domain", S(p, "domain"), "changed", changed, "readable", err == NULL);
	return IM_OK;
}

static int reminders_run(im_op_ctx *c, json_t *p, json_t **result)
{
	json_t *list;
	char *err = NULL;

	(void)p;
	if (im_reminders_run(c->env->db, c->now, &list, &err) != IM_OK) {
		*result = im_error_new("unavailable", NULL, "%s", err ? err : "reminders failed");
		free(err);
		return IM_ERR;
	}
	*result = json_pack("{s:o,s:I}", "reminders", list, "now", (json_int_t)c->now);
	return IM_OK;
}

/* --- the declarations ------------------------------------------------------------------- */
/* name, summary, permission, write, async, params, nparams, handler, scope, live */
#define P(a) a, COUNT(a)
#define NOP NULL, 0

const im_op im_op_customers_create = { "customers.create", "Create a customer and its owner",
	"customers.admin", 1, 0, P(customers_create_params), customers_create, NULL, 0 };
const im_op im_op_customers_list = { "customers.list", "List every customer",
	"customers.admin", 0, 0, NOP, customers_list, NULL, 0 };
const im_op im_op_customers_mine = { "customers.mine", "The customers you have a role at",
	"customers.self", 0, 0, NOP, customers_mine, NULL, 0 };
const im_op im_op_customers_show = { "customers.show", "A customer: members, domains",
	"customers.read", 0, 0, P(customers_show_params), customers_show, "customer", 0 };
const im_op im_op_domains_attach = { "domains.attach", "Attach a domain to a customer",
	"customers.admin", 1, 0, P(domains_attach_params), domains_attach, "domain", 0 };
const im_op im_op_domains_detach = { "domains.detach", "Detach a domain from its customer",
	"customers.admin", 1, 0, P(domain_only_params), domains_detach, "domain", 0 };
const im_op im_op_domains_set_seats = { "domains.set_seats", "Set a domain's seat limit",
	"customers.admin", 1, 0, P(set_seats_params), domains_set_seats, "domain", 0 };
const im_op im_op_domains_suspend = { "domains.suspend", "Suspend a domain (its users cannot log in)",
	"domains.suspend", 1, 0, P(suspend_params), domains_suspend, "domain", 0 };
const im_op im_op_domains_unsuspend = { "domains.unsuspend", "Lift a domain's suspension (of one source)",
	"domains.suspend", 1, 0, P(unsuspend_params), domains_unsuspend, "domain", 0 };
const im_op im_op_domains_set_expiry = { "domains.set_expiry", "Set a domain's registration expiry",
	"domains.expiry", 1, 0, P(expiry_params), domains_set_expiry, "domain", 0 };
const im_op im_op_domains_renew = { "domains.renew", "Record a domain renewal (new, later expiry)",
	"domains.expiry", 1, 0, P(expiry_params), domains_renew, "domain", 0 };
const im_op im_op_domains_status = { "domains.status", "A domain: owner, seats, suspension, expiry, certificate",
	"customers.read", 0, 0, P(domain_only_params), domains_status, "domain", 0 };
const im_op im_op_members_set = { "members.set", "Give someone a role at a customer",
	"members.manage", 1, 0, P(members_set_params), members_set, "customer", 0 };
const im_op im_op_members_remove = { "members.remove", "Remove someone's role at a customer",
	"members.manage", 1, 0, P(members_remove_params), members_remove, "customer", 0 };
const im_op im_op_staff_set = { "staff.set", "Make someone billing staff or support technician",
	"staff.manage", 1, 0, P(staff_set_params), staff_set, NULL, 0 };
const im_op im_op_users_list = { "users.list", "List and search a domain's accounts",
	"users.read", 0, 0, P(users_list_params), users_list, "domain", 1 };
const im_op im_op_users_create = { "users.create", "Create an account (reset link or invite, never a password)",
	"users.manage", 1, 0, P(users_create_params), users_create, "user", 1 };
const im_op im_op_users_delete = { "users.delete", "Delete an account (confirm=true)",
	"users.manage", 1, 0, P(users_delete_params), users_delete, "user", 1 };
const im_op im_op_users_lock = { "users.lock", "Lock an account and end its sessions",
	"users.manage", 1, 0, P(users_lock_params), users_lock, "user", 1 };
const im_op im_op_users_unlock = { "users.unlock", "Unlock an account",
	"users.manage", 1, 0, P(user_only_params), users_unlock, "user", 0 };
const im_op im_op_users_reset_password = { "users.reset_password", "A one-time password-reset link",
	"users.manage", 1, 0, P(user_only_params), users_reset_password, "user", 1 };
const im_op im_op_users_set_role = { "users.set_role", "Set an account's role at its customer",
	"members.manage", 1, 0, P(users_set_role_params), users_set_role, "user", 0 };
const im_op im_op_users_sessions = { "users.sessions", "An account's active sessions",
	"users.read", 0, 0, P(user_only_params), users_live, "user", 1 };
const im_op im_op_users_kick = { "users.kick", "End an account's sessions (or one)",
	"users.manage", 1, 0, P(users_kick_params), users_kick, "user", 1 };
const im_op im_op_users_record = { "users.record", "Internal: an account was created, deleted or logged in",
	"internal", 1, 0, P(users_record_params), users_record, "user", 0 };
const im_op im_op_users_reconcile = { "users.reconcile", "Internal: the full account list of a host at start",
	"internal", 1, 0, P(users_reconcile_params), users_reconcile, "domain", 0 };
const im_op im_op_users_may_login = { "users.may_login", "Internal: may this account log in now",
	"internal", 0, 0, P(user_only_params), users_may_login, NULL, 0 };
const im_op im_op_users_may_create = { "users.may_create", "Internal: may this account be created now",
	"internal", 0, 0, P(user_only_params), users_may_create, NULL, 0 };
const im_op im_op_channels_list = { "channels.list", "A domain's rooms with occupants and settings",
	"channels.read", 0, 0, P(channels_list_params), channels_list, "domain", 1 };
const im_op im_op_channels_create = { "channels.create", "Create a room",
	"channels.manage", 1, 0, P(channels_create_params), channels_create, "room", 1 };
const im_op im_op_channels_configure = { "channels.configure", "Change a room's settings",
	"channels.manage", 1, 0, P(channels_configure_params), channels_create, "room", 1 };
const im_op im_op_channels_set_affiliation = { "channels.set_affiliation", "Set someone's affiliation in a room",
	"channels.manage", 1, 0, P(channels_affiliation_params), channels_affiliation, "room", 1 };
const im_op im_op_channels_destroy = { "channels.destroy", "Destroy a room (reason, optional redirect)",
	"channels.manage", 1, 0, P(channels_destroy_params), channels_destroy, "room", 1 };
const im_op im_op_channels_cleanup = { "channels.cleanup", "List or destroy rooms idle for idle_days",
	"channels.manage", 1, 0, P(channels_cleanup_params), channels_list, "domain", 1 };
const im_op im_op_certs_record = { "certs.record", "Internal: the certificate a host serves",
	"internal", 1, 0, P(certs_record_params), certs_record, "domain", 0 };
const im_op im_op_reminders_run = { "reminders.run", "Internal: compute and claim due expiry reminders",
	"internal", 1, 0, NOP, reminders_run, NULL, 0 };
