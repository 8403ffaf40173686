/*
 * test_desk_sla.c — SLA due times on the business calendar (Europe/Berlin,
 * Mon-Fri 09:00-17:00): across a weekend, across the spring DST change,
 * paused while waiting on the customer, recomputed on a priority change.
 * Expected instants are written out as epochs (computed independently with
 * Python's zoneinfo); a UTC-only calendar would be an hour off around DST.
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
#include "desk.h"

#define H 3600LL
#define FRI_0306_1600 1772809200LL   /* Fri 2026-03-06 16:00 CET */
#define MON_0309_0900 1773043200LL
#define MON_0309_1000 1773046800LL
#define MON_0309_1100 1773050400LL
#define MON_0309_1700 1773072000LL
#define TUE_0310_1600 1773154800LL
#define WED_0311_0900 1773216000LL
#define TUE_0317_1600 1773759600LL
#define FRI_0327_1600 1774623600LL   /* CET; Sunday 03-29 switches to CEST */
#define MON_0330_1000 1774857600LL   /* CEST */
#define TUE_0331_1600 1774965600LL

static int setup(void **state)
{
	fx *f = fx_new("desk-sla", FX_OPEN);

	fx_exec(f->db, "INSERT INTO staff(jid, role) VALUES('tech@support.example','technician')");
	*state = f;
	return 0;
}

static json_t *call_as(sqlite3 *db, const char *actor, int64_t now, const char *op, const char *params, int want_ok)
{
	char ctx[256];
	const char *code;
	json_t *r;

	im_clock_set(now);
	r = fx_call(db, op, params, fx_ctx(ctx, sizeof ctx, actor, "Europe/Berlin"), &code);
	if ((strcmp(code, "ok") == 0) != want_ok)
		fail_msg("%s %s -> %s", op, params, code);
	return r;
}
/* Opens a ticket as alice at now with priority; returns its number. */
static int64_t open_at(sqlite3 *db, int64_t now, const char *prio)
{
	char p[256];
	json_t *r;
	int64_t tk;

	snprintf(p, sizeof p, "{\"subject\":\"mail\",\"message\":\"mail is down\",\"priority\":\"%s\"}", prio);
	r = call_as(db, "alice@a.example", now, "desk.open", p, 1);
	tk = json_integer_value(json_object_get(r, "ticket"));
	json_decref(r);
	assert_true(tk > 0);
	return tk;
}

static void due(sqlite3 *db, int64_t tk, int64_t *first, int64_t *resolve)
{
	char p[64];
	json_t *r, *v;

	snprintf(p, sizeof p, "{\"ticket\":%lld}", (long long)tk);
	r = call_as(db, "tech@support.example", 0, "desk.view", p, 1);
	v = json_object_get(r, "due_first");
	*first = json_is_integer(v) ? json_integer_value(v) : -1;
	v = json_object_get(r, "due_resolve");
	*resolve = json_is_integer(v) ? json_integer_value(v) : -1;
	json_decref(r);
}

static void calendar_arithmetic(void **state)
{
	im_desk_cal cal = { "Europe/Berlin", 9 * 60, 17 * 60, 0x3e };
	int64_t t, s;

	(void)state;
	/* Friday 16:00 + 2 business hours = Monday 10:00. */
	assert_int_equal(im_desk_cal_add(&cal, FRI_0306_1600, 2 * H, &t), IM_OK);
	assert_int_equal(t, MON_0309_1000);
	assert_int_equal(im_desk_cal_elapsed(&cal, FRI_0306_1600, MON_0309_1000, &s), IM_OK);
	assert_int_equal(s, 2 * H);
	/* Across DST: still 2 business hours, an hour less of wall-clock UTC offset. */
	assert_int_equal(im_desk_cal_add(&cal, FRI_0327_1600, 2 * H, &t), IM_OK);
	assert_int_equal(t, MON_0330_1000);
	assert_int_equal(im_desk_cal_elapsed(&cal, FRI_0327_1600, MON_0330_1000, &s), IM_OK);
	assert_int_equal(s, 2 * H);
	/* Outside hours: the clock starts at the next opening. */
	assert_int_equal(im_desk_cal_add(&cal, MON_0309_0900 - 5 * H, H, &t), IM_OK);
	assert_int_equal(t, MON_0309_1000);
	/* An empty week is refused. */
	cal.days = 0;
	assert_int_equal(im_desk_cal_add(&cal, FRI_0306_1600, H, &t), IM_EINVAL);
}

