/*
 * test_trends.c — logs.trends from the rollup tables (no log_message rows at all,
 * so a trend that read the raw log would come out empty).
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

#define D0 1795651200   /* 2026-11-26T00:00:00Z, a Thursday */
#define MON 1795392000  /* 2026-11-23T00:00:00Z, the Monday of that week */

static int setup(void **state)
{
	fx *f = fx_new("trends", FX_OPEN);
	char sql[2048];

	snprintf(sql, sizeof sql,
	         "INSERT INTO rollup_hour(domain, hour, messages, bytes, peak_sessions) VALUES"
	         "('a.example', %d, 10, 1000, 3), ('a.example', %d, 5, 500, 7),"
	         "('b.example', %d, 1, 100, 2), ('a.example', %d, 4, 400, 1);"
	         "INSERT INTO rollup_user_day(domain, day, user, messages, logins) VALUES"
	         "('a.example', %d, 'alice@a.example', 12, 1), ('a.example', %d, 'bob@a.example', 3, 1),"
	         "('b.example', %d, 'carol@b.example', 1, 0), ('a.example', %d, 'alice@a.example', 4, 0);"
	         "INSERT INTO rollup_room_day(domain, day, room) VALUES ('a.example', %d, 'r1@conf.a.example');"
	         "UPDATE rollup_room_day SET messages = 9;"
	         "INSERT INTO rollup_room_day(domain, day, room, messages) VALUES ('a.example', %d, 'r2@conf.a.example', 2);",
	         D0 + 3600, D0 + 7200, D0 + 3600, D0 + 86400 + 3600,
	         D0, D0, D0, D0 + 86400, D0, D0 + 86400);
	fx_exec(f->db, sql);
	*state = f;
	return 0;
}

static json_t *trend(fx *f, const char *domain, const char *metric, const char *g,
                     int64_t since, int64_t until, int limit, int expect)
{
	im_trends_q q = { domain, metric, g, since, until, limit };
	json_t *out = NULL;
	char *err = NULL;
	int rc = im_trends(f->db, &q, &out, &err);

	if (rc != expect)
		fail_msg("%s/%s: rc %d (%s)", metric, g, rc, err ? err : "");
	free(err);
	return out;
}

static int64_t point(json_t *r, size_t i, const char *what)
{
	return json_integer_value(json_object_get(json_array_get(json_object_get(r, "series"), i), what));
}

static void test_messages(void **state)
{
	fx *f = *state;
	json_t *r;

	/* per day, one domain, zeros filled, until exclusive */
	r = trend(f, "a.example", "messages", "day", D0 - 86400, D0 + 3 * 86400, 0, IM_OK);
	assert_int_equal(json_array_size(json_object_get(r, "series")), 4);
	assert_int_equal(point(r, 0, "bucket"), D0 - 86400);
	assert_int_equal(point(r, 0, "value"), 0);
	assert_int_equal(point(r, 1, "value"), 15);
	assert_int_equal(point(r, 2, "value"), 4);
	assert_int_equal(point(r, 3, "value"), 0);
	json_decref(r);
	/* server-wide */
	r = trend(f, NULL, "messages", "day", D0, D0 + 86400, 0, IM_OK);
	assert_int_equal(point(r, 0, "value"), 16);
	json_decref(r);
	/* hourly, since in the middle of an hour: the bucket it falls in */
	r = trend(f, "a.example", "messages", "hour", D0 + 3600 + 1800, D0 + 3 * 3600, 0, IM_OK);
	assert_int_equal(json_array_size(json_object_get(r, "series")), 2);
	assert_int_equal(point(r, 0, "bucket"), D0 + 3600);
	assert_int_equal(point(r, 0, "value"), 10);
	assert_int_equal(point(r, 1, "value"), 5);
	json_decref(r);
	/* weeks start on Monday 00:00 UTC */
	r = trend(f, NULL, "messages", "week", D0, D0 + 2 * 86400, 0, IM_OK);
	assert_int_equal(point(r, 0, "bucket"), MON);
	assert_int_equal(point(r, 0, "value"), 20);
	json_decref(r);
	assert_int_equal(im_bucket_start(MON - 1, "week"), MON - 7 * 86400);
}

static void test_users_sessions_tops(void **state)
{
	fx *f = *state;
	json_t *r, *top;

	r = trend(f, NULL, "active_users", "day", D0, D0 + 2 * 86400, 0, IM_OK);
	assert_int_equal(point(r, 0, "value"), 3);
	assert_int_equal(point(r, 1, "value"), 1);
	json_decref(r);
	r = trend(f, NULL, "active_users", "week", D0, D0 + 2 * 86400, 0, IM_OK);
	assert_int_equal(point(r, 0, "value"), 3);           /* alice counted once */
	json_decref(r);
	assert_null(trend(f, NULL, "active_users", "hour", D0, D0 + 86400, 0, IM_EINVAL));
	r = trend(f, NULL, "peak_sessions", "day", D0, D0 + 86400, 0, IM_OK);
	assert_int_equal(point(r, 0, "value"), 7);           /* max(3+2, 7) */
	json_decref(r);
	r = trend(f, "a.example", "top_users", "day", D0, D0 + 2 * 86400, 1, IM_OK);
	top = json_object_get(r, "top");
	assert_int_equal(json_array_size(top), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "name")), "alice@a.example");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "value")), 16);
	json_decref(r);
	r = trend(f, NULL, "top_rooms", "day", D0, D0 + 2 * 86400, 10, IM_OK);
	top = json_object_get(r, "top");
	assert_int_equal(json_array_size(top), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "name")), "r1@conf.a.example");
	json_decref(r);
	assert_null(trend(f, NULL, "messages", "hour", 0, 20000LL * 3600, 0, IM_EINVAL));   /* too many buckets */
	assert_null(trend(f, NULL, "messages", "day", D0, D0, 0, IM_EINVAL));
}

static void test_through_the_registry(void **state)
{
	fx *f = *state;
	im_env env = { f->db, NULL, IM_ERASE_DELETE };
	char *s;
	int ok;

	im_clock_set(D0 + 2 * 86400);
	s = im_registry_call(&env, "logs.trends", "{\"metric\":\"messages\",\"since\":\"-3d\"}",
	                     "{\"surface\":\"cli\",\"tz\":\"Europe/Berlin\"}", &ok);
	assert_true(ok);
	assert_non_null(strstr(s, "\"value\":16"));   /* server-wide, 2026-11-26 */
	free(s);
	s = im_registry_call(&env, "logs.trends", "{\"metric\":\"active_users\",\"granularity\":\"hour\"}",
	                     "{\"surface\":\"cli\"}", &ok);
	assert_false(ok);
	assert_non_null(strstr(s, "\"param\":\"granularity\""));
	free(s);
	s = im_registry_call(&env, "logs.trends", "{\"metric\":\"bogus\"}", "{\"surface\":\"cli\"}", &ok);
	assert_false(ok);
	assert_non_null(strstr(s, "\"param\":\"metric\""));
	free(s);
	im_clock_real();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_messages, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_users_sessions_tops, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_through_the_registry, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
