/*
 * test_desk_suggest.c — article suggestions from a real index written by
 * sitegen's own writer (sg_search_*, compiled into the core with the
 * tokenizer the desk uses): ranking, the site URL, the three-article cap, a
 * missing or foreign-format index, and the incoming path ("solved" resolves
 * the new ticket at once).
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
#include "desk_suggest.h"
#include "../../sitegen/src/searchidx.h"

#define T0 1773043200LL
#define ALICE "alice@a.example"

static void build_site(const char *dir)
{
	sg_search *s = sg_search_new();
	char *err = NULL;

	sg_search_add(s, "/billing/invoices/", "Getting to know your invoice", "Billing", "Totals\nTaxes",
	              "Each invoice lists your plan, the period and the total. Invoices are sent monthly.");
	sg_search_add(s, "/mail/delivery/", "Mail delivery problems", "Mail", "Bounces",
	              "When mail does not arrive, check the spam folder and the delivery log.");
	sg_search_add(s, "/support/ticket/", "Submitting a support ticket", "Support", "",
	              "Write to the support address; the desk answers with a ticket number.");
	sg_search_add(s, "/billing/payment/", "Paying an invoice", "Billing", "",
	              "Pay an invoice by card or transfer; the invoice shows what is due.");
	sg_search_add(s, "/domains/dns/", "DNS records", "Domains", "", "Set MX records for mail.");
	assert_int_equal(sg_search_write(s, dir, &err), 0);
	sg_search_free(s);
}

static int setup(void **state)
{
	fx *f = fx_new("desk-sug", FX_OPEN);

	build_site(f->dir);
	im_desk_suggest_reset();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	im_desk_suggest_reset();
	return fx_free(*state);
}
static void ranks_articles(void **state)
{
	fx *f = *state;
	json_t *r = im_desk_suggest(f->dir, "https://help.example", "The total on my invoices is wrong", 3);

	assert_non_null(r);
	assert_true(json_array_size(r) >= 2 && json_array_size(r) <= 3);
	/* "invoic" is in the title and text of the invoice page, "total" too. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "url")),
	                    "https://help.example/billing/invoices/");
	assert_string_equal(json_string_value(json_object_get(json_array_get(r, 1), "title")), "Paying an invoice");
	json_decref(r);
	r = im_desk_suggest(f->dir, "", "zzzqqq nothing matches", 3);
	assert_int_equal(json_array_size(r), 0);
	json_decref(r);
	r = im_desk_suggest(f->dir, "", "mail invoice ticket dns pay", 10);
	assert_int_equal(json_array_size(r), 5);
	json_decref(r);
}

static void missing_or_foreign_index(void **state)
{
	fx *f = *state;
	char path[200];
	json_t *r;
	FILE *fp;

	r = im_desk_suggest("/nonexistent/dir", "", "invoice", 3);
	assert_int_equal(json_array_size(r), 0);
	json_decref(r);
	snprintf(path, sizeof path, "%s/search/meta.json", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\"format\":2,\"pages\":5,\"page_chunk\":16,\"shards\":[\"i\"]}\n", fp);
	assert_int_equal(fclose(fp), 0);
	im_desk_suggest_reset();
	r = im_desk_suggest(f->dir, "", "invoice", 3);
	assert_int_equal(json_array_size(r), 0);
	json_decref(r);
}

static json_t *call(sqlite3 *db, int64_t now, const char *op, const char *params)
{
	im_clock_set(now);
	return fx_must(db, op, params, FX_CLI);
}
static void incoming_offers_and_solved(void **state)
{
	fx *f = *state;
	char p[256];
	json_t *r;

	snprintf(p, sizeof p, "{\"key\":\"index_dir\",\"value\":\"%s\"}", f->dir);
	json_decref(call(f->db, T0, "desk.configure", p));
	json_decref(call(f->db, T0, "desk.configure", "{\"key\":\"site_url\",\"value\":\"https://help.example\"}"));
	r = call(f->db, T0, "desk.incoming", "{\"from\":\"" ALICE "\",\"body\":\"my mail does not arrive\",\"stanza_id\":\"s1\"}");
	assert_string_equal(json_string_value(json_object_get(r, "action")), "created");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "suggestions"), 0), "url")),
	                    "https://help.example/mail/delivery/");
	assert_non_null(strstr(json_string_value(json_object_get(r, "reply")), "Mail delivery problems"));
	assert_non_null(strstr(json_string_value(json_object_get(r, "reply")), "reply \"solved\""));
	json_decref(r);
	r = call(f->db, T0 + 60, "desk.incoming", "{\"from\":\"" ALICE "\",\"body\":\"Solved\",\"stanza_id\":\"s2\"}");
	assert_string_equal(json_string_value(json_object_get(r, "action")), "solved");
	json_decref(r);
	r = call(f->db, T0 + 60, "desk.view", "{\"ticket\":1}");
	assert_string_equal(json_string_value(json_object_get(r, "status")), "resolved");
	json_decref(r);
	/* A bad setting is refused. */
	fx_expect(f->db, "desk.configure", "{\"key\":\"index_dir\",\"value\":\"../etc\"}", FX_CLI, "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ranks_articles, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_or_foreign_index, setup, teardown),
		cmocka_unit_test_setup_teardown(incoming_offers_and_solved, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
