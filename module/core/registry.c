/*
 * registry.c — the table of operations and the one call path every surface uses:
 * look up, read ctx, check permission, validate params, audit writes, dispatch.
 */
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "clock.h"
#include "imhost_err.h"
#include "registry.h"
#include "tz.h"

static const im_op *const ops[] = {
	&im_op_logs_search,
	&im_op_logs_trends,
	&im_op_logs_users,
	&im_op_logs_status,
	&im_op_logs_export,
	&im_op_logs_erase,
	&im_op_logs_retention,
	&im_op_auth_token,
	&im_op_customers_create,
	&im_op_customers_list,
	&im_op_customers_mine,
	&im_op_customers_show,
	&im_op_domains_attach,
	&im_op_domains_detach,
	&im_op_domains_set_seats,
	&im_op_domains_suspend,
	&im_op_domains_unsuspend,
	&im_op_domains_set_expiry,
	&im_op_domains_renew,
	&im_op_domains_status,
	&im_op_members_set,
	&im_op_members_remove,
	&im_op_staff_set,
	&im_op_users_list,
	&im_op_users_create,
	&im_op_users_delete,
	&im_op_users_lock,
	&im_op_users_unlock,
	&im_op_users_reset_password,
	&im_op_users_set_role,
	&im_op_users_sessions,
	&im_op_users_kick,
	&im_op_users_record,
	&im_op_users_reconcile,
	&im_op_users_may_login,
	&im_op_users_may_create,
	&im_op_channels_list,
	&im_op_channels_create,
	&im_op_channels_configure,
	&im_op_channels_set_affiliation,
	&im_op_channels_destroy,
	&im_op_channels_cleanup,
	&im_op_certs_record,
	&im_op_reminders_run,
	&im_op_desk_open,
	&im_op_desk_mine,
	&im_op_desk_view,
	&im_op_desk_reply,
	&im_op_desk_close,
	&im_op_desk_queue,
	&im_op_desk_claim,
	&im_op_desk_assign,
	&im_op_desk_note,
	&im_op_desk_status,
	&im_op_desk_priority,
	&im_op_desk_merge,
	&im_op_desk_canned,
	&im_op_desk_search,
	&im_op_desk_report,
	&im_op_desk_incoming,
	&im_op_desk_configure,
	&im_op_desk_erase,
	&im_op_billing_overview,
	&im_op_billing_invoices,
	&im_op_billing_statement,
	&im_op_billing_info,
	&im_op_billing_payment_methods,
	&im_op_billing_run,
	&im_op_billing_meter,
	&im_op_billing_plan_create,
	&im_op_billing_subscribe,
	&im_op_billing_change_plan,
	&im_op_billing_cancel,
	&im_op_billing_usage,
	&im_op_billing_payment,
	&im_op_billing_refund,
	&im_op_billing_credit_note,
	&im_op_billing_invoice_set,
	&im_op_billing_invoice_create,
	&im_op_billing_account,
	&im_op_billing_webhook,
	&im_op_billing_overdue,
	&im_op_billing_report_revenue,
	&im_op_billing_report_mrr,
	&im_op_billing_report_open,
	&im_op_billing_report_usage,
};

#define NOPS (sizeof ops / sizeof ops[0])

size_t im_registry_count(void) { return NOPS; }

const im_op *im_registry_at(size_t i) { return i < NOPS ? ops[i] : NULL; }

const im_op *im_registry_find(const char *name)
{
	size_t i;

	for (i = 0; name && i < NOPS; i++)
		if (strcmp(ops[i]->name, name) == 0)
			return ops[i];
	return NULL;
}

static json_t *param_json(const im_param *p)
{
	json_t *o = json_pack("{s:s,s:s,s:b}", "name", p->name, "type", im_ptype_name(p->type),
	                      "required", p->required);

	if (o == NULL)
		return NULL;
	if (p->type == IM_PT_INT) {
		json_object_set_new(o, "min", json_integer(p->min));
		json_object_set_new(o, "max", json_integer(p->max));
	} else if (p->type == IM_PT_STRING && p->max > 0) {
		json_object_set_new(o, "max", json_integer(p->max));
	}
	if (p->type == IM_PT_ENUM) {
		json_t *vals = json_array();
		const char *const *v;
		for (v = p->values; v && *v; v++)
			json_array_append_new(vals, json_string(*v));
		json_object_set_new(o, "values", vals);
	}
	if (p->def != NULL)
		json_object_set_new(o, "default", json_string(p->def));
	json_object_set_new(o, "description", json_string(p->description ? p->description : ""));
	return o;
}

