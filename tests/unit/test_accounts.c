/*
 * test_accounts.c — hosting accounts through the registry: the authorization
 * matrix (every op x every role x surface x own/other customer's domain,
 * expected table written out here, independently of permissions.c), seat
 * limits, suspension sources, locking, roles, bad input (JIDs, domains, IDN,
 * markup), certificates, audit, and concurrent edits of one user.
 */
#include <pthread.h>
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
#include "accounts.h"
#include "fixture.h"

#define OP_CTX "{\"surface\":\"cli\",\"tz\":\"UTC\"}"   /* operator */

/* Two customers: 1 owns a.test (owner oa, domain_admin da, member ma), 2 owns
 * b.test (owner ob, domain_admin db, member mb); staff bill (billing), tech
 * (technician); accounts u1@ on both; expiry and a certificate on both. */
static void build_world(sqlite3 *db)
{
	fx_expect(db, "customers.create", "{\"name\":\"Alpha\",\"owner\":\"oa@a.test\"}", OP_CTX, "ok");
	fx_expect(db, "customers.create", "{\"name\":\"Beta\",\"owner\":\"ob@b.test\"}", OP_CTX, "ok");
	fx_expect(db, "domains.attach", "{\"customer\":1,\"domain\":\"a.test\"}", OP_CTX, "ok");
	fx_expect(db, "domains.attach", "{\"customer\":2,\"domain\":\"b.test\"}", OP_CTX, "ok");
	fx_expect(db, "members.set", "{\"customer\":1,\"jid\":\"da@a.test\",\"role\":\"domain_admin\"}", OP_CTX, "ok");
	fx_expect(db, "members.set", "{\"customer\":1,\"jid\":\"ma@a.test\",\"role\":\"member\"}", OP_CTX, "ok");
	fx_expect(db, "members.set", "{\"customer\":2,\"jid\":\"db@b.test\",\"role\":\"domain_admin\"}", OP_CTX, "ok");
	fx_expect(db, "members.set", "{\"customer\":2,\"jid\":\"mb@b.test\",\"role\":\"member\"}", OP_CTX, "ok");
	fx_expect(db, "staff.set", "{\"jid\":\"bill@staff.test\",\"role\":\"billing\"}", OP_CTX, "ok");
	fx_expect(db, "staff.set", "{\"jid\":\"tech@staff.test\",\"role\":\"technician\"}", OP_CTX, "ok");
	fx_expect(db, "users.record", "{\"user\":\"u1@a.test\",\"event\":\"created\"}", OP_CTX, "ok");
	fx_expect(db, "users.record", "{\"user\":\"u1@b.test\",\"event\":\"created\"}", OP_CTX, "ok");
	fx_expect(db, "domains.set_expiry", "{\"domain\":\"a.test\",\"expires\":\"2027-06-01\"}", OP_CTX, "ok");
	fx_expect(db, "domains.set_expiry", "{\"domain\":\"b.test\",\"expires\":\"2027-06-01\"}", OP_CTX, "ok");
}

static int setup(void **state)
{
	fx *f = fx_new("accounts", FX_OPEN);

	im_clock_set(1780000000);   /* 2026-05-28 */
	build_world(f->db);
	*state = f;
	return 0;
}

/* --- the authorization matrix ------------------------------------------------------- */

/* Who may: global roles (O operator, S server_admin, B billing, T technician,
 * U any authenticated user) | customer roles on their own customer's domain
 * (W owner, D domain_admin, M member).  Params use %c for the target letter
 * ('a' own, 'b' other) and %d for its customer id. */
