/*
 * test_desk_erase.c — desk.erase: a deleted user's JID, subjects and bodies
 * leave the desk in both modes, tickets and other people's posts stay,
 * numbers are not reused, the search index forgets the user's words, the op
 * is refused to anyone but the operator side, and erasing twice is harmless.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imhost.h"
#include "fixture.h"
#include "desk.h"
#include "logmaint.h"

#define T0 1773043200LL   /* Mon 2026-03-09 09:00 Europe/Berlin */
#define TECH "tech@support.example"
#define ALICE "alice@a.example"
#define BOB "bob@b.example"

static int setup(void **state)
{
	fx *f = fx_new("desk-erase", FX_OPEN);

	fx_exec(f->db,
		"INSERT INTO staff(jid, role) VALUES('" TECH "','technician');"
		"INSERT INTO customer(id, name, created) VALUES(1,'A',0),(2,'B',0);"
		"INSERT INTO domain(name, customer_id, created) VALUES('a.example',1,0),('b.example',2,0);");
	*state = f;
	return 0;
}

static int64_t incoming(fx *f, const char *from, const char *body, const char *id, int64_t now)
{
	im_desk_conf conf;
	json_t *out = NULL;
	int64_t tk;

	assert_int_equal(im_desk_conf_load(f->db, &conf), IM_OK);
	assert_int_equal(im_desk_incoming(f->db, &conf, from, body, id, now, &out), IM_OK);
	tk = json_integer_value(json_object_get(out, "ticket"));
	json_decref(out);
	return tk;
}

/* Alice opens #1 and adds to it, the technician answers, Bob opens #2. */
static void history(fx *f)
{
	char ctx[256];
	json_t *r;

	assert_int_equal(incoming(f, ALICE, "Zanzibarquux printer broken", "a1", T0), 1);
	assert_int_equal(incoming(f, ALICE, "still xylophonic", "a2", T0 + 60), 1);
	im_clock_set(T0 + 120);
	r = fx_must(f->db, "desk.reply", "{\"ticket\":1,\"message\":\"try turning it off and on\"}",
	            fx_ctx(ctx, sizeof ctx, TECH, "UTC"));
	json_decref(r);
	r = fx_must(f->db, "desk.claim", "{\"ticket\":1}", fx_ctx(ctx, sizeof ctx, TECH, "UTC"));
	json_decref(r);
	assert_int_equal(incoming(f, BOB, "Zanzibarquux too", "b1", T0 + 180), 2);
}

static void erase(fx *f, const char *mode, const char *stand_in)
{
	char params[128];
	json_t *r;

	snprintf(params, sizeof params, "{\"user\":\"" ALICE "\",\"mode\":\"%s\"}", mode);
	r = fx_must(f->db, "desk.erase", params, FX_CLI);
	assert_true(json_integer_value(json_object_get(r, "erased")) > 0);
	json_decref(r);

	/* Nothing of Alice's is left anywhere in the desk. */
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM desk_ticket WHERE requester = ?1 OR assignee = ?1", ALICE), 0);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM desk_post WHERE author = ?1", ALICE), 0);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM desk_event WHERE actor = ?1 OR old = ?1 OR new = ?1", ALICE), 0);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM desk_notify WHERE recipient = ?1", ALICE), 0);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM desk_rate WHERE sender = ?1", ALICE), 0);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_post WHERE body LIKE '%xylophonic%' "
	                                 "OR body LIKE '%printer%'"), 0);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_ticket WHERE subject LIKE '%printer%'"), 0);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_fts WHERE desk_fts MATCH 'xylophonic'"), 0);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_post WHERE idem IN ('a1','a2')"), 0);
	/* The ticket stays, now the stand-in's; her two posts are placeholders. */
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM desk_ticket WHERE id = 1 AND requester = ?1", stand_in), 1);
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM desk_post WHERE author = ?1 AND body = '[erased]'", stand_in), 2);
	/* Other people's data is untouched: the technician's reply, Bob's ticket
	 * and his words in the index. */
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_post WHERE author = '" TECH "' "
	                                 "AND body = 'try turning it off and on'"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_ticket WHERE id = 2 AND requester = '" BOB "' "
	                                 "AND subject = 'Zanzibarquux too'"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_fts WHERE desk_fts MATCH 'zanzibarquux'"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT count(*) FROM desk_ticket"), 2);

	/* Erasing again changes nothing; the next ticket gets a new number. */
	snprintf(params, sizeof params, "{\"user\":\"" ALICE "\",\"mode\":\"%s\"}", mode);
	r = fx_must(f->db, "desk.erase", params, FX_CLI);
	assert_int_equal(json_integer_value(json_object_get(r, "erased")), 0);
	json_decref(r);
	assert_int_equal(incoming(f, ALICE, "new account, new question", "a3", T0 + 86400), 3);
}

static void pseudonymize_mode(void **state)
{
	fx *f = *state;
	char pseud[256];

	history(f);
	assert_int_equal(im_logs_pseudonym(ALICE, pseud, sizeof pseud), IM_OK);
	erase(f, "pseudonymize", pseud);
}

static void delete_mode(void **state)
{
	fx *f = *state;

	history(f);
	erase(f, "delete", "erased@a.example");
}

static void refused_input_and_roles(void **state)
{
	fx *f = *state;
	char ctx[256];

	history(f);
	fx_expect(f->db, "desk.erase", "{\"user\":\"a.example\"}", FX_CLI, "invalid");
	fx_expect(f->db, "desk.erase", "{\"user\":\"" ALICE "\",\"mode\":\"shred\"}", FX_CLI, "invalid");
	fx_expect(f->db, "desk.erase", "{}", FX_CLI, "invalid");
	/* internal: neither the customer nor a technician may erase. */
	fx_expect(f->db, "desk.erase", "{\"user\":\"" ALICE "\"}", fx_ctx(ctx, sizeof ctx, ALICE, "UTC"), "forbidden");
	fx_expect(f->db, "desk.erase", "{\"user\":\"" ALICE "\"}", fx_ctx(ctx, sizeof ctx, TECH, "UTC"), "forbidden");
	assert_int_equal(fx_q_int_arg(f->db, "SELECT count(*) FROM desk_ticket WHERE requester = ?1", ALICE), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pseudonymize_mode, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(delete_mode, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(refused_input_and_roles, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