/* One declaration as a JSON object, or NULL when out of memory. */
static json_t *op_json(const im_op *op)
{
	json_t *params = json_array();
	json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:b,s:b}", "name", op->name, "summary", op->summary,
	                      "permission", op->permission, "write", op->write, "async", op->async,
	                      "live", op->live);
	size_t j;

	if (o == NULL || params == NULL) {
		json_decref(o);
		json_decref(params);
		return NULL;
	}
	json_object_set_new(o, "scope", op->scope ? json_string(op->scope) : json_null());
	for (j = 0; j < op->nparams; j++)
		json_array_append_new(params, param_json(&op->params[j]));
	json_object_set_new(o, "params", params);
	return o;
}

char *im_registry_json(void)
{
	json_t *root = json_object(), *list = json_array();
	char *s;
	size_t i;

	if (root == NULL || list == NULL) {
		json_decref(root);
		json_decref(list);
		return NULL;
	}
	for (i = 0; i < NOPS; i++)
		json_array_append_new(list, op_json(ops[i]));
	json_object_set_new(root, "operations", list);
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

char *im_registry_op_json(const char *name, int *found)
{
	const im_op *op = im_registry_find(name);
	json_t *o;
	char *s;

	*found = op != NULL;
	if (op == NULL || (o = op_json(op)) == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Appends the audit row of a write operation; returns its rowid or -1. */
static int64_t audit_begin(const im_op_ctx *c, const char *op, json_t *params, const char *outcome)
{
	static const char sql[] =
		"INSERT INTO audit(ts, actor, surface, op, params, outcome) VALUES(?,?,?,?,?,?)";
	sqlite3_stmt *st = NULL;
	char *ptext = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int64_t id = -1;

	if (sqlite3_prepare_v2(c->env->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, c->now) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, *c->actor ? c->actor : c->surface, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 3, c->surface, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 4, op, -1, SQLITE_STATIC) == SQLITE_OK &&
	    (ptext ? sqlite3_bind_text(st, 5, ptext, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 5)) == SQLITE_OK &&
	    sqlite3_bind_text(st, 6, outcome, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(c->env->db);
	sqlite3_finalize(st);
	free(ptext);
	return id;
}

/* Records the outcome on the row audit_begin wrote.  The row is written before
 * the operation runs so that no write can happen unaudited; this fills in how
 * it ended.  Returns IM_OK or IM_ERR. */
static int audit_end(const im_op_ctx *c, int64_t id, const char *outcome)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	if (sqlite3_prepare_v2(c->env->db, "UPDATE audit SET outcome = ? WHERE id = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, outcome, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, id) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		rc = IM_OK;
	sqlite3_finalize(st);
	return rc;
}

static const char *error_code(json_t *res)
{
	const char *code = json_string_value(json_object_get(json_object_get(res, "error"), "code"));

	return code ? code : "internal";
}

/* Reads and checks ctx; fills c.  NULL on success, else a new error. */
static json_t *read_ctx(json_t *ctx, im_op_ctx *c)
{
	static const char *const surfaces[] = { "adhoc", "http", "shell", "cli", NULL };
	json_t *v;
	const char *const *s;
	const char *why;
	char norm[3072];

	if (!json_is_object(ctx))
		return im_error_new("invalid", NULL, "ctx must be a JSON object");
	c->surface = json_string_value(json_object_get(ctx, "surface"));
	for (s = surfaces; c->surface && *s; s++)
		if (strcmp(*s, c->surface) == 0)
			break;
	if (c->surface == NULL || *s == NULL)
		return im_error_new("invalid", NULL, "ctx.surface must be adhoc, http, shell or cli");
	v = json_object_get(ctx, "actor");
	c->actor = v ? json_string_value(v) : "";
	if (c->actor == NULL)
		return im_error_new("invalid", NULL, "ctx.actor must be a string");
	if (*c->actor && im_jid_normalize(c->actor, 0, norm, sizeof norm, &why) != IM_OK)
		return im_error_new("invalid", NULL, "ctx.actor %s", why);
	v = json_object_get(ctx, "tz");
	c->tz = v ? json_string_value(v) : "UTC";
	if (c->tz == NULL || !im_tz_valid(c->tz))
		return im_error_new("invalid", "tz", "unknown time zone");
	c->roles = im_roles_from_ctx(ctx);
	c->now = im_now();
	return NULL;
}

/* The refusal; refused writes are audited too, best effort: the refusal
 * stands whether or not the row could be written. */
static json_t *forbidden(const im_op_ctx *c, const im_op *op)
{
	if (op->write && c->env && c->env->db)
		(void)audit_begin(c, op->name, NULL, "forbidden");
	return im_error_new("forbidden", NULL, "%s needs permission %s", op->name, op->permission);
}

/* Checks the op's scope param and adds the actor's customer roles for the
 * customer that owns it (c->customer), and only for that one.  NULL, or a new
 * error (invalid scope value / database failure). */
static json_t *resolve_scope(im_op_ctx *c, const im_op *op, json_t *clean)
{
	json_t *v = json_object_get(clean, op->scope);
	const char *why;
	int rc;

	if (v == NULL)   /* optional scope absent: global roles only */
		return NULL;
	if (json_is_integer(v)) {   /* a customer id */
		c->customer = json_integer_value(v);
	} else {
		if (im_acct_domain_check(json_string_value(v), &why) != IM_OK)
			return im_error_new("invalid", op->scope, "%s %s", op->scope, why);
		rc = im_acct_scope_customer(c->env->db, json_string_value(v), &c->customer);
		if (rc == IM_ERR)
			return im_error_new("unavailable", NULL, "database: %s", sqlite3_errmsg(c->env->db));
		if (rc != IM_OK)
			c->customer = -1;
	}
	if (c->customer >= 0)
		c->roles |= im_acct_customer_roles(c->env->db, c->customer, c->actor);
	return NULL;
}

json_t *im_registry_call_json(const im_env *env, const char *opname, json_t *params,
                              json_t *ctx, int *ok)
{
	const im_op *op = im_registry_find(opname);
	im_op_ctx c;
	json_t *res = NULL, *clean = NULL;
	int64_t audit_id = -1;
	int rc, global_ok;

	if (ok)
		*ok = 0;
	if (op == NULL)
		return im_error_new("not_found", NULL, "no such operation");
	memset(&c, 0, sizeof c);
	c.env = env;
	if ((res = read_ctx(ctx, &c)) != NULL)
		return res;
	c.customer = -1;
	if (env && env->db)
		c.roles |= im_acct_staff_roles(env->db, c.actor);
	/* Params are read before the scoped check (the scope is a param), but
	 * only when a customer role could grant the permission at all: otherwise
	 * a refused caller learns nothing about the params' validity. */
	global_ok = im_permission_allowed(c.roles, op->permission);
	if (!global_ok && !(op->scope && im_permission_allowed(c.roles | IM_CUSTOMER_ROLES, op->permission)))
		return forbidden(&c, op);
	if (im_params_check(op->params, op->nparams, params, c.tz, &clean, &res) != IM_OK) {
		/* Someone with no customer role anywhere is refused, not coached. */
		if (!global_ok && env && env->db && !im_acct_is_member_anywhere(env->db, c.actor)) {
			json_decref(res);
			return forbidden(&c, op);
		}
		return res;
	}
	if (env == NULL || env->db == NULL) {
		json_decref(clean);
		return im_error_new("unavailable", NULL, "no database");
	}
	if (op->scope && (res = resolve_scope(&c, op, clean)) != NULL) {
		json_decref(clean);
		return res;
	}
	if (!im_permission_allowed(c.roles, op->permission)) {
		json_decref(clean);
		return forbidden(&c, op);
	}
	if (op->write && (audit_id = audit_begin(&c, op->name, clean, "started")) < 0) {
		json_decref(clean);
		return im_error_new("unavailable", NULL, "cannot write the audit log: %s",
		                    sqlite3_errmsg(env->db));
	}
	rc = op->handler(&c, clean, &res);
	json_decref(clean);
	if (rc != IM_OK && res == NULL)
		res = im_error_new("internal", NULL, "%s failed", op->name);
	if (rc == IM_OK && res == NULL)
		res = im_error_new("internal", NULL, "%s returned nothing", op->name);
	if (op->write && audit_end(&c, audit_id, rc == IM_OK ? "ok" : error_code(res)) != IM_OK &&
	    rc == IM_OK) {
		/* The operation ran; say so, and that its audit row is incomplete. */
		json_object_set_new(res, "audit_warning", json_string("outcome not recorded"));
	}
	if (ok)
		*ok = rc == IM_OK && json_object_get(res, "error") == NULL;
	return res;
}

char *im_registry_call(const im_env *env, const char *op, const char *params_json,
                       const char *ctx_json, int *ok)
{
	json_error_t jerr;
	json_t *params = NULL, *ctx = NULL, *res;
	char *out;

	if (ok)
		*ok = 0;
	if (params_json && *params_json) {
		params = json_loads(params_json, JSON_REJECT_DUPLICATES, &jerr);
		if (params == NULL) {
			res = im_error_new("invalid", NULL, "params: malformed JSON");
			goto done;
		}
	}
	ctx = json_loads(ctx_json ? ctx_json : "", JSON_REJECT_DUPLICATES, &jerr);
	if (ctx == NULL) {
		res = im_error_new("invalid", NULL, "ctx: malformed JSON");
		goto done;
	}
	res = im_registry_call_json(env, op, params, ctx, ok);
done:
	json_decref(params);
	json_decref(ctx);
	out = res ? json_dumps(res, JSON_COMPACT) : NULL;
	json_decref(res);
	return out;
}
