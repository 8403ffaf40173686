/*
 * test_registry.c — the registry's JSON, the call path (lookup, ctx, params,
 * audit), tokens (with SHA-256 vectors), the small ops and text rendering.
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

static const char *ADMIN = "{\"actor\":\"admin@a.example\",\"roles\":[\"server_admin\"],\"surface\":\"http\",\"tz\":\"UTC\"}";
static const char *BOB = "{\"actor\":\"bob@a.example\",\"roles\":[\"member\"],\"surface\":\"adhoc\",\"tz\":\"UTC\"}";

static int setup(void **state)
{
	*state = fx_new("registry", FX_OPEN);
	return 0;
}

static void test_registry_json_shape(void **state)
{
	char *s = im_registry_json();
	json_t *r = json_loads(s, 0, NULL), *ops, *op, *p;
	size_t i, j;
	int saw_search = 0;

	(void)state;
	assert_non_null(r);
	ops = json_object_get(r, "operations");
	assert_true(json_is_array(ops));
	assert_int_equal(json_array_size(ops), im_registry_count());
	json_array_foreach(ops, i, op) {
		assert_true(json_is_string(json_object_get(op, "name")));
		assert_true(json_is_string(json_object_get(op, "summary")));
		assert_true(json_is_string(json_object_get(op, "permission")));
		assert_true(json_is_boolean(json_object_get(op, "write")));
		assert_true(json_is_boolean(json_object_get(op, "async")));
		assert_true(json_is_array(json_object_get(op, "params")));
		json_array_foreach(json_object_get(op, "params"), j, p) {
			assert_true(json_is_string(json_object_get(p, "name")));
			assert_true(json_is_string(json_object_get(p, "type")));
			assert_true(json_is_boolean(json_object_get(p, "required")));
			assert_true(json_is_string(json_object_get(p, "description")));
		}
		if (strcmp(json_string_value(json_object_get(op, "name")), "logs.search") == 0) {
			saw_search = 1;
			assert_string_equal(json_string_value(json_object_get(op, "permission")), "logs.read");
			assert_true(json_is_false(json_object_get(op, "write")));
			assert_true(json_is_true(json_object_get(op, "async")));
			json_array_foreach(json_object_get(op, "params"), j, p) {
				const char *n = json_string_value(json_object_get(p, "name"));
				if (strcmp(n, "limit") == 0) {
					assert_string_equal(json_string_value(json_object_get(p, "type")), "int");
					assert_int_equal(json_integer_value(json_object_get(p, "min")), 1);
					assert_int_equal(json_integer_value(json_object_get(p, "max")), 500);
					assert_string_equal(json_string_value(json_object_get(p, "default")), "50");
				}
				if (strcmp(n, "keyword") == 0)
					assert_int_equal(json_integer_value(json_object_get(p, "max")), 200);
				if (strcmp(n, "kind") == 0)
					assert_int_equal(json_array_size(json_object_get(p, "values")), 4);
			}
		}
	}
	assert_true(saw_search);
	assert_non_null(im_registry_find("logs.erase"));
	assert_true(im_registry_find("logs.erase")->write);
	assert_null(im_registry_find("logs.nope"));
	json_decref(r);
	free(s);
}

/* One declaration, as the glue fetches it: the same object as in the listing,
 * for every operation; an unknown name is "not found", not an error. */
static void test_registry_op_json_matches_listing(void **state)
{
	char *all = im_registry_json(), *one;
	json_t *r = json_loads(all, 0, NULL), *op;
	size_t i;
	int found = -1;

	(void)state;
	assert_non_null(r);
	json_array_foreach(json_object_get(r, "operations"), i, op) {
		json_t *got;

		one = im_registry_op_json(json_string_value(json_object_get(op, "name")), &found);
		assert_non_null(one);
		assert_int_equal(found, 1);
		got = json_loads(one, 0, NULL);
		assert_true(json_equal(got, op));
		json_decref(got);
		free(one);
	}
	assert_null(im_registry_op_json("logs.nosuch", &found));
	assert_int_equal(found, 0);
	assert_null(im_registry_op_json("", &found));
	assert_int_equal(found, 0);
	json_decref(r);
	free(all);
}

