/*
 * test_params.c — parameter coercion and validation (params.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "imhost.h"

static const char *const colors[] = { "red", "green", NULL };

static const im_param decl[] = {
	{ "name", IM_PT_STRING, 0, 0, 10, NULL, NULL, "short text" },
	{ "n", IM_PT_INT, 0, 1, 500, NULL, "50", "a count" },
	{ "flag", IM_PT_BOOL, 0, 0, 0, NULL, NULL, "" },
	{ "color", IM_PT_ENUM, 0, 0, 0, colors, NULL, "" },
	{ "user", IM_PT_JID, 0, 0, 0, NULL, NULL, "" },
	{ "domain", IM_PT_DOMAIN, 0, 0, 0, NULL, NULL, "" },
	{ "since", IM_PT_TIME, 0, 0, 0, NULL, NULL, "" },
	{ "cursor", IM_PT_CURSOR, 0, 0, 0, NULL, NULL, "" },
	{ "must", IM_PT_STRING, 1, 0, 0, NULL, NULL, "required" },
};
#define NDECL (sizeof decl / sizeof decl[0])

/* Checks `input` (JSON text; "must" is added) and returns the coerced object or
 * NULL; *param gets the failing param name (static buffer). */
static json_t *check(const char *input, const char *tz, const char **param)
{
	static char failed[64];
	json_t *in = json_loads(input, JSON_ALLOW_NUL, NULL), *out = NULL, *err = NULL;
	int rc;

	assert_non_null(in);
	json_object_set_new(in, "must", json_string("x"));
	rc = im_params_check(decl, NDECL, in, tz, &out, &err);
	json_decref(in);
	failed[0] = '\0';
	if (rc != IM_OK) {
		const char *p;
		assert_null(out);
		assert_non_null(err);
		assert_string_equal(json_string_value(json_object_get(json_object_get(err, "error"), "code")), "invalid");
		p = json_string_value(json_object_get(json_object_get(err, "error"), "param"));
		snprintf(failed, sizeof failed, "%s", p ? p : "");
		json_decref(err);
		if (param)
			*param = failed;
		return NULL;
	}
	assert_null(err);
	return out;
}

static void expect_invalid(const char *input, const char *param)
{
	const char *p = NULL;
	json_t *o = check(input, NULL, &p);

	if (o != NULL) {
		json_decref(o);
		fail_msg("accepted: %s", input);
	}
	assert_string_equal(p, param);
}

static void test_coercion(void **state)
{
	json_t *o;

	(void)state;
	o = check("{\"n\":\"42\",\"flag\":\"yes\",\"color\":\"green\",\"user\":\"Alice@Example.COM\","
	          "\"domain\":\"Example.com\",\"since\":\"2026-11-27\",\"name\":\"hi\"}", NULL, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "n")), 42);
	assert_true(json_is_true(json_object_get(o, "flag")));
	assert_string_equal(json_string_value(json_object_get(o, "color")), "green");
	assert_string_equal(json_string_value(json_object_get(o, "user")), "alice@example.com");
	assert_string_equal(json_string_value(json_object_get(o, "domain")), "example.com");
	assert_int_equal(json_integer_value(json_object_get(o, "since")), 1795737600);
	json_decref(o);

	/* typed JSON works as well; defaults fill in; "" means absent */
	o = check("{\"flag\":false,\"since\":1700000000,\"name\":\"\"}", NULL, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "n")), 50);
	assert_true(json_is_false(json_object_get(o, "flag")));
	assert_int_equal(json_integer_value(json_object_get(o, "since")), 1700000000);
	assert_null(json_object_get(o, "name"));
	json_decref(o);
}

