/*
 * test_desk_engine.c — tickets through the desk.* operations: sequential
 * numbers, the transition table, the one delivery path (notes never reach a
 * customer; dedup; never the desk's own address), idempotent replies, merge,
 * other customers locked out, keyword + day-range search in the viewer's
 * zone, reports, and the incoming-message entry point with bad input
 * (empty, 1 MB, control characters and markup, unknown numbers, closed
 * tickets, a flood of 1,000 messages).
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

#define T0 1773043200LL   /* Mon 2026-03-09 09:00 Europe/Berlin */
#define DAY 86400LL
#define TECH "tech@support.example"
#define TECH2 "tech2@support.example"
#define ALICE "alice@a.example"
#define BOB "bob@b.example"

static int setup(void **state)
{
	fx *f = fx_new("desk-eng", FX_OPEN);

	fx_exec(f->db,
		"INSERT INTO staff(jid, role) VALUES('" TECH "','technician'),('" TECH2 "','technician');"
		"INSERT INTO customer(id, name, created) VALUES(1,'A',0),(2,'B',0);"
		"INSERT INTO domain(name, customer_id, created) VALUES('a.example',1,0),('b.example',2,0);"
		"INSERT INTO desk_setting(key, value) VALUES('desk_jids','support.example " TECH2 "');");
	*state = f;
	return 0;
}

/* Calls op as actor (surface adhoc; "" = cli) in zone tz at now; checks the
 * outcome is want_ok; returns the parsed result. */
static json_t *call_tz(sqlite3 *db, const char *actor, const char *tz, int64_t now, const char *op,
                       const char *params, int want_ok)
{
	char ctx[256];
	const char *code;
	json_t *r;

	im_clock_set(now);
	r = fx_call(db, op, params, fx_ctx(ctx, sizeof ctx, actor, tz), &code);
	if ((strcmp(code, "ok") == 0) != want_ok)
		fail_msg("%s %s as %s -> %s", op, params, actor, code);
	return r;
}
static json_t *call(sqlite3 *db, const char *actor, int64_t now, const char *op, const char *params, int want_ok)
{
	return call_tz(db, actor, "Europe/Berlin", now, op, params, want_ok);
}

static int64_t open_ticket(sqlite3 *db, const char *who, int64_t now, const char *subject, const char *msg)
{
	json_t *p = json_pack("{s:s,s:s}", "subject", subject, "message", msg), *r;
	char *ps = json_dumps(p, 0);
	int64_t tk;

	r = call(db, who, now, "desk.open", ps, 1);
	tk = json_integer_value(json_object_get(r, "ticket"));
	assert_string_equal(json_string_value(json_object_get(r, "event")), "created");
	json_decref(r);
	json_decref(p);
	free(ps);
	return tk;
}

/* 1 if the notify list of r has a message to `to`. */
static int notified(json_t *r, const char *to)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(r, "notify"), i, n)
		if (strcmp(json_string_value(json_object_get(n, "to")), to) == 0)
			return 1;
	return 0;
}

static void numbers_and_transitions(void **state)
{
	fx *f = *state;
	char p[128];
	json_t *r;

	assert_int_equal(open_ticket(f->db, ALICE, T0, "one", "first"), 1);
	assert_int_equal(open_ticket(f->db, ALICE, T0, "two", "second"), 2);
	assert_int_equal(open_ticket(f->db, BOB, T0, "three", "third"), 3);
	/* new -> resolved -> closed allowed; closed -> waiting and resolved -> waiting not. */
	json_decref(call(f->db, TECH, T0, "desk.status", "{\"ticket\":1,\"status\":\"resolved\"}", 1));
	r = call(f->db, TECH, T0, "desk.status", "{\"ticket\":1,\"status\":\"waiting\"}", 0);
	assert_string_equal(fx_errcode(r), "conflict");
	json_decref(r);
	json_decref(call(f->db, TECH, T0, "desk.status", "{\"ticket\":1,\"status\":\"closed\"}", 1));
	r = call(f->db, TECH, T0, "desk.status", "{\"ticket\":1,\"status\":\"waiting\"}", 0);
	assert_string_equal(fx_errcode(r), "conflict");
	json_decref(r);
	r = call(f->db, TECH, T0, "desk.status", "{\"ticket\":2,\"status\":\"new\"}", 0);   /* never back to new */
	json_decref(r);
	r = call(f->db, TECH, T0, "desk.status", "{\"ticket\":99,\"status\":\"open\"}", 0);
	assert_string_equal(fx_errcode(r), "not_found");
	json_decref(r);
	/* Every change is an event; refusals are not. */
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_event WHERE ticket_id = 1 AND kind = 'status'"), 2);
	assert_true(im_desk_transition_ok("waiting", "open"));
	assert_false(im_desk_transition_ok("closed", "resolved"));
	snprintf(p, sizeof p, "{\"ticket\":2}");
	json_decref(call(f->db, ALICE, T0, "desk.close", p, 1));
}