static void test_call_errors(void **state)
{
	fx *f = *state;
	json_t *r;
	const char *code;

	r = fx_call(f->db, "logs.nope", "{}", ADMIN, &code);
	assert_string_not_equal(code, "ok");
	assert_string_equal(fx_errcode(r), "not_found");
	json_decref(r);
	r = fx_call(f->db, "logs.search", "{not json", ADMIN, &code);
	assert_string_equal(fx_errcode(r), "invalid");
	json_decref(r);
	r = fx_call(f->db, "logs.search", "{}", "[]", &code);
	assert_string_equal(fx_errcode(r), "invalid");
	json_decref(r);
	r = fx_call(f->db, "logs.search", "{}", "{\"surface\":\"cli\",\"tz\":\"Mars/Base\"}", &code);
	assert_string_equal(fx_errcode(r), "invalid");
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "param")), "tz");
	json_decref(r);
	r = fx_call(f->db, "logs.search", "{}", "{\"surface\":\"telnet\"}", &code);
	assert_string_equal(fx_errcode(r), "invalid");
	json_decref(r);
	r = fx_call(f->db, "logs.search", "{\"limit\":\"9999\"}", ADMIN, &code);
	assert_string_equal(fx_errcode(r), "invalid");
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "param")), "limit");
	json_decref(r);
	r = fx_call(f->db, "logs.search", "{}", ADMIN, &code);
	assert_string_equal(code, "ok");
	assert_true(json_is_array(json_object_get(r, "items")));
	assert_true(json_is_null(json_object_get(r, "next_cursor")));
	json_decref(r);
	/* forbidden comes before parameter errors: no probing of a refused op */
	r = fx_call(f->db, "logs.search", "{\"limit\":\"x\"}", BOB, &code);
	assert_string_equal(fx_errcode(r), "forbidden");
	json_decref(r);
}

static void test_audit_for_writes(void **state)
{
	fx *f = *state;
	json_t *r;
	const char *code;

	im_clock_set(1795000000);
	r = fx_call(f->db, "logs.search", "{}", ADMIN, &code);
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit"), 0);
	r = fx_call(f->db, "logs.erase", "{\"user\":\"carol@a.example\"}", ADMIN, &code);
	assert_string_equal(code, "ok");
	assert_int_equal(json_integer_value(json_object_get(r, "erased")), 0);
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE op = 'logs.erase' AND outcome = 'ok' "
	                        "AND actor = 'admin@a.example' AND surface = 'http' AND ts = 1795000000 "
	                        "AND params LIKE '%carol@a.example%'"), 1);
	r = fx_call(f->db, "logs.erase", "{\"user\":\"carol@a.example\"}", BOB, &code);
	assert_string_not_equal(code, "ok");
	assert_string_equal(fx_errcode(r), "forbidden");
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE outcome = 'forbidden' "
	                        "AND actor = 'bob@a.example'"), 1);
	r = fx_call(f->db, "logs.retention", "{\"domain\":\"a.example\",\"days\":30}", "{\"surface\":\"cli\"}", &code);
	assert_string_equal(code, "ok");
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE op = 'logs.retention' AND actor = 'cli'"), 1);
}

