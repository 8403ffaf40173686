/*
 * registry.h — the operations registry: every operation declared once.
 *
 * An operation (im_op) names its parameters, permission and handler.  The
 * registry validates parameters, checks the caller's permission (the only
 * permission check, for all surfaces), audits write operations and dispatches.
 * The Lua glue generates its four surfaces from im_registry_json().
 */
#ifndef IMHOST_REGISTRY_H
#define IMHOST_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>

#include "logwriter.h"
#include "params.h"

/* What an operation runs against.  Nothing here is owned by the registry. */
typedef struct {
	sqlite3 *db;         /* this thread's connection (im_store_open) */
	im_writer *writer;   /* the log writer, or NULL (offline CLI, tests) */
	int erasure;         /* IM_ERASE_DELETE / IM_ERASE_PSEUDONYMIZE: logs.erase default */
} im_env;

/* Roles (bit per role); permissions.c maps them to permissions. */
enum {
	IM_ROLE_OPERATOR     = 1 << 0,   /* cli and shell surfaces */
	IM_ROLE_SERVER_ADMIN = 1 << 1,
	IM_ROLE_BILLING      = 1 << 2,
	IM_ROLE_TECHNICIAN   = 1 << 3,
	IM_ROLE_OWNER        = 1 << 4,
	IM_ROLE_DOMAIN_ADMIN = 1 << 5,
	IM_ROLE_MEMBER       = 1 << 6,
	IM_ROLE_USER         = 1 << 7    /* any authenticated actor */
};
/* The customer-side roles: granted per customer, from the member table only. */
#define IM_CUSTOMER_ROLES (IM_ROLE_OWNER | IM_ROLE_DOMAIN_ADMIN | IM_ROLE_MEMBER)

/* Who asks, for one call.  Strings point into the ctx JSON; valid for the call. */
typedef struct im_op_ctx {
	const im_env *env;
	const char *actor;     /* bare JID, "" when none (cli) */
	const char *surface;   /* adhoc|http|shell|cli */
	const char *tz;        /* IANA zone for reading and showing times */
	unsigned roles;        /* IM_ROLE_* bits */
	int64_t now;           /* im_now() at the start of the call */
	int64_t customer;      /* customer owning the op's scope, or -1 (none/unscoped) */
} im_op_ctx;

/* A handler returns IM_OK with *result a new object, or an IM_* error code with
 * *result a new error object (im_error_new); *result NULL on error means
 * "internal". */
typedef int (*im_op_fn)(im_op_ctx *ctx, json_t *params, json_t **result);

typedef struct {
	const char *name;        /* "logs.search" */
	const char *summary;
	const char *permission;  /* "logs.read", ... (permissions.c) */
	int write;               /* changes state: audited */
	int async;               /* runs on a worker thread from the event loop */
	const im_param *params;
	size_t nparams;
	im_op_fn handler;
	/* Appended for issue 4 (positional initializers above stay valid).
	 * scope: name of the param that says whose data this is, or NULL.  Its value
	 * is a domain, a JID (its domain counts; a MUC component host a.b counts as
	 * its parent b when a.b is not itself attached), or for an int param a
	 * customer id.  The registry grants the actor's customer roles (member
	 * table) only for the customer owning that scope: never elsewhere. */
	const char *scope;
	/* live: the op acts on the running Prosody.  The registry does everything
	 * it does for any op (params, roles, permission, C rules, audit), then the
	 * handler returns {"live":true,"params":{normalized},...} and the glue runs
	 * its Lua live handler with those params (docs/core-api.md). */
	int live;
} im_op;

/* The registry as JSON (docs/core-api.md).  Malloc'd; caller frees. */
char *im_registry_json(void);

/* One operation's declaration, the same object as in im_registry_json: the glue
 * keeps no decoded copy of the whole registry.  NULL with *found = 0 for an
 * unknown name, NULL with *found = 1 when out of memory.  Caller frees. */
char *im_registry_op_json(const char *name, int *found);

/* The operation called name, or NULL. */
const im_op *im_registry_find(const char *name);

/* Number of operations and the i-th one (tests, bench). */
size_t im_registry_count(void);
const im_op *im_registry_at(size_t i);

