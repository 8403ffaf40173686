/* test_billing.c — billing inside Prosody end to end (issue 5), through a real
 * server with mod_imhost (environment: test_billing.env).
 *
 * The story: the operator sets up two customers, Acme (a.test, owner ann) and
 * Beta (b.test, owner bob), on a monthly plan from 2026-01-01.  On 2 February
 * the server's billing run and a `prosodyctl mod_imhost billing.run` start at
 * the same instant: each customer gets exactly one invoice.  Ann sees Acme's
 * billing through the ad-hoc commands and is refused Beta's; "Download
 * statement" gives a signed link that works over HTTP, refuses tampering and
 * expires.  A payment processor's webhook deliveries over HTTP: valid,
 * tampered, wrong secret, stale, duplicate, signed with the previous secret.
 * Acme does not pay: after the grace period a.test is suspended (uma cannot
 * log in, new accounts are refused), and a payment lets her in at once.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PW "pw-secret"
#define DAY 86400L
#define T0 1767225600L          /* 2026-01-01T00:00:00Z, the env's start clock */
#define T1 (T0 + 32 * DAY)      /* 2026-02-02: January has ended */

static const char *cfg;
static long clock_now = T0;

/* Sets the clock of the server (admin shell) and of the prosodyctl processes
 * this test starts (IMHOST_TEST_CLOCK, read by the config). */
static int set_clock(long t)
{
	char buf[32], *o;
	int st;

	snprintf(buf, sizeof buf, "%ld", t);
	setenv("IMHOST_TEST_CLOCK", buf, 1);
	clock_now = t;
	o = h_run(&st, NULL, "prosodyctl --config '%s' shell imhost test_set_clock %ld 2>&1", cfg, t);
	free(o);
	return st;
}