static void due_across_weekend(void **state)
{
	fx *f = *state;
	int64_t tk = open_at(f->db, FRI_0306_1600, "high"), a, b;   /* high: 120 / 960 business minutes */

	due(f->db, tk, &a, &b);
	assert_int_equal(a, MON_0309_1000);
	assert_int_equal(b, TUE_0310_1600);   /* Fri 1 h + Mon 8 h + Tue 7 h */
}

static void due_across_dst(void **state)
{
	fx *f = *state;
	int64_t tk = open_at(f->db, FRI_0327_1600, "high"), a, b;

	due(f->db, tk, &a, &b);
	assert_int_equal(a, MON_0330_1000);
	assert_int_equal(b, TUE_0331_1600);
}

static void paused_while_waiting(void **state)
{
	fx *f = *state;
	int64_t tk = open_at(f->db, MON_0309_0900, "normal"), a, b;   /* normal: 480 / 2400 */
	char p[128];

	snprintf(p, sizeof p, "{\"ticket\":%lld,\"message\":\"please send the log\"}", (long long)tk);
	json_decref(call_as(f->db, "tech@support.example", MON_0309_1000, "desk.reply", p, 1));
	snprintf(p, sizeof p, "{\"ticket\":%lld,\"status\":\"waiting\"}", (long long)tk);
	json_decref(call_as(f->db, "tech@support.example", MON_0309_1000, "desk.status", p, 1));
	due(f->db, tk, &a, &b);
	assert_int_equal(a, -1);   /* responded */
	assert_int_equal(b, -1);   /* paused */
	/* The customer answers two days later: 60 min used, 2340 left from Wed 09:00. */
	snprintf(p, sizeof p, "{\"ticket\":%lld,\"message\":\"here it is\"}", (long long)tk);
	json_decref(call_as(f->db, "alice@a.example", WED_0311_0900, "desk.reply", p, 1));
	due(f->db, tk, &a, &b);
	assert_int_equal(b, TUE_0317_1600);
}

static void recomputed_on_priority_change(void **state)
{
	fx *f = *state;
	int64_t tk = open_at(f->db, MON_0309_0900, "normal"), a, b;
	char p[128];

	due(f->db, tk, &a, &b);
	assert_int_equal(a, MON_0309_0900 + 8 * H);   /* 480 min: Mon 17:00 */
	snprintf(p, sizeof p, "{\"ticket\":%lld,\"priority\":\"urgent\"}", (long long)tk);
	json_decref(call_as(f->db, "tech@support.example", MON_0309_1100, "desk.priority", p, 1));
	due(f->db, tk, &a, &b);
	assert_int_equal(a, MON_0309_1100);   /* urgent 60 min, 120 used: due at once */
	assert_int_equal(b, MON_0309_1700);   /* urgent 480 min, 120 used: 360 left */
	/* And an overdue ticket shows in the overdue queue. */
	{
		json_t *r = call_as(f->db, "tech@support.example", MON_0309_1100 + 60, "desk.queue",
		                    "{\"view\":\"overdue\"}", 1);
		assert_int_equal(json_array_size(json_object_get(r, "tickets")), 1);
		json_decref(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(calendar_arithmetic),
		cmocka_unit_test_setup_teardown(due_across_weekend, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(due_across_dst, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(paused_while_waiting, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(recomputed_on_priority_change, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