/* Runs op with params (object or NULL) for ctx (object).  Returns a new
 * reference: the result object, or {"error":{...}}; *ok (may be NULL) is 1 for a
 * result, 0 for an error.  Never NULL except out of memory. */
json_t *im_registry_call_json(const im_env *env, const char *op, json_t *params,
                              json_t *ctx, int *ok);

/* The same with JSON text in and out.  Returns malloc'd JSON text the caller
 * frees; unparseable params/ctx give an "invalid" error. */
char *im_registry_call(const im_env *env, const char *op, const char *params_json,
                       const char *ctx_json, int *ok);

/* --- permissions.c ----------------------------------------------------------- */

/* Global role bits from ctx: "roles" names, plus operator for surfaces
 * cli/shell, server_admin for "prosody_admin":true, user for a non-empty actor.
 * Unknown role names are ignored, and so are the customer roles owner,
 * domain_admin and member: those only come from imhost's member table, per
 * customer, resolved by the registry for the op's scope (accounts.h). */
unsigned im_roles_from_ctx(json_t *ctx);

/* 1 if any of roles grants permission. */
int im_permission_allowed(unsigned roles, const char *permission);

/* Role name for a single bit, NULL for none (tests, messages). */
const char *im_role_name(unsigned bit);

/* --- the operations (ops_*.c) -------------------------------------------------- */
extern const im_op im_op_logs_search, im_op_logs_trends, im_op_logs_export,
	im_op_logs_erase, im_op_logs_retention, im_op_logs_users, im_op_logs_status,
	im_op_auth_token;

/* --- ops_accounts.c: customers, domains, users, channels, certs, reminders --- */
extern const im_op im_op_customers_create, im_op_customers_list, im_op_customers_mine,
	im_op_customers_show, im_op_domains_attach, im_op_domains_detach,
	im_op_domains_set_seats, im_op_domains_suspend, im_op_domains_unsuspend,
	im_op_domains_set_expiry, im_op_domains_renew, im_op_domains_status,
	im_op_members_set, im_op_members_remove, im_op_staff_set,
	im_op_users_list, im_op_users_create, im_op_users_delete, im_op_users_lock,
	im_op_users_unlock, im_op_users_reset_password, im_op_users_set_role,
	im_op_users_sessions, im_op_users_kick, im_op_users_record, im_op_users_reconcile,
	im_op_users_may_login, im_op_users_may_create,
	im_op_channels_list, im_op_channels_create, im_op_channels_configure,
	im_op_channels_set_affiliation, im_op_channels_destroy, im_op_channels_cleanup,
	im_op_certs_record, im_op_reminders_run;

/* --- ops_desk.c: the support desk (issue 6) --- */
extern const im_op im_op_desk_open, im_op_desk_mine, im_op_desk_view, im_op_desk_reply, im_op_desk_close,
	im_op_desk_queue, im_op_desk_claim, im_op_desk_assign, im_op_desk_note, im_op_desk_status,
	im_op_desk_priority, im_op_desk_merge, im_op_desk_canned, im_op_desk_search, im_op_desk_report,
	im_op_desk_incoming, im_op_desk_configure,
	im_op_desk_erase;   /* desk_erase.c */

/* --- ops_billing.c: billing (issue 5) --- */
extern const im_op im_op_billing_overview, im_op_billing_invoices, im_op_billing_statement,
	im_op_billing_info, im_op_billing_payment_methods, im_op_billing_run,
	im_op_billing_plan_create, im_op_billing_subscribe, im_op_billing_change_plan,
	im_op_billing_cancel, im_op_billing_usage, im_op_billing_payment, im_op_billing_refund,
	im_op_billing_credit_note, im_op_billing_invoice_set, im_op_billing_invoice_create,
	im_op_billing_account, im_op_billing_webhook, im_op_billing_overdue,
	im_op_billing_report_revenue, im_op_billing_report_mrr, im_op_billing_report_open,
	im_op_billing_report_usage,
	im_op_billing_meter;

/* --- ops_auth.c ------------------------------------------------------------------ */

/* The actor a bearer token was issued to, if the token is known and unexpired
 * (im_now()).  Malloc'd JID the caller frees, or NULL. */
char *im_verify_token(sqlite3 *db, const char *token);

#endif