static void notes_never_reach_customers(void **state)
{
	fx *f = *state;
	im_desk_conf conf;
	json_t *r, *again, *post;
	int64_t tk = open_ticket(f->db, ALICE, T0, "mail down", "cannot send mail"), ev;
	size_t i;

	json_decref(call(f->db, TECH, T0, "desk.claim", "{\"ticket\":1}", 1));
	r = call(f->db, TECH, T0 + 60, "desk.note", "{\"ticket\":1,\"message\":\"SECRETNOTE customer is on the old plan\"}", 1);
	assert_false(notified(r, ALICE));
	assert_int_equal(json_array_size(json_object_get(r, "notify")), 0);   /* the author holds it */
	json_decref(r);
	r = call(f->db, TECH, T0 + 120, "desk.reply", "{\"ticket\":1,\"message\":\"fixed the relay\"}", 1);
	assert_true(notified(r, ALICE));
	json_array_foreach(json_object_get(r, "notify"), i, post)
		assert_null(strstr(json_string_value(json_object_get(post, "text")), "SECRETNOTE"));
	ev = json_integer_value(json_object_get(r, "event_id"));
	/* The same event again: already delivered, nothing twice. */
	assert_int_equal(im_desk_conf_load(f->db, &conf), IM_OK);
	assert_int_equal(im_desk_notify(f->db, &conf, ev, T0 + 130, &again), IM_OK);
	assert_int_equal(json_array_size(again), 0);
	json_decref(again);
	json_decref(r);
	/* The customer's view and search never show the note. */
	r = call(f->db, ALICE, T0 + 200, "desk.view", "{\"ticket\":1}", 1);
	json_array_foreach(json_object_get(r, "thread"), i, post)
		assert_string_equal(json_string_value(json_object_get(post, "kind")), "public");
	assert_int_equal(json_array_size(json_object_get(r, "thread")), 2);
	json_decref(r);
	r = call(f->db, ALICE, T0 + 200, "desk.mine", "{\"keyword\":\"SECRETNOTE\"}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "tickets")), 0);
	json_decref(r);
	r = call(f->db, TECH, T0 + 200, "desk.search", "{\"keyword\":\"SECRETNOTE\"}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "tickets")), 1);
	json_decref(r);
	/* Staff see the note. */
	r = call(f->db, TECH, T0 + 200, "desk.view", "{\"ticket\":1}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "thread")), 3);
	json_decref(r);
	/* A customer may not add notes at all. */
	r = call(f->db, ALICE, T0, "desk.note", "{\"ticket\":1,\"message\":\"x\"}", 0);
	assert_string_equal(fx_errcode(r), "forbidden");
	json_decref(r);
	(void)tk;
}

static void unassigned_goes_to_technicians_not_desk(void **state)
{
	fx *f = *state;
	json_t *r;

	open_ticket(f->db, ALICE, T0, "help", "please");
	r = call(f->db, ALICE, T0 + 60, "desk.reply", "{\"ticket\":1,\"message\":\"more detail\"}", 1);
	assert_true(notified(r, TECH));
	assert_false(notified(r, TECH2));   /* listed as a desk address: never notified */
	assert_false(notified(r, ALICE));   /* the author */
	json_decref(r);
}

static void idempotent_replies(void **state)
{
	fx *f = *state;
	json_t *r;

	open_ticket(f->db, ALICE, T0, "x", "y");
	r = call(f->db, ALICE, T0, "desk.reply", "{\"ticket\":1,\"message\":\"again\",\"key\":\"stanza-7\"}", 1);
	assert_false(json_is_true(json_object_get(r, "duplicate")));
	json_decref(r);
	r = call(f->db, ALICE, T0 + 5, "desk.reply", "{\"ticket\":1,\"message\":\"again\",\"key\":\"stanza-7\"}", 1);
	assert_true(json_is_true(json_object_get(r, "duplicate")));
	assert_int_equal(json_array_size(json_object_get(r, "notify")), 0);
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_post WHERE idem = 'stanza-7'"), 1);
}

static void other_customer_locked_out(void **state)
{
	fx *f = *state;
	json_t *r;

	open_ticket(f->db, ALICE, T0, "private", "my secret");
	r = call(f->db, BOB, T0, "desk.view", "{\"ticket\":1}", 0);
	assert_string_equal(fx_errcode(r), "not_found");
	json_decref(r);
	r = call(f->db, BOB, T0, "desk.reply", "{\"ticket\":1,\"message\":\"hi\"}", 0);
	assert_string_equal(fx_errcode(r), "not_found");
	json_decref(r);
	r = call(f->db, BOB, T0, "desk.close", "{\"ticket\":1}", 0);
	json_decref(r);
	r = call(f->db, BOB, T0, "desk.mine", "{}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "tickets")), 0);
	json_decref(r);
	r = call(f->db, BOB, T0, "desk.queue", "{}", 0);
	assert_string_equal(fx_errcode(r), "forbidden");
	json_decref(r);
	r = call(f->db, ALICE, T0, "desk.incoming", "{\"from\":\"" ALICE "\",\"body\":\"x\"}", 0);
	assert_string_equal(fx_errcode(r), "forbidden");
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_post"), 1);
}

static void merge_keeps_both_threads(void **state)
{
	fx *f = *state;
	json_t *r;

	open_ticket(f->db, ALICE, T0, "mail", "mail down");
	open_ticket(f->db, ALICE, T0 + 60, "mail again", "still down");
	json_decref(call(f->db, TECH, T0 + 120, "desk.merge", "{\"ticket\":2,\"into\":1}", 1));
	r = call(f->db, ALICE, T0 + 180, "desk.view", "{\"ticket\":1}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "thread")), 2);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(r, "merged_from"), 0)), 2);
	json_decref(r);
	r = call(f->db, ALICE, T0 + 180, "desk.view", "{\"ticket\":2}", 1);
	assert_int_equal(json_integer_value(json_object_get(r, "merged_into")), 1);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "closed");
	json_decref(r);
	/* A reply to the merged ticket lands in the target. */
	r = call(f->db, ALICE, T0 + 240, "desk.reply", "{\"ticket\":2,\"message\":\"any news?\"}", 1);
	assert_int_equal(json_integer_value(json_object_get(r, "ticket")), 1);
	json_decref(r);
	r = call(f->db, TECH, T0, "desk.merge", "{\"ticket\":1,\"into\":1}", 0);
	json_decref(r);
}

static void claim_and_assign(void **state)
{
	fx *f = *state;
	json_t *r;

	open_ticket(f->db, ALICE, T0, "a", "b");
	r = call(f->db, TECH, T0, "desk.queue", "{\"view\":\"unassigned\"}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "tickets")), 1);
	json_decref(r);
	json_decref(call(f->db, TECH, T0, "desk.claim", "{\"ticket\":1}", 1));
	r = call(f->db, TECH2, T0, "desk.claim", "{\"ticket\":1}", 0);
	assert_string_equal(fx_errcode(r), "conflict");
	json_decref(r);
	r = call(f->db, TECH, T0, "desk.queue", "{\"view\":\"mine\"}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "tickets")), 1);
	json_decref(r);
	r = call(f->db, TECH, T0, "desk.assign", "{\"ticket\":1,\"to\":\"" ALICE "\"}", 0);
	assert_string_equal(fx_errcode(r), "invalid");   /* not a technician */
	json_decref(r);
	json_decref(call(f->db, TECH, T0, "desk.assign", "{\"ticket\":1,\"to\":\"" TECH2 "\"}", 1));
	json_decref(call(f->db, TECH, T0, "desk.canned", "{\"name\":\"thanks\",\"body\":\"Thank you for your patience.\"}", 1));
	r = call(f->db, TECH2, T0 + 60, "desk.reply", "{\"ticket\":1,\"canned\":\"thanks\"}", 1);
	assert_true(notified(r, ALICE));
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_post WHERE body = 'Thank you for your patience.'"), 1);
}

static void search_by_keyword_and_day(void **state)
{
	fx *f = *state;
	json_t *r;

	/* 23:30 Berlin on Mon 03-09 is 22:30 UTC: the 9th in Berlin, the 9th in UTC. 00:30 Berlin
	 * on Tue 03-10 is 23:30 UTC on the 9th: its day depends on the viewer's zone. */
	open_ticket(f->db, ALICE, T0 + 14 * 3600 + 1800, "invoice wrong", "the invoice total is wrong");
	open_ticket(f->db, ALICE, T0 + 15 * 3600 + 1800, "invoice again", "second invoice question");
	open_ticket(f->db, ALICE, T0 + 2 * DAY, "dns", "records");
	r = call_tz(f->db, ALICE, "Europe/Berlin", T0 + 3 * DAY, "desk.mine",
	            "{\"keyword\":\"invoice\",\"from\":\"2026-03-09\",\"to\":\"2026-03-09\"}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "tickets")), 1);
	json_decref(r);
	r = call_tz(f->db, ALICE, "UTC", T0 + 3 * DAY, "desk.mine",
	            "{\"keyword\":\"invoice\",\"from\":\"2026-03-09\",\"to\":\"2026-03-09\"}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "tickets")), 2);
	json_decref(r);
	r = call_tz(f->db, ALICE, "UTC", T0 + 3 * DAY, "desk.mine", "{\"keyword\":\"invo*\",\"status\":\"new\"}", 1);
	assert_int_equal(json_array_size(json_object_get(r, "tickets")), 2);
	json_decref(r);
	/* FTS syntax in user text is just text. */
	r = call(f->db, ALICE, T0 + 3 * DAY, "desk.mine", "{\"keyword\":\"invoice OR NEAR(\\\"x\\\" ^dns\"}", 1);
	json_decref(r);
	r = call(f->db, ALICE, T0, "desk.mine", "{\"from\":\"2026-02-30x\"}", 0);
	assert_string_equal(fx_errcode(r), "invalid");
	json_decref(r);
	r = call(f->db, TECH, T0 + 3 * DAY, "desk.report", "{}", 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "open_per_category"), "technical")), 3);
	json_decref(r);
}

static json_t *incoming(sqlite3 *db, int64_t now, const char *from, const char *body, const char *id)
{
	json_t *p = json_pack("{s:s,s:s,s:s}", "from", from, "body", body, "stanza_id", id), *r;
	char *ps = json_dumps(p, 0);

	r = call(db, "", now, "desk.incoming", ps, 1);
	json_decref(p);
	free(ps);
	return r;
}

static const char *action(json_t *r) { return json_string_value(json_object_get(r, "action")); }
static const char *reply(json_t *r) { return json_string_value(json_object_get(r, "reply")); }

static void incoming_messages(void **state)
{
	fx *f = *state;
	json_t *r;
	char *big;

	r = incoming(f->db, T0, ALICE, "My mail does not arrive\nsince this morning", "m1");
	assert_string_equal(action(r), "created");
	assert_int_equal(json_integer_value(json_object_get(r, "ticket")), 1);
	assert_non_null(strstr(reply(r), "ticket #1"));
	assert_true(notified(r, TECH));
	json_decref(r);
	r = incoming(f->db, T0 + 1, ALICE, "My mail does not arrive\nsince this morning", "m1");   /* resent */
	assert_string_equal(action(r), "duplicate");
	assert_int_equal(json_integer_value(json_object_get(r, "ticket")), 1);
	json_decref(r);
	r = incoming(f->db, T0 + 2, ALICE, "also <b>this</b>\x01\x7f\x1b[31m", "m2");   /* threads in */
	assert_string_equal(action(r), "threaded");
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_post WHERE body = 'also <b>this</b>[31m'"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_ticket"), 1);
	r = incoming(f->db, T0 + 3, ALICE, " \n\t\x02 ", "m3");
	assert_string_equal(action(r), "refused");
	assert_non_null(strstr(reply(r), "empty"));
	json_decref(r);
	r = incoming(f->db, T0 + 4, ALICE, "#999 where is it", "m4");
	assert_string_equal(action(r), "refused");
	assert_non_null(strstr(reply(r), "no ticket #999"));
	json_decref(r);
	r = incoming(f->db, T0 + 5, BOB, "#1 let me in", "b1");   /* not bob's: same answer */
	assert_string_equal(action(r), "refused");
	assert_non_null(strstr(reply(r), "no ticket #1 of yours"));
	json_decref(r);
	r = incoming(f->db, T0 + 6, "support.example", "loop", "l1");
	assert_string_equal(action(r), "ignored");
	json_decref(r);
	/* 1 MB: kept up to body_max (16 KiB), the reply says it was cut. */
	big = malloc(1024 * 1024 + 1);
	assert_non_null(big);
	memset(big, 'x', 1024 * 1024);
	big[1024 * 1024] = '\0';
	r = incoming(f->db, T0 + 7, BOB, big, "b2");
	free(big);
	assert_string_equal(action(r), "created");
	assert_non_null(strstr(reply(r), "cut"));
	json_decref(r);
	assert_int_equal(fx_q_int(f->db, "SELECT max(length(body)) FROM desk_post"), 16384);
	/* Closed: a reply within reopen_days reopens; later it is refused. */
	json_decref(call(f->db, TECH, T0 + 8, "desk.status", "{\"ticket\":1,\"status\":\"closed\"}", 1));
	r = incoming(f->db, T0 + DAY, ALICE, "#1 it broke again", "m5");
	assert_string_equal(action(r), "threaded");
	json_decref(r);
	r = call(f->db, ALICE, T0 + DAY, "desk.view", "{\"ticket\":1}", 1);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "open");
	json_decref(r);
	json_decref(call(f->db, TECH, T0 + DAY, "desk.status", "{\"ticket\":1,\"status\":\"closed\"}", 1));
	r = incoming(f->db, T0 + 9 * DAY, ALICE, "#1 and again", "m6");
	assert_string_equal(action(r), "refused");
	assert_non_null(strstr(reply(r), "closed"));
	json_decref(r);
}

static void flood_is_rate_limited(void **state)
{
	fx *f = *state;
	int i, limited = 0, answered = 0;
	char id[16];

	/* 1,000 messages in one minute from one sender: 10 recorded, one clear answer. */
	for (i = 0; i < 1000; i++) {
		json_t *r;
		snprintf(id, sizeof id, "f%d", i);
		r = incoming(f->db, T0 + 120 + i % 50, ALICE, "flood", id);
		if (strcmp(action(r), "rate_limited") == 0) {
			limited++;
			if (reply(r)) {
				answered++;
				assert_non_null(strstr(reply(r), "faster than the support desk accepts"));
			}
		}
		json_decref(r);
	}
	assert_int_equal(limited, 990);
	assert_int_equal(answered, 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_post"), 10);
	/* The next minute the sender is heard again. */
	{
		json_t *r = incoming(f->db, T0 + 240, ALICE, "after the wait", "g1");
		assert_string_equal(action(r), "threaded");
		json_decref(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(numbers_and_transitions, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(notes_never_reach_customers, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(unassigned_goes_to_technicians_not_desk, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(idempotent_replies, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(other_customer_locked_out, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(merge_keeps_both_threads, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(claim_and_assign, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(search_by_keyword_and_day, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(incoming_messages, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(flood_is_rate_limited, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