static void test_errors_name_the_param(void **state)
{
	(void)state;
	expect_invalid("{\"n\":0}", "n");
	expect_invalid("{\"n\":501}", "n");
	expect_invalid("{\"n\":\"12abc\"}", "n");
	expect_invalid("{\"n\":\"99999999999999999999999\"}", "n");
	expect_invalid("{\"n\":1.5}", "n");
	expect_invalid("{\"flag\":\"maybe\"}", "flag");
	expect_invalid("{\"color\":\"blue\"}", "color");
	expect_invalid("{\"color\":\"RED\"}", "color");
	expect_invalid("{\"name\":\"12345678901\"}", "name");
	expect_invalid("{\"name\":\"a\\u0000b\"}", "name");
	expect_invalid("{\"user\":\"alice@example.com/phone\"}", "user");
	expect_invalid("{\"user\":\"@example.com\"}", "user");
	expect_invalid("{\"user\":\"al ice@example.com\"}", "user");
	expect_invalid("{\"user\":\"alice@exa mple.com\"}", "user");
	expect_invalid("{\"user\":\"alice@example..com\"}", "user");
	expect_invalid("{\"user\":\"a<b@example.com\"}", "user");
	expect_invalid("{\"domain\":\"alice@example.com\"}", "domain");
	expect_invalid("{\"domain\":\".example.com\"}", "domain");
	expect_invalid("{\"since\":\"2026-02-30\"}", "since");
	expect_invalid("{\"since\":\"2026-13-01\"}", "since");
	expect_invalid("{\"since\":\"2026-1-1\"}", "since");
	expect_invalid("{\"since\":\"2026-11-27T25:00\"}", "since");
	expect_invalid("{\"since\":\"2026-11-27T10:00:00+01:00\"}", "since");
	expect_invalid("{\"since\":\"yesterday\"}", "since");
	expect_invalid("{\"since\":\"-7x\"}", "since");
	expect_invalid("{\"since\":\"--7d\"}", "since");
	expect_invalid("{\"since\":-5}", "since");
	expect_invalid("{\"since\":true}", "since");
	expect_invalid("{\"cursor\":\"DROP TABLE\"}", "cursor");
	expect_invalid("{\"nope\":1}", "nope");
	expect_invalid("{\"n\":[1]}", "n");
	{
		char big[3200];
		memset(big, 'a', sizeof big);
		memcpy(big, "{\"user\":\"", 9);
		memcpy(big + sizeof big - 20, "@example.com\"}", 15);
		expect_invalid(big, "user");
	}
}

static void test_required_and_not_object(void **state)
{
	json_t *out = NULL, *err = NULL, *in = json_pack("{s:i}", "n", 3);

	(void)state;
	assert_int_equal(im_params_check(decl, NDECL, in, NULL, &out, &err), IM_EINVAL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(err, "error"), "param")), "must");
	json_decref(err);
	json_decref(in);
	in = json_array();
	assert_int_equal(im_params_check(decl, NDECL, in, NULL, &out, &err), IM_EINVAL);
	json_decref(err);
	json_decref(in);
}

static void test_time_forms(void **state)
{
	int64_t t;

	(void)state;
	im_clock_set(1795780800);   /* 2026-11-27T12:00:00Z */
	assert_int_equal(im_time_parse("-7d", NULL, im_now(), &t), IM_OK);
	assert_int_equal(t, 1795780800 - 7 * 86400);
	assert_int_equal(im_time_parse("-12h", "Europe/Berlin", im_now(), &t), IM_OK);
	assert_int_equal(t, 1795780800 - 12 * 3600);
	assert_int_equal(im_time_parse("now", NULL, im_now(), &t), IM_OK);
	assert_int_equal(t, 1795780800);
	assert_int_equal(im_time_parse("2026-11-27T10:02", NULL, 0, &t), IM_OK);
	assert_int_equal(t, 1795773720);
	assert_int_equal(im_time_parse("2026-11-27 10:02:30", NULL, 0, &t), IM_OK);
	assert_int_equal(t, 1795773750);
	/* Z wins over the zone */
	assert_int_equal(im_time_parse("2026-11-27T10:02Z", "Europe/Berlin", 0, &t), IM_OK);
	assert_int_equal(t, 1795773720);
	assert_int_equal(im_time_parse("2026-11-27T10:02", "Europe/Berlin", 0, &t), IM_OK);
	assert_int_equal(t, 1795773720 - 3600);
	assert_int_equal(im_time_parse("2024-02-29", NULL, 0, &t), IM_OK);
	assert_int_equal(im_time_parse("2023-02-29", NULL, 0, &t), IM_EINVAL);
	im_clock_real();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coercion),
		cmocka_unit_test(test_errors_name_the_param),
		cmocka_unit_test(test_required_and_not_object),
		cmocka_unit_test(test_time_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