static const struct { const char *op, *allow, *params; } expected[] = {
	{ "customers.create",   "OSB|",  "{\"name\":\"N\",\"owner\":\"n@%c.test\"}" },
	{ "customers.list",     "OSB|",  "{}" },
	{ "customers.mine",     "OSBTU|", "{}" },
	{ "customers.show",     "OSBT|WD", "{\"customer\":%d}" },
	{ "domains.attach",     "OSB|",  "{\"customer\":%d,\"domain\":\"new.%c.test\"}" },
	{ "domains.detach",     "OSB|",  "{\"domain\":\"%c.test\"}" },
	{ "domains.set_seats",  "OSB|",  "{\"domain\":\"%c.test\",\"seats\":10}" },
	{ "domains.suspend",    "OSB|",  "{\"domain\":\"%c.test\",\"reason\":\"r\"}" },
	{ "domains.unsuspend",  "OSB|",  "{\"domain\":\"%c.test\"}" },
	{ "domains.set_expiry", "OSB|",  "{\"domain\":\"%c.test\",\"expires\":\"2027-01-01\"}" },
	{ "domains.renew",      "OSB|",  "{\"domain\":\"%c.test\",\"expires\":\"2030-01-01\"}" },
	{ "domains.status",     "OSBT|WD", "{\"domain\":\"%c.test\"}" },
	{ "members.set",        "OSB|W", "{\"customer\":%d,\"jid\":\"x@%c.test\",\"role\":\"member\"}" },
	{ "members.remove",     "OSB|W", "{\"customer\":%d,\"jid\":\"m%c@%c.test\"}" },
	{ "staff.set",          "OS|",   "{\"jid\":\"s@%c.test\",\"role\":\"billing\"}" },
	{ "users.list",         "OST|WD", "{\"domain\":\"%c.test\"}" },
	{ "users.create",       "OST|WD", "{\"user\":\"new@%c.test\"}" },
	{ "users.delete",       "OST|WD", "{\"user\":\"u1@%c.test\",\"confirm\":true}" },
	{ "users.lock",         "OST|WD", "{\"user\":\"u1@%c.test\",\"reason\":\"x\"}" },
	{ "users.unlock",       "OST|WD", "{\"user\":\"u1@%c.test\"}" },
	{ "users.reset_password", "OST|WD", "{\"user\":\"u1@%c.test\"}" },
	{ "users.set_role",     "OSB|W", "{\"user\":\"u1@%c.test\",\"role\":\"member\"}" },
	{ "users.sessions",     "OST|WD", "{\"user\":\"u1@%c.test\"}" },
	{ "users.kick",         "OST|WD", "{\"user\":\"u1@%c.test\"}" },
	{ "users.record",       "OS|",   "{\"user\":\"u2@%c.test\",\"event\":\"created\"}" },
	{ "users.reconcile",    "OS|",   "{\"domain\":\"%c.test\",\"users\":\"u1\"}" },
	{ "users.may_login",    "OS|",   "{\"user\":\"u1@%c.test\"}" },
	{ "users.may_create",   "OS|",   "{\"user\":\"new@%c.test\"}" },
	{ "channels.list",      "OST|WDM", "{\"domain\":\"conference.%c.test\"}" },
	{ "channels.create",    "OST|WD", "{\"room\":\"room@conference.%c.test\",\"name\":\"Room\"}" },
	{ "channels.configure", "OST|WD", "{\"room\":\"room@conference.%c.test\",\"moderated\":true}" },
	{ "channels.set_affiliation", "OST|WD",
	  "{\"room\":\"room@conference.%c.test\",\"jid\":\"u1@%c.test\",\"affiliation\":\"member\"}" },
	{ "channels.destroy",   "OST|WD", "{\"room\":\"room@conference.%c.test\",\"reason\":\"bye\"}" },
	{ "channels.cleanup",   "OST|WD", "{\"domain\":\"conference.%c.test\"}" },
	{ "certs.record",       "OS|",
	  "{\"domain\":\"%c.test\",\"not_after\":\"2027-01-01\",\"fingerprint\":\"abcdef0123456789abcdef\"}" },
	{ "reminders.run",      "OS|",   "{}" },
	{ "logs.search",        "OS|",   "{}" },
	{ "logs.trends",        "OS|",   "{\"metric\":\"messages\"}" },
	{ "logs.users",         "OS|",   "{\"domain\":\"%c.test\"}" },
	{ "logs.status",        "OS|",   "{}" },
	{ "logs.export",        "OS|",   "{\"user\":\"u1@%c.test\"}" },
	{ "logs.erase",         "OS|",   "{\"user\":\"u1@%c.test\"}" },
	{ "logs.retention",     "OS|",   "{\"domain\":\"%c.test\",\"days\":30}" },
	{ "auth.token",         "OSBTU|", "{}" },
};
#define NEXP (sizeof expected / sizeof expected[0])

/* The callers: letter, global-or-customer, ctx. */
static const struct { char role; const char *ctx; } callers[] = {
	{ 'O', "{\"surface\":\"cli\"}" },
	{ 'O', "{\"surface\":\"shell\",\"actor\":\"ma@a.test\"}" },   /* shell = operator, whoever */
	{ 'S', "{\"surface\":\"%s\",\"actor\":\"admin@a.test\",\"prosody_admin\":true}" },
	{ 'B', "{\"surface\":\"%s\",\"actor\":\"bill@staff.test\"}" },
	{ 'T', "{\"surface\":\"%s\",\"actor\":\"tech@staff.test\"}" },
	{ 'W', "{\"surface\":\"%s\",\"actor\":\"oa@a.test\"}" },
	{ 'D', "{\"surface\":\"%s\",\"actor\":\"da@a.test\"}" },
	{ 'M', "{\"surface\":\"%s\",\"actor\":\"ma@a.test\"}" },
	/* A customer role claimed in ctx is ignored: only the member table counts. */
	{ 'U', "{\"surface\":\"%s\",\"actor\":\"nobody@a.test\",\"roles\":[\"owner\",\"domain_admin\"]}" },
};

