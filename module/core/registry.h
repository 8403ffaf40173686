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

/* Who asks, for one call.  Strings point into the ctx JSON; valid for the call. */
typedef struct im_op_ctx {
	const im_env *env;
	const char *actor;     /* bare JID, "" when none (cli) */
	const char *surface;   /* adhoc|http|shell|cli */
	const char *tz;        /* IANA zone for reading and showing times */
	unsigned roles;        /* IM_ROLE_* bits */
	int64_t now;           /* im_now() at the start of the call */
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
} im_op;

/* The registry as JSON (docs/core-api.md).  Malloc'd; caller frees. */
char *im_registry_json(void);

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

/* Role bits from ctx: "roles" names, plus operator for surfaces cli/shell,
 * server_admin for "prosody_admin":true, user for a non-empty actor.  Unknown
 * role names are ignored. */
unsigned im_roles_from_ctx(json_t *ctx);

/* 1 if any of roles grants permission. */
int im_permission_allowed(unsigned roles, const char *permission);

/* Role name for a single bit, NULL for none (tests, messages). */
const char *im_role_name(unsigned bit);

/* --- the operations (ops_*.c) -------------------------------------------------- */
extern const im_op im_op_logs_search, im_op_logs_trends, im_op_logs_export,
	im_op_logs_erase, im_op_logs_retention, im_op_logs_users, im_op_logs_status,
	im_op_auth_token;

/* --- ops_auth.c ------------------------------------------------------------------ */

/* The actor a bearer token was issued to, if the token is known and unexpired
 * (im_now()).  Malloc'd JID the caller frees, or NULL. */
char *im_verify_token(sqlite3 *db, const char *token);

#endif