/* prosodyctl shell imhost <args>: 0 on success; *out its output (may be NULL). */
static int shell(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int shell(char **out, const char *fmt, ...)
{
	char args[2048], *o;
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	o = h_run(&st, NULL, "prosodyctl --config '%s' shell imhost %s 2>&1", cfg, args);
	if (st == 0 && o && (strncmp(o, "! ", 2) == 0 || strstr(o, "\n! ")))
		st = 1;
	if (out)
		*out = o;
	else
		free(o);
	return st;
}

/* prosodyctl mod_imhost <args> --json: the parsed result or NULL. */
static json_t *cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *cli(const char *fmt, ...)
{
	char args[2048], *o;
	const char *start;
	va_list ap;
	json_t *j;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	o = h_run(&st, NULL, "prosodyctl --config '%s' mod_imhost %s --json 2>/dev/null", cfg, args);
	start = o ? (*o == '{' ? o : strstr(o, "\n{")) : NULL;
	j = start ? h_json(start + (*start == '\n')) : NULL;
	if (st != 0 || !j)
		h_note("mod_imhost %s -> %d: %s", args, st, o ? o : "");
	free(o);
	return st == 0 ? j : (json_decref(j), NULL);
}

static long jint(json_t *j, const char *k)
{
	return (long)json_integer_value(json_object_get(j, k));
}

/* Runs ad-hoc imhost/<op> as c: the result JSON (caller decrefs) or NULL with
 * *why (caller frees). */
static json_t *adhoc(h_client *c, const char *op, const char *const *kv, char **why)
{
	h_adhoc_result r;
	json_t *j = NULL;

	if (h_adhoc(c, op, kv, &r) == 0)
		j = h_json(r.json);
	if (why)
		*why = r.error ? strdup(r.error) : NULL;
	h_adhoc_clear(&r);
	return j;
}

/* Invoices of a customer (CLI): the array, borrowed from *holder. */
static json_t *invoices_of(long customer, json_t **holder)
{
	*holder = cli("billing.invoices customer=%ld", customer);
	return json_object_get(*holder, "invoices");
}

/* ---- webhooks ---------------------------------------------------------------------- */

/* "t=<t>,v1=<hex>" for body under secret, computed by openssl (independent of
 * imhost's HMAC). */
static char *signature(const char *secret, long t, const char *body)
{
	char *o, *sp, *h;
	int st;

	o = h_run(&st, NULL, "printf '%%s' '%ld.%s' | openssl dgst -sha256 -hmac '%s' -r", t, body, secret);
	if (!o || st != 0)
		return free(o), NULL;
	if ((sp = strchr(o, ' ')) != NULL)
		*sp = '\0';
	if (asprintf(&h, "Imhost-Signature: t=%ld,v1=%s", t, o) < 0)
		h = NULL;
	free(o);
	return h;
}

/* POSTs body to the webhook with a header signed by secret at t (tamper: the
 * body sent differs).  Returns the HTTP status; *outcome the outcome string. */
static int deliver(const char *secret, long t, const char *body, const char *sent, char *outcome, size_t n)
{
	char *sig = signature(secret, t, body);
	const char *headers[] = { sig, NULL };
	h_http_response r;
	json_t *j;
	int status;

	if (!sig || h_http("POST", "/imhost/webhook/stripe", "a.test", headers, sent ? sent : body, &r) != 0) {
		free(sig);
		return 0;
	}
	j = h_json(r.body);
	snprintf(outcome, n, "%s", json_string_value(json_object_get(j, "outcome")) ?
	         json_string_value(json_object_get(j, "outcome")) : "?");
	status = r.status;
	json_decref(j);
	h_http_clear(&r);
	free(sig);
	return status;
}

static void webhooks(long beta, long beta_balance)
{
	char body[512], body2[512], out[128];
	int st;

	snprintf(body, sizeof body, "{\"id\":\"evt_1\",\"type\":\"payment.succeeded\",\"data\":{\"customer\":%ld,"
	         "\"amount\":%ld,\"currency\":\"EUR\",\"ref\":\"pi_1\"}}", beta, beta_balance / 2);
	st = deliver("whsec_current_0123456789", clock_now, body, NULL, out, sizeof out);
	CHECK(st == 200 && strcmp(out, "duplicate") != 0, "a valid delivery is applied (%d %s)", st, out);
	st = deliver("whsec_current_0123456789", clock_now, body, NULL, out, sizeof out);
	CHECK(st == 200 && strcmp(out, "duplicate") == 0, "the same delivery again is a harmless duplicate (%d %s)", st, out);
	snprintf(body2, sizeof body2, "%s", body);
	body2[strlen(body2) - 4] = '9';   /* amount/ref tampered after signing */
	st = deliver("whsec_current_0123456789", clock_now, body, body2, out, sizeof out);
	CHECK(st == 400 && strcmp(out, "mismatch") == 0, "a tampered body is refused (%d %s)", st, out);
	st = deliver("whsec_wrong_secret_000000", clock_now, body, NULL, out, sizeof out);
	CHECK(st == 400 && strcmp(out, "mismatch") == 0, "a wrong secret is refused (%d %s)", st, out);
	st = deliver("whsec_current_0123456789", clock_now - 301, body, NULL, out, sizeof out);
	CHECK(st == 400 && strcmp(out, "stale") == 0, "a timestamp 301 s old is refused as stale (%d %s)", st, out);
	snprintf(body, sizeof body, "{\"id\":\"evt_2\",\"type\":\"payment.succeeded\",\"data\":{\"customer\":%ld,"
	         "\"amount\":%ld,\"currency\":\"EUR\",\"ref\":\"pi_2\"}}", beta, beta_balance - beta_balance / 2);
	st = deliver("whsec_previous_0123456789", clock_now - 100, body, NULL, out, sizeof out);
	CHECK(st == 200 && strcmp(out, "duplicate") != 0, "a delivery signed with the previous secret is applied (%d %s)", st, out);
}

/* ---- the story ------------------------------------------------------------------- */

int main(void)
{
	json_t *j, *h1, *h2, *inv, *res;
	long acme, beta, plan, acme_inv = 0, acme_total = 0, beta_total = 0;
	h_client *ann, *bob, *uma;
	char *why = NULL, *out = NULL;
	int status;

	cfg = h_env("ENV_CFG");
	setenv("IMHOST_TEST_CLOCK", "1767225600", 1);

	/* Setup from the command line while the server runs. */
	j = cli("customers.create name=Acme owner=ann@a.test");
	acme = jint(j, "customer");
	json_decref(j);
	j = cli("customers.create name=Beta owner=bob@b.test");
	beta = jint(j, "customer");
	json_decref(j);
	json_decref(cli("domains.attach customer=%ld domain=a.test", acme));
	json_decref(cli("domains.attach customer=%ld domain=b.test", beta));
	j = cli("billing.plan_create code=std name=Standard currency=EUR price=1000");
	plan = jint(j, "plan");
	json_decref(j);
	CHECK(acme > 0 && beta > 0 && plan > 0, "customers and a plan are created (%ld %ld %ld)", acme, beta, plan);
	j = cli("billing.subscribe customer=%ld plan=%ld start=%ld", acme, plan, T0);
	CHECK(j && jint(j, "subscription") > 0, "Acme subscribes from 2026-01-01");
	json_decref(j);
	j = cli("billing.subscribe customer=%ld plan=%ld start=%ld", beta, plan, T0);
	json_decref(j);

	/* The server's run and a second process at the same instant. */
	CHECK(set_clock(T1) == 0, "the clock moves to 2026-02-02");
	out = h_run(&status, NULL, "(prosodyctl --config '%s' shell imhost billing_run >/dev/null 2>&1 &"
	            " prosodyctl --config '%s' mod_imhost billing.run >/dev/null 2>&1 & wait)", cfg, cfg);
	free(out);
	inv = invoices_of(acme, &h1);
	CHECK(json_array_size(inv) == 1, "server + prosodyctl at once: Acme has exactly one invoice (%zu)",
	      json_array_size(inv));
	if (json_array_size(inv) > 0) {
		json_t *i0 = json_array_get(inv, 0);
		acme_inv = jint(i0, "id");
		acme_total = jint(i0, "balance");
		CHECK(strcmp(json_string_value(json_object_get(i0, "status")), "open") == 0 &&
		      json_string_value(json_object_get(i0, "number")) != NULL, "it is finalized, numbered and open (%s)",
		      json_string_value(json_object_get(i0, "number")));
	}
	inv = invoices_of(beta, &h2);
	CHECK(json_array_size(inv) == 1, "Beta has exactly one invoice");
	beta_total = json_array_size(inv) ? jint(json_array_get(inv, 0), "balance") : 0;
	json_decref(h1);
	json_decref(h2);
	CHECK(shell(NULL, "billing_run") == 0, "a rerun succeeds");
	inv = invoices_of(acme, &h1);
	CHECK(json_array_size(inv) == 1, "and creates nothing");
	json_decref(h1);

	/* Customer surfaces over ad-hoc. */
	ann = h_login("ann@a.test", PW);
	bob = h_login("bob@b.test", PW);
	CHECK(ann && bob, "ann and bob log in");
	if (ann && bob) {
		char cust[32], other[32], invs[32];
		snprintf(cust, sizeof cust, "%ld", acme);
		snprintf(other, sizeof other, "%ld", beta);
		snprintf(invs, sizeof invs, "%ld", acme_inv);
		{
			const char *kv[] = { "customer", cust, NULL };
			res = adhoc(ann, "billing.invoices", kv, &why);
			CHECK(res && json_array_size(json_object_get(res, "invoices")) == 1, "ann's \"My invoices\" lists Acme's invoice (%s)", why ? why : "");
			json_decref(res); free(why);
			res = adhoc(ann, "billing.overview", kv, &why);
			CHECK(res && jint(res, "customer") == acme, "ann's \"Billing overview\" (%s)", why ? why : "");
			json_decref(res); free(why);
			res = adhoc(ann, "billing.payment_methods", kv, &why);
			CHECK(res && json_object_get(res, "methods"), "ann's \"Payment methods\" (%s)", why ? why : "");
			json_decref(res); free(why);
			res = adhoc(bob, "billing.invoices", kv, &why);
			CHECK(!res, "bob cannot list Acme's invoices (%s)", why ? why : "");
			json_decref(res); free(why);
		}
		{
			const char *kv[] = { "customer", other, NULL };
			res = adhoc(ann, "billing.invoices", kv, &why);
			CHECK(!res, "ann cannot list Beta's invoices (%s)", why ? why : "");
			json_decref(res); free(why);
		}
		{
			const char *kv[] = { "customer", cust, "name", "Acme GmbH", "tax_id", "DE999", NULL };
			res = adhoc(ann, "billing.info", kv, &why);
			CHECK(res != NULL, "ann's \"Update billing information\" (%s)", why ? why : "");
			json_decref(res); free(why);
			res = adhoc(bob, "billing.info", kv, &why);
			CHECK(!res, "bob cannot update Acme's billing information");
			json_decref(res); free(why);
		}
		{
			const char *kv[] = { "customer", cust, "invoice", invs, "format", "html", NULL };
			const char *kv_other[] = { "customer", other, "invoice", invs, "format", "html", NULL };
			const char *link, *path;
			h_http_response r;
			res = adhoc(ann, "billing.statement", kv, &why);
			link = json_string_value(json_object_get(res, "link"));
			CHECK(link && strstr(link, "sig="), "\"Download statement\" answers with a signed link (%s)",
			      link ? link : why ? why : "");
			path = link ? strstr(link, "/imhost/statement/") : NULL;
			if (path && h_http("GET", path, "a.test", NULL, NULL, &r) == 0) {
				CHECK(r.status == 200 && r.body && strstr(r.body, "Example Hosting Ltd") && strstr(r.body, "<html"),
				      "the link serves the printable HTML invoice with the provider from config (%d)", r.status);
				CHECK(r.body && strstr(r.body, "Acme") && !strstr(r.body, "Acme GmbH"),
				      "the invoice keeps the bill-to snapshot taken at finalization");
				h_http_clear(&r);
			}
			if (path) {
				char *bad = strdup(path);
				char *s = strstr(bad, "sig=");
				s[4] = s[4] == 'a' ? 'b' : 'a';
				r.status = 0;
				h_http("GET", bad, "a.test", NULL, NULL, &r);
				CHECK(r.status == 403, "a tampered link is refused (%d)", r.status);
				h_http_clear(&r);
				free(bad);
				set_clock(T1 + DAY + 1);
				r.status = 0;
				h_http("GET", path, "a.test", NULL, NULL, &r);
				CHECK(r.status == 410, "the link expires after a day (%d)", r.status);
				h_http_clear(&r);
				set_clock(T1);
			}
			json_decref(res); free(why);
			res = adhoc(bob, "billing.statement", kv_other, &why);
			CHECK(!res || !json_object_get(res, "link"), "bob gets no statement of Acme's invoice");
			json_decref(res); free(why);
			res = adhoc(bob, "billing.statement", kv, &why);
			CHECK(!res, "bob cannot download Acme's statement");
			json_decref(res); free(why);
		}
	}

	/* Payments from a processor for Beta. */
	webhooks(beta, beta_total);
	inv = invoices_of(beta, &h1);
	CHECK(json_array_size(inv) == 1 && strcmp(json_string_value(json_object_get(json_array_get(inv, 0), "status")), "paid") == 0,
	      "Beta's invoice is paid by the two deliveries");
	json_decref(h1);

	/* Acme does not pay: due + 30 days, a.test is suspended. */
	set_clock(T1 + 14 * DAY + 31 * DAY);
	CHECK(shell(NULL, "billing_run") == 0, "the billing run after the grace period");
	h_pump(1500);
	uma = h_login("uma@a.test", PW);
	CHECK(uma == NULL, "uma@a.test is refused login while a.test is suspended for non-payment");
	h_disconnect(uma);
	j = cli("users.may_create user=new@a.test");
	CHECK(j && json_is_false(json_object_get(j, "allowed")), "no new users on a.test");
	json_decref(j);
	{
		char *o = NULL;
		CHECK(shell(&o, "billing_payment customer=%ld invoice=%ld reference=bank-1 amount=%ld currency=EUR",
		            acme, acme_inv, acme_total) == 0, "billing staff records Acme's bank transfer (%s)", o ? o : "");
		free(o);
	}
	h_pump(1500);
	uma = h_login("uma@a.test", PW);
	CHECK(uma != NULL, "a payment lets uma in at once");
	h_disconnect(uma);
	h_disconnect(ann);
	h_disconnect(bob);
	return h_finish();
}