/* Expands %c (target letter) and %d (customer id) in tmpl. */
static void expand(char *out, size_t n, const char *tmpl, char t)
{
	size_t o = 0;

	for (; *tmpl && o + 4 < n; tmpl++) {
		if (tmpl[0] == '%' && tmpl[1] == 'c') {
			out[o++] = t;
			tmpl++;
		} else if (tmpl[0] == '%' && tmpl[1] == 'd') {
			out[o++] = t == 'a' ? '1' : '2';
			tmpl++;
		} else {
			out[o++] = *tmpl;
		}
	}
	out[o] = '\0';
}

/* Should role (letter) be allowed op on target t? */
static int allowed(const char *allow, char role, char t)
{
	const char *bar = strchr(allow, '|');

	if (role == 'O' || role == 'S')
		return strchr(allow, role) != NULL && strchr(allow, role) < bar;
	if (memchr(allow, role, (size_t)(bar - allow)) != NULL)
		return 1;
	if (strchr("WDM", role) != NULL) {
		/* Customer roles: on their own customer only; elsewhere a plain user. */
		if (t == 'a' && strchr(bar + 1, role) != NULL)
			return 1;
		return memchr(allow, 'U', (size_t)(bar - allow)) != NULL;
	}
	return 0;
}

/* The operations this matrix covers: accounts, logs and tokens.  Billing and the
 * desk carry their own scoped matrices (test_billing_ops.c, test_desk_engine.c);
 * test_permissions.c covers every operation of the registry. */
static int in_scope(const char *op)
{
	static const char *const families[] = { "customers.", "domains.", "members.", "staff.",
		"users.", "channels.", "certs.", "reminders.", "logs.", "auth." };
	size_t k;

	for (k = 0; k < sizeof families / sizeof families[0]; k++)
		if (strncmp(op, families[k], strlen(families[k])) == 0)
			return 1;
	return 0;
}

static void test_matrix_covers_every_op(void **state)
{
	size_t i, j, covered = 0;

	(void)state;
	for (i = 0; i < im_registry_count(); i++) {
		if (!in_scope(im_registry_at(i)->name))
			continue;
		covered++;
		for (j = 0; j < NEXP; j++)
			if (strcmp(expected[j].op, im_registry_at(i)->name) == 0)
				break;
		if (j == NEXP)
			fail_msg("operation %s missing from the expected matrix", im_registry_at(i)->name);
	}
	assert_int_equal(covered, NEXP);   /* and nothing stale in the matrix */
}

/* A fresh copy of the fixture's database in memory, so every call starts from
 * the same world (a detach must not change the next case). */
static sqlite3 *fresh_copy(sqlite3 *src)
{
	sqlite3 *db = NULL;
	sqlite3_backup *b;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	b = sqlite3_backup_init(db, "main", src, "main");
	assert_non_null(b);
	assert_int_equal(sqlite3_backup_step(b, -1), SQLITE_DONE);
	assert_int_equal(sqlite3_backup_finish(b), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void test_authorization_matrix(void **state)
{
	static const char *const surfaces[] = { "adhoc", "http" };
	fx *f = *state;
	char params[512], ctx[256];
	size_t i, r, s;
	const char *t;
	int checked = 0, allowed_n = 0;

	for (i = 0; i < NEXP; i++) {
		for (t = "ab"; *t; t++) {
			expand(params, sizeof params, expected[i].params, *t);
			for (r = 0; r < sizeof callers / sizeof callers[0]; r++) {
				for (s = 0; s < 2; s++) {
					int want = allowed(expected[i].allow, callers[r].role, *t);
					const char *code;
					sqlite3 *db;
					json_t *res;

					if (strstr(callers[r].ctx, "%s") == NULL && s == 1)
						continue;   /* cli/shell callers: one surface each */
					/* A token is always someone's: the handler refuses the
					 * actorless cli (permission granted, no actor). */
					if (strcmp(expected[i].op, "auth.token") == 0 && strstr(callers[r].ctx, "actor") == NULL)
						want = 0;
					snprintf(ctx, sizeof ctx, callers[r].ctx, surfaces[s]);
					db = fresh_copy(f->db);
					res = fx_call(db, expected[i].op, params, ctx, &code);
					/* Allowed: the op must run (fresh world, valid params). */
					if (want ? strcmp(code, "ok") != 0 : strcmp(code, "forbidden") != 0) {
						char *txt = json_dumps(res, JSON_COMPACT);
						fail_msg("%s %s as %c on %s (%s): expected %s, got %s: %s", expected[i].op,
						         params, callers[r].role, *t == 'a' ? "own" : "other", ctx,
						         want ? "ok" : "forbidden", code, txt);
					}
					allowed_n += want;
					checked++;
					json_decref(res);
					sqlite3_close(db);
				}
			}
		}
	}
	print_message("authorization matrix: %d cases, %d allowed\n", checked, allowed_n);
	assert_true(allowed_n > 0 && allowed_n < checked);
}

/* Refusals and handler errors of writes are audited with their outcome. */
static void test_audit(void **state)
{
	fx *f = *state;

	fx_expect(f->db, "domains.suspend", "{\"domain\":\"b.test\",\"reason\":\"x\"}",
	       "{\"surface\":\"adhoc\",\"actor\":\"da@a.test\"}", "forbidden");
	fx_expect(f->db, "users.delete", "{\"user\":\"u1@a.test\"}", OP_CTX, "invalid");   /* no confirm */
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE op='domains.suspend' AND "
	                       "actor='da@a.test' AND outcome='forbidden'"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE op='users.delete' AND outcome='invalid'"), 1);
	/* params refused before the handler leave no row: nothing was attempted */
	fx_expect(f->db, "users.delete", "{\"user\":\"not a jid\",\"confirm\":true}", OP_CTX, "invalid");
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE op='users.delete'"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE op='customers.create' AND outcome='ok'"), 2);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE outcome='started'"), 0);
}

