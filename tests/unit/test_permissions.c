/*
 * test_permissions.c — every operation x every role, through the registry:
 * the expected matrix is written out here, independently of permissions.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "imhost.h"
#include "fixture.h"

static const char *const roles[] = { "operator", "server_admin", "billing", "technician", "owner",
                                     "domain_admin", "member", "user" };
#define NROLES (sizeof roles / sizeof roles[0])

/* Expected: 1 allowed, 0 forbidden, per role in the order above. */
static const struct { const char *op; int allowed[NROLES]; } matrix[] = {
	{ "logs.search",    { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "logs.trends",    { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "logs.users",     { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "logs.status",    { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "logs.export",    { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "logs.erase",     { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "logs.retention", { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "auth.token",     { 1, 1, 1, 1, 1, 1, 1, 1 } },
	/* Issue 4.  Customer roles never come from ctx (only from imhost's member
	 * table, per customer: tests/unit/test_accounts.c), so here the owner,
	 * domain_admin and member columns are plain authenticated users. */
	{ "customers.create",   { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "customers.list",     { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "customers.mine",     { 1, 1, 1, 1, 1, 1, 1, 1 } },
	{ "customers.show",     { 1, 1, 1, 1, 0, 0, 0, 0 } },
	{ "domains.attach",     { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "domains.detach",     { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "domains.set_seats",  { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "domains.suspend",    { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "domains.unsuspend",  { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "domains.set_expiry", { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "domains.renew",      { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "domains.status",     { 1, 1, 1, 1, 0, 0, 0, 0 } },
	{ "members.set",        { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "members.remove",     { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "staff.set",          { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "users.list",         { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "users.create",       { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "users.delete",       { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "users.lock",         { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "users.unlock",       { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "users.reset_password", { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "users.set_role",     { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "users.sessions",     { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "users.kick",         { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "users.record",       { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "users.reconcile",    { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "users.may_login",    { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "users.may_create",   { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "channels.list",      { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "channels.create",    { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "channels.configure", { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "channels.set_affiliation", { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "channels.destroy",   { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "channels.cleanup",   { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "certs.record",       { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "reminders.run",      { 1, 1, 0, 0, 0, 0, 0, 0 } },
	/* Issue 6 (support desk): desk.use = any user (own tickets only, checked in
	 * ops_desk.c); desk.work = technicians; desk.report = technicians, billing. */
	{ "desk.open",          { 1, 1, 1, 1, 1, 1, 1, 1 } },
	{ "desk.mine",          { 1, 1, 1, 1, 1, 1, 1, 1 } },
	{ "desk.view",          { 1, 1, 1, 1, 1, 1, 1, 1 } },
	{ "desk.reply",         { 1, 1, 1, 1, 1, 1, 1, 1 } },
	{ "desk.close",         { 1, 1, 1, 1, 1, 1, 1, 1 } },
	{ "desk.queue",         { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "desk.claim",         { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "desk.assign",        { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "desk.note",          { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "desk.status",        { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "desk.priority",      { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "desk.merge",         { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "desk.canned",        { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "desk.search",        { 1, 1, 0, 1, 0, 0, 0, 0 } },
	{ "desk.report",        { 1, 1, 1, 1, 0, 0, 0, 0 } },
	{ "desk.incoming",      { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "desk.configure",     { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "desk.erase",         { 1, 1, 0, 0, 0, 0, 0, 0 } },
	/* Issue 5 (billing): billing.self is also the owner's, per customer only
	 * (test_accounts.c); glue-only ops (usage, webhook) are "internal". */
	{ "billing.overview",       { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.invoices",       { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.statement",      { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.info",           { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.payment_methods", { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.run",            { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.meter",          { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.plan_create",    { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.subscribe",      { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.change_plan",    { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.cancel",         { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.payment",        { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.refund",         { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.credit_note",    { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.invoice_set",    { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.invoice_create", { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.account",        { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.overdue",        { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.usage",          { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "billing.webhook",        { 1, 1, 0, 0, 0, 0, 0, 0 } },
	{ "billing.report_revenue", { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.report_mrr",     { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.report_open",    { 1, 1, 1, 0, 0, 0, 0, 0 } },
	{ "billing.report_usage",   { 1, 1, 1, 0, 0, 0, 0, 0 } },
};

static void test_every_op_is_in_the_matrix(void **state)
{
	size_t i, j;

	(void)state;
	assert_int_equal(im_registry_count(), sizeof matrix / sizeof matrix[0]);
	for (i = 0; i < im_registry_count(); i++) {
		for (j = 0; j < sizeof matrix / sizeof matrix[0]; j++)
			if (strcmp(matrix[j].op, im_registry_at(i)->name) == 0)
				break;
		assert_true(j < sizeof matrix / sizeof matrix[0]);
	}
}

static void test_matrix(void **state)
{
	char dir[] = "/tmp/imhost-perm-XXXXXX", path[64], ctx[256];
	sqlite3 *db = NULL;
	im_env env;
	size_t i, r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/db.sqlite", dir);
	assert_int_equal(im_store_open(path, &db, NULL), IM_OK);
	env.db = db;
	env.writer = NULL;
	env.erasure = IM_ERASE_DELETE;
	for (i = 0; i < sizeof matrix / sizeof matrix[0]; i++) {
		for (r = 0; r < NROLES; r++) {
			json_t *res, *params = json_object(), *c;
			const char *code;
			int ok;
			/* operator is what the cli/shell surfaces grant; the rest come as roles */
			snprintf(ctx, sizeof ctx, "{\"actor\":\"x@a.example\",\"roles\":[\"%s\"],\"surface\":\"http\"}",
			         roles[r]);
			c = json_loads(ctx, 0, NULL);
			res = im_registry_call_json(&env, matrix[i].op, params, c, &ok);
			code = json_string_value(json_object_get(json_object_get(res, "error"), "code"));
			if (matrix[i].allowed[r] ? code && strcmp(code, "forbidden") == 0
			                         : !code || strcmp(code, "forbidden") != 0)
				fail_msg("%s as %s: expected %s, got %s", matrix[i].op, roles[r],
				         matrix[i].allowed[r] ? "allowed" : "forbidden", code ? code : "ok");
			json_decref(res);
			json_decref(params);
			json_decref(c);
		}
	}
	sqlite3_close(db);
	assert_int_equal(fx_rmtree(dir), 0);
}

static void test_role_sources(void **state)
{
	json_t *c;

	(void)state;
	c = json_pack("{s:s}", "surface", "cli");
	assert_true(im_roles_from_ctx(c) & IM_ROLE_OPERATOR);
	json_decref(c);
	c = json_pack("{s:s}", "surface", "shell");
	assert_true(im_roles_from_ctx(c) & IM_ROLE_OPERATOR);
	json_decref(c);
	c = json_pack("{s:s,s:b}", "surface", "http", "prosody_admin", 1);
	assert_int_equal(im_roles_from_ctx(c), IM_ROLE_SERVER_ADMIN);
	json_decref(c);
	c = json_pack("{s:s,s:s,s:[s,s]}", "surface", "adhoc", "actor", "a@b.example", "roles", "owner", "wizard");
	/* unknown role ignored; customer roles never come from ctx (member table only) */
	assert_int_equal(im_roles_from_ctx(c), IM_ROLE_USER);
	json_decref(c);
	c = json_pack("{s:s}", "surface", "http");                               /* anonymous */
	assert_int_equal(im_roles_from_ctx(c), 0);
	assert_false(im_permission_allowed(0, "auth.token"));
	assert_false(im_permission_allowed(IM_ROLE_SERVER_ADMIN, NULL));
	json_decref(c);
	assert_string_equal(im_role_name(IM_ROLE_DOMAIN_ADMIN), "domain_admin");
	assert_null(im_role_name(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_op_is_in_the_matrix),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_role_sources),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