static void test_sha256_vectors(void **state)
{
	char hex[65], *million;

	(void)state;
	im_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	im_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	im_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	million = malloc(1000000);
	assert_non_null(million);
	memset(million, 'a', 1000000);
	im_sha256_hex(million, 1000000, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

static void test_tokens(void **state)
{
	fx *f = *state;
	json_t *r;
	char token[65], *actor, hash[65], sql[160];
	const char *code;

	im_clock_set(1795000000);
	r = fx_call(f->db, "auth.token", "{\"ttl\":\"3600\"}", BOB, &code);
	assert_string_equal(code, "ok");
	assert_int_equal(json_integer_value(json_object_get(r, "expires")), 1795003600);
	snprintf(token, sizeof token, "%s", json_string_value(json_object_get(r, "token")));
	json_decref(r);
	assert_int_equal(strlen(token), 64);
	/* only the hash is stored */
	im_sha256_hex(token, 64, hash);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM api_token WHERE hash = '%s' AND actor = 'bob@a.example'", hash);
	assert_int_equal(fx_q_int(f->db, sql), 1);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM api_token WHERE hash = '%s'", token);
	assert_int_equal(fx_q_int(f->db, sql), 0);

	actor = im_verify_token(f->db, token);
	assert_non_null(actor);
	assert_string_equal(actor, "bob@a.example");
	free(actor);
	{
		char first = token[0];
		token[0] = first == 'a' ? 'b' : 'a';       /* a wrong token */
		assert_null(im_verify_token(f->db, token));
		token[0] = first;
	}
	assert_null(im_verify_token(f->db, "not-a-token"));
	assert_null(im_verify_token(f->db, NULL));
	im_clock_set(1795003599);
	actor = im_verify_token(f->db, token);
	assert_non_null(actor);
	free(actor);
	im_clock_set(1795003600);                          /* expired at `expires` */
	assert_null(im_verify_token(f->db, token));

	r = fx_call(f->db, "auth.token", "{\"ttl\":59}", BOB, &code);
	assert_string_equal(fx_errcode(r), "invalid");
	json_decref(r);
	r = fx_call(f->db, "auth.token", "{}", "{\"surface\":\"http\",\"roles\":[\"member\"]}", &code);
	assert_string_equal(fx_errcode(r), "forbidden");   /* nobody to issue it to */
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM audit WHERE op = 'auth.token' AND outcome = 'ok'"), 1);
}

static void test_users_status_export(void **state)
{
	fx *f = *state;
	json_t *r;
	const char *code;

	assert_int_equal(sqlite3_exec(f->db, "INSERT INTO known_user VALUES('a.example','bob@a.example',1,2),"
	                              "('a.example','alice@a.example',1,2),('b.example','x@b.example',1,2)",
	                              NULL, NULL, NULL), SQLITE_OK);
	r = fx_call(f->db, "logs.users", "{\"domain\":\"a.example\"}", ADMIN, &code);
	assert_string_equal(code, "ok");
	assert_int_equal(json_array_size(json_object_get(r, "users")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "users"), 0)), "alice@a.example");
	json_decref(r);
	r = fx_call(f->db, "logs.status", NULL, ADMIN, &code);
	assert_string_equal(code, "ok");
	assert_int_equal(json_integer_value(json_object_get(r, "schema_version")), im_migration_count());
	assert_true(json_integer_value(json_object_get(r, "db_bytes")) > 0);
	assert_true(json_is_null(json_object_get(r, "writer")));
	json_decref(r);
	r = fx_call(f->db, "logs.export", "{\"user\":\"bob@a.example\"}", ADMIN, &code);
	assert_string_equal(code, "ok");
	assert_true(json_is_array(json_object_get(r, "messages")));
	json_decref(r);
}

static void test_format_text(void **state)
{
	char *s;

	(void)state;
	s = im_format_text("logs.search", "{\"items\":[{\"id\":1,\"ts\":1795773720,\"from\":\"alice@x\","
	                   "\"to\":\"bob@x\",\"room\":null,\"body\":\"hi\\nthere\",\"encrypted\":null,\"size\":9,"
	                   "\"truncated\":false},{\"id\":2,\"ts\":1795773780,\"from\":\"bob@x\",\"to\":null,"
	                   "\"room\":\"r@conf.x\",\"body\":null,\"encrypted\":\"omemo\",\"size\":300,\"truncated\":false}],"
	                   "\"next_cursor\":\"1-2\"}");
	assert_string_equal(s, "2 entries (times in UTC)\n"
	                       "2026-11-27 10:02 alice@x \xe2\x86\x92 bob@x: hi there\n"
	                       "2026-11-27 10:03 bob@x \xe2\x86\x92 r@conf.x: [omemo encrypted]\n"
	                       "more: cursor=1-2\n");
	free(s);
	s = im_format_text("logs.trends", "{\"metric\":\"messages\",\"granularity\":\"day\",\"series\":"
	                   "[{\"bucket\":1795737600,\"value\":12},{\"bucket\":1795824000,\"value\":0}]}");
	assert_string_equal(s, "messages per day (UTC)\n2026-11-27 12\n2026-11-28 0\n");
	free(s);
	s = im_format_text("logs.search", "{\"error\":{\"code\":\"invalid\",\"message\":\"since must be a time\"}}");
	assert_string_equal(s, "error (invalid): since must be a time\n");
	free(s);
	s = im_format_text("logs.erase", "{\"erased\":3,\"mode\":\"delete\"}");
	assert_string_equal(s, "erased 3 entries (delete)\n");
	free(s);
	s = im_format_text("logs.search", "not json");
	assert_string_equal(s, "(unreadable result)\n");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_json_shape),
		cmocka_unit_test(test_registry_op_json_matches_listing),
		cmocka_unit_test_setup_teardown(test_call_errors, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_audit_for_writes, setup, fx_teardown),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test_setup_teardown(test_tokens, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_users_status_export, setup, fx_teardown),
		cmocka_unit_test(test_format_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