/* --- rules ------------------------------------------------------------------------- */

static void test_seat_limit(void **state)
{
	fx *f = *state;
	const char *code;
	json_t *r;

	fx_expect(f->db, "domains.set_seats", "{\"domain\":\"a.test\",\"seats\":2}", OP_CTX, "ok");
	r = fx_call(f->db, "users.create", "{\"user\":\"n1@a.test\"}", OP_CTX, &code);
	assert_string_equal(code, "ok");
	assert_true(json_is_true(json_object_get(r, "live")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "params"), "user")), "n1@a.test");
	assert_int_equal(json_integer_value(json_object_get(r, "seats_left")), 0);
	json_decref(r);
	fx_expect(f->db, "users.record", "{\"user\":\"n1@a.test\",\"event\":\"created\"}", OP_CTX, "ok");
	/* Full: refused with the reason, on the create op and on the IBR check. */
	r = fx_call(f->db, "users.create", "{\"user\":\"n2@a.test\"}", "{\"surface\":\"adhoc\",\"actor\":\"da@a.test\"}", &code);
	assert_string_equal(code, "conflict");
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
	                       "Seat limit reached: 2 of 2"));
	json_decref(r);
	r = fx_call(f->db, "users.may_create", "{\"user\":\"n2@a.test\"}", OP_CTX, &code);
	assert_false(json_is_true(json_object_get(r, "allowed")));
	assert_int_equal(json_integer_value(json_object_get(r, "seats_left")), 0);
	json_decref(r);
	/* The other customer's domain is unaffected. */
	r = fx_call(f->db, "users.may_create", "{\"user\":\"n2@b.test\"}", OP_CTX, &code);
	assert_true(json_is_true(json_object_get(r, "allowed")));
	assert_true(json_is_null(json_object_get(r, "seats_left")));
	json_decref(r);
	/* Accounts made while imhost was not looking (prosodyctl offline) are
	 * recorded by reconcile, which reports the overrun. */
	r = fx_call(f->db, "users.reconcile", "{\"domain\":\"a.test\",\"users\":\"u1, n1\\nx1 x2@a.test\"}", OP_CTX, &code);
	assert_string_equal(code, "ok");
	assert_int_equal(json_array_size(json_object_get(r, "added")), 2);
	assert_int_equal(json_array_size(json_object_get(r, "removed")), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "seats_used")), 4);
	assert_true(json_is_true(json_object_get(r, "over_limit")));
	json_decref(r);
	/* reconcile removes what no longer exists, and its roles with it */
	fx_expect(f->db, "members.set", "{\"customer\":1,\"jid\":\"x1@a.test\",\"role\":\"domain_admin\"}", OP_CTX, "ok");
	r = fx_call(f->db, "users.reconcile", "{\"domain\":\"a.test\",\"users\":\"u1 n1\"}", OP_CTX, &code);
	assert_int_equal(json_array_size(json_object_get(r, "removed")), 2);
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM member WHERE jid='x1@a.test'"), 0);
	fx_expect(f->db, "users.reconcile", "{\"domain\":\"a.test\",\"users\":\"u1@b.test\"}", OP_CTX, "invalid");
	/* Lifting the limit allows creation again. */
	fx_expect(f->db, "domains.set_seats", "{\"domain\":\"a.test\"}", OP_CTX, "ok");
	fx_expect(f->db, "users.create", "{\"user\":\"n2@a.test\"}", OP_CTX, "ok");
	/* An existing account cannot be created twice. */
	fx_expect(f->db, "users.create", "{\"user\":\"u1@a.test\"}", OP_CTX, "conflict");
}

static void test_suspension_sources(void **state)
{
	fx *f = *state;
	const char *code;
	json_t *r;

	r = fx_call(f->db, "users.may_login", "{\"user\":\"u1@a.test\"}", OP_CTX, &code);
	assert_true(json_is_true(json_object_get(r, "allowed")));
	json_decref(r);
	fx_expect(f->db, "domains.suspend", "{\"domain\":\"a.test\",\"reason\":\"Terms violation\"}", OP_CTX, "ok");
	/* Billing lifting its own (overdue) source does not lift a manual one. */
	r = fx_call(f->db, "domains.unsuspend", "{\"domain\":\"a.test\",\"source\":\"overdue\"}",
	         "{\"surface\":\"http\",\"actor\":\"bill@staff.test\"}", &code);
	assert_string_equal(code, "ok");
	assert_true(json_is_true(json_object_get(r, "suspended")));
	assert_false(json_is_true(json_object_get(r, "changed")));
	json_decref(r);
	r = fx_call(f->db, "users.may_login", "{\"user\":\"u1@a.test\"}", OP_CTX, &code);
	assert_false(json_is_true(json_object_get(r, "allowed")));
	assert_string_equal(json_string_value(json_object_get(r, "reason")), "This domain is suspended: Terms violation");
	json_decref(r);
	/* Users of the other domain are unaffected; creation refused here. */
	r = fx_call(f->db, "users.may_login", "{\"user\":\"u1@b.test\"}", OP_CTX, &code);
	assert_true(json_is_true(json_object_get(r, "allowed")));
	json_decref(r);
	fx_expect(f->db, "users.create", "{\"user\":\"n@a.test\"}", OP_CTX, "conflict");
	/* Both sources: lifting manual leaves overdue in force. */
	fx_expect(f->db, "domains.suspend", "{\"domain\":\"a.test\",\"reason\":\"Invoice 7 overdue\",\"source\":\"overdue\"}",
	       OP_CTX, "ok");
	r = fx_call(f->db, "domains.unsuspend", "{\"domain\":\"a.test\"}", OP_CTX, &code);
	assert_true(json_is_true(json_object_get(r, "suspended")));
	assert_string_equal(json_string_value(json_object_get(r, "reason")), "Invoice 7 overdue");
	json_decref(r);
	r = fx_call(f->db, "domains.unsuspend", "{\"domain\":\"a.test\",\"source\":\"overdue\"}", OP_CTX, &code);
	assert_false(json_is_true(json_object_get(r, "suspended")));
	assert_true(json_is_true(json_object_get(r, "changed")));
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM domain WHERE suspended_at IS NOT NULL"), 0);
	fx_expect(f->db, "domains.suspend", "{\"domain\":\"nope.test\",\"reason\":\"x\"}", OP_CTX, "not_found");
	fx_expect(f->db, "domains.suspend", "{\"domain\":\"a.test\",\"reason\":\"<b>x</b>\"}", OP_CTX, "invalid");
}

static void test_lock_and_login(void **state)
{
	fx *f = *state;
	const char *code;
	json_t *r;

	r = fx_call(f->db, "users.lock", "{\"user\":\"u1@a.test\",\"reason\":\"Spam\"}",
	         "{\"surface\":\"adhoc\",\"actor\":\"da@a.test\"}", &code);
	assert_string_equal(code, "ok");
	assert_true(json_is_true(json_object_get(r, "live")));   /* the glue kicks the sessions */
	json_decref(r);
	r = fx_call(f->db, "users.may_login", "{\"user\":\"u1@a.test\"}", OP_CTX, &code);
	assert_false(json_is_true(json_object_get(r, "allowed")));
	assert_string_equal(json_string_value(json_object_get(r, "reason")), "Your account is locked: Spam");
	json_decref(r);
	r = fx_call(f->db, "users.list", "{\"domain\":\"a.test\",\"query\":\"u1\"}", OP_CTX, &code);
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(r, "users"), 0), "locked")));
	json_decref(r);
	fx_expect(f->db, "users.unlock", "{\"user\":\"u1@a.test\"}", OP_CTX, "ok");
	r = fx_call(f->db, "users.may_login", "{\"user\":\"u1@a.test\"}", OP_CTX, &code);
	assert_true(json_is_true(json_object_get(r, "allowed")));
	json_decref(r);
	fx_expect(f->db, "users.lock", "{\"user\":\"ghost@a.test\",\"reason\":\"x\"}", OP_CTX, "not_found");
	/* login facts: last login and client show in the list */
	im_clock_set(1780000500);
	fx_expect(f->db, "users.record", "{\"user\":\"u1@a.test\",\"event\":\"login\",\"client\":\"Conversations\"}",
	       OP_CTX, "ok");
	r = fx_call(f->db, "users.list", "{\"domain\":\"a.test\"}", OP_CTX, &code);
	{
		json_t *u = json_array_get(json_object_get(r, "users"), 0);
		assert_string_equal(json_string_value(json_object_get(u, "jid")), "u1@a.test");
		assert_int_equal(json_integer_value(json_object_get(u, "last_login")), 1780000500);
		assert_string_equal(json_string_value(json_object_get(u, "client")), "Conversations");
	}
	json_decref(r);
}

static void test_users_list_paging(void **state)
{
	fx *f = *state;
	char p[128];
	const char *code, *cursor;
	json_t *r;
	int i, seen = 0;

	for (i = 0; i < 25; i++) {
		snprintf(p, sizeof p, "{\"user\":\"p%02d@a.test\",\"event\":\"created\"}", i);
		fx_expect(f->db, "users.record", p, OP_CTX, "ok");
	}
	snprintf(p, sizeof p, "{\"domain\":\"a.test\",\"limit\":10}");
	for (;;) {
		r = fx_call(f->db, "users.list", p, OP_CTX, &code);
		assert_string_equal(code, "ok");
		seen += (int)json_array_size(json_object_get(r, "users"));
		cursor = json_string_value(json_object_get(r, "next_cursor"));
		if (cursor == NULL) {
			json_decref(r);
			break;
		}
		snprintf(p, sizeof p, "{\"domain\":\"a.test\",\"limit\":10,\"cursor\":\"%s\"}", cursor);
		json_decref(r);
	}
	assert_int_equal(seen, 26);   /* p00..p24 and u1 */
}

static void test_roles_and_scope(void **state)
{
	fx *f = *state;
	const char *da = "{\"surface\":\"adhoc\",\"actor\":\"da@a.test\"}";
	const char *oa = "{\"surface\":\"adhoc\",\"actor\":\"oa@a.test\"}";
	const char *code;
	json_t *r;

	/* customers.mine shows only one's own customers, with the role */
	r = fx_call(f->db, "customers.mine", "{}", da, &code);
	assert_int_equal(json_array_size(json_object_get(r, "customers")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "customers"), 0),
	                                                      "role")), "domain_admin");
	json_decref(r);
	/* the last owner cannot be removed or demoted */
	fx_expect(f->db, "members.remove", "{\"customer\":1,\"jid\":\"oa@a.test\"}", oa, "conflict");
	fx_expect(f->db, "users.set_role", "{\"user\":\"oa@a.test\",\"role\":\"member\"}", oa, "conflict");
	fx_expect(f->db, "members.set", "{\"customer\":1,\"jid\":\"da@a.test\",\"role\":\"owner\"}", oa, "ok");
	fx_expect(f->db, "members.remove", "{\"customer\":1,\"jid\":\"oa@a.test\"}", da, "ok");
	fx_expect(f->db, "members.remove", "{\"customer\":1,\"jid\":\"oa@a.test\"}", da, "not_found");
	/* oa is nobody now */
	fx_expect(f->db, "users.list", "{\"domain\":\"a.test\"}", oa, "forbidden");
	/* a deleted account loses its roles (a re-registered name must not inherit) */
	fx_expect(f->db, "members.set", "{\"customer\":1,\"jid\":\"u1@a.test\",\"role\":\"domain_admin\"}", da, "ok");
	fx_expect(f->db, "users.record", "{\"user\":\"u1@a.test\",\"event\":\"deleted\"}", OP_CTX, "ok");
	fx_expect(f->db, "users.list", "{\"domain\":\"a.test\"}", "{\"surface\":\"http\",\"actor\":\"u1@a.test\"}",
	       "forbidden");
	/* MUC component hosts count as their parent domain; other customers' do not */
	fx_expect(f->db, "channels.list", "{\"domain\":\"conference.a.test\"}", da, "ok");
	fx_expect(f->db, "channels.list", "{\"domain\":\"conference.b.test\"}", da, "forbidden");
	fx_expect(f->db, "channels.create", "{\"room\":\"r@conference.b.test\"}", da, "forbidden");
	/* a detached domain gives its former customer no rights */
	fx_expect(f->db, "domains.detach", "{\"domain\":\"a.test\"}", OP_CTX, "ok");
	fx_expect(f->db, "users.list", "{\"domain\":\"a.test\"}", da, "forbidden");
	fx_expect(f->db, "domains.attach", "{\"customer\":2,\"domain\":\"b.test\"}", OP_CTX, "ok");   /* idempotent */
	fx_expect(f->db, "domains.attach", "{\"customer\":1,\"domain\":\"b.test\"}", OP_CTX, "conflict");
	fx_expect(f->db, "domains.attach", "{\"customer\":9,\"domain\":\"c.test\"}", OP_CTX, "not_found");
	/* status */
	r = fx_call(f->db, "domains.status", "{\"domain\":\"b.test\"}", "{\"surface\":\"http\",\"actor\":\"db@b.test\"}", &code);
	assert_string_equal(code, "ok");
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "owners"), 0)), "ob@b.test");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "seats"), "used")), 1);
	assert_true(json_is_null(json_object_get(r, "suspended")));
	json_decref(r);
	/* renew only moves forward */
	fx_expect(f->db, "domains.renew", "{\"domain\":\"b.test\",\"expires\":\"2027-01-01\"}", OP_CTX, "conflict");
	fx_expect(f->db, "domains.renew", "{\"domain\":\"b.test\",\"expires\":\"2028-06-01\"}", OP_CTX, "ok");
	fx_expect(f->db, "domains.renew", "{\"domain\":\"zz.test\",\"expires\":\"2028-06-01\"}", OP_CTX, "not_found");
	fx_expect(f->db, "staff.set", "{\"jid\":\"tech@staff.test\",\"role\":\"none\"}", OP_CTX, "ok");
	fx_expect(f->db, "users.list", "{\"domain\":\"b.test\"}", "{\"surface\":\"http\",\"actor\":\"tech@staff.test\"}",
	       "forbidden");
}

/* --- bad input ------------------------------------------------------------------------ */

static void test_bad_input(void **state)
{
	static const char *const bad_users[] = {
		"a@", "@a.test", "a b@a.test", "u@a.test/res", "<script>@a.test", "a.test", "u@-a.test",
		"u@a..test", "u@ab--cd.test", "u@m\xc3\xbcnchen.test", "u@a.test.",
	};
	fx *f = *state;
	char p[256];
	const char *code;
	json_t *r;
	size_t i;

	for (i = 0; i < sizeof bad_users / sizeof bad_users[0]; i++) {
		snprintf(p, sizeof p, "{\"user\":\"%s\"}", bad_users[i]);
		fx_expect(f->db, "users.create", p, OP_CTX, "invalid");
	}
	/* IDN: Unicode is refused with a pointer to the A-label; the A-label works. */
	r = fx_call(f->db, "domains.attach", "{\"customer\":1,\"domain\":\"m\xc3\xbcnchen.test\"}", OP_CTX, &code);
	assert_string_equal(code, "invalid");
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "xn--"));
	json_decref(r);
	fx_expect(f->db, "domains.attach", "{\"customer\":1,\"domain\":\"xn--mnchen-3ya.test\"}", OP_CTX, "ok");
	fx_expect(f->db, "users.create", "{\"user\":\"Anna@XN--MNCHEN-3YA.test\"}", OP_CTX, "ok");   /* lowercased */
	fx_expect(f->db, "domains.attach", "{\"customer\":1,\"domain\":\"localhost\"}", OP_CTX, "invalid");
	/* Room names: markup and control characters refused; plain Unicode fine. */
	fx_expect(f->db, "channels.create", "{\"room\":\"r@conference.a.test\",\"name\":\"<img src=x onerror=alert(1)>\"}",
	       OP_CTX, "invalid");
	fx_expect(f->db, "channels.create", "{\"room\":\"r@conference.a.test\",\"description\":\"a\\u0007b\"}",
	       OP_CTX, "invalid");
	fx_expect(f->db, "channels.create", "{\"room\":\"<r>@conference.a.test\"}", OP_CTX, "invalid");
	fx_expect(f->db, "channels.create", "{\"room\":\"conference.a.test\"}", OP_CTX, "invalid");
	fx_expect(f->db, "channels.create", "{\"room\":\"r@conference.a.test\",\"name\":\"Caf\xc3\xa9 & friends\"}",
	       OP_CTX, "ok");
	fx_expect(f->db, "channels.create", "{\"room\":\"r@conference.a.test\",\"max_occupants\":0}", OP_CTX, "invalid");
	fx_expect(f->db, "channels.destroy", "{\"room\":\"r@conference.a.test\",\"redirect\":\"conference.a.test\"}",
	       OP_CTX, "invalid");
	fx_expect(f->db, "customers.create", "{\"name\":\"x\\ny\",\"owner\":\"o@a.test\"}", OP_CTX, "invalid");
	fx_expect(f->db, "customers.create", "{\"name\":\"X\",\"owner\":\"a.test\"}", OP_CTX, "invalid");
	fx_expect(f->db, "members.set", "{\"customer\":1,\"jid\":\"x@a.test\",\"role\":\"god\"}", OP_CTX, "invalid");
	fx_expect(f->db, "users.list", "{\"domain\":\"a.test\",\"cursor\":\"zz\"}", OP_CTX, "invalid");
	fx_expect(f->db, "users.list", "{\"domain\":\"a.test\",\"limit\":100000}", OP_CTX, "invalid");
	/* a stranger gets "forbidden", not a lesson in parameters */
	fx_expect(f->db, "users.list", "{}", "{\"surface\":\"http\",\"actor\":\"nobody@c.test\"}", "forbidden");
	/* a customer admin gets the real error */
	fx_expect(f->db, "users.list", "{}", "{\"surface\":\"http\",\"actor\":\"da@a.test\"}", "invalid");
}

static void test_certificates(void **state)
{
	fx *f = *state;
	const char *code;
	json_t *r, *cert;

	/* An unreadable certificate is recorded and reported, not fatal. */
	fx_expect(f->db, "certs.record", "{\"domain\":\"a.test\",\"error\":\"cannot open /etc/prosody/certs/a.test.crt\"}",
	       OP_CTX, "ok");
	r = fx_call(f->db, "domains.status", "{\"domain\":\"a.test\"}", OP_CTX, &code);
	cert = json_object_get(r, "cert");
	assert_non_null(strstr(json_string_value(json_object_get(cert, "error")), "cannot open"));
	assert_true(json_is_null(json_object_get(cert, "not_after")));
	json_decref(r);
	fx_expect(f->db, "reminders.run", "{}", OP_CTX, "ok");   /* unreadable cert: no crash, no reminder */
	fx_expect(f->db, "certs.record", "{\"domain\":\"a.test\"}", OP_CTX, "invalid");
	fx_expect(f->db, "certs.record", "{\"domain\":\"a.test\",\"not_after\":\"2027-01-01\",\"fingerprint\":\"zz\"}",
	       OP_CTX, "invalid");
	r = fx_call(f->db, "certs.record", "{\"domain\":\"a.test\",\"not_after\":\"2027-01-01\","
	         "\"fingerprint\":\"AB:CD:EF:01:23:45:67:89\",\"lifetime\":7776000}", OP_CTX, &code);
	assert_string_equal(code, "ok");
	assert_true(json_is_true(json_object_get(r, "changed")));
	json_decref(r);
	r = fx_call(f->db, "certs.record", "{\"domain\":\"a.test\",\"not_after\":\"2027-01-01\","
	         "\"fingerprint\":\"ab:cd:ef:01:23:45:67:89\",\"lifetime\":7776000}", OP_CTX, &code);
	assert_false(json_is_true(json_object_get(r, "changed")));   /* case-insensitive */
	json_decref(r);
	r = fx_call(f->db, "domains.status", "{\"domain\":\"a.test\"}", OP_CTX, &code);
	cert = json_object_get(r, "cert");
	assert_true(json_is_null(json_object_get(cert, "error")));
	assert_int_equal(json_integer_value(json_object_get(cert, "lifetime")), 7776000);
	json_decref(r);
}

/* --- concurrent edits of one user -------------------------------------------------------- */

#define ROUNDS 60

typedef struct { const char *path; int which; int failures; } worker_arg;

static void *worker(void *p)
{
	worker_arg *a = p;
	sqlite3 *db = NULL;
	int i;

	if (im_store_open(a->path, &db, NULL) != IM_OK) {
		a->failures = ROUNDS;
		return NULL;
	}
	for (i = 0; i < ROUNDS; i++) {
		im_env env = { db, NULL, IM_ERASE_DELETE };
		int ok;
		char *s;

		if (a->which == 0)
			s = im_registry_call(&env, i % 2 ? "users.unlock" : "users.lock",
			                     i % 2 ? "{\"user\":\"u1@a.test\"}" : "{\"user\":\"u1@a.test\",\"reason\":\"r\"}",
			                     OP_CTX, &ok);
		else
			s = im_registry_call(&env, "users.record",
			                     "{\"user\":\"u1@a.test\",\"event\":\"login\",\"client\":\"c\"}", OP_CTX, &ok);
		if (!ok)
			a->failures++;
		free(s);
	}
	sqlite3_close(db);
	return NULL;
}

static void test_concurrent_edits(void **state)
{
	fx *f = *state;
	pthread_t t[2];
	worker_arg a[2] = { { f->path, 0, 0 }, { f->path, 1, 0 } };
	int64_t before = fx_q_int(f->db, "SELECT version FROM account WHERE jid='u1@a.test'");
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(a[0].failures, 0);
	assert_int_equal(a[1].failures, 0);
	/* Every change counted once: no lost update. */
	assert_int_equal(fx_q_int(f->db, "SELECT version FROM account WHERE jid='u1@a.test'"), before + 2 * ROUNDS);
	/* ended on unlock (ROUNDS even) with the login facts intact */
	assert_int_equal(fx_q_int(f->db, "SELECT locked_reason IS NULL AND client='c' FROM account WHERE jid='u1@a.test'"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE op IN ('users.lock','users.unlock') "
	                       "AND outcome='ok'"), ROUNDS);
}

static void test_registry_json_marks_live_and_scope(void **state)
{
	char *s = im_registry_json();
	json_t *root, *op;
	size_t i;
	int live = 0;

	(void)state;
	assert_non_null(s);
	root = json_loads(s, 0, NULL);
	free(s);
	json_array_foreach(json_object_get(root, "operations"), i, op) {
		const char *name = json_string_value(json_object_get(op, "name"));
		assert_true(json_is_boolean(json_object_get(op, "live")));
		live += json_is_true(json_object_get(op, "live"));
		if (strcmp(name, "users.create") == 0)
			assert_string_equal(json_string_value(json_object_get(op, "scope")), "user");
		if (strcmp(name, "logs.search") == 0)
			assert_true(json_is_null(json_object_get(op, "scope")));
	}
	assert_int_equal(live, 13);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix_covers_every_op),
		cmocka_unit_test_setup_teardown(test_authorization_matrix, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seat_limit, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_suspension_sources, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lock_and_login, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_users_list_paging, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_roles_and_scope, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_certificates, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_edits, setup, fx_teardown),
		cmocka_unit_test(test_registry_json_marks_live_and_scope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
