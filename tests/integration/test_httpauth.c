/*
 * test_httpauth.c — HTTP Basic on the API against a real Prosody: passwords
 * checked on a worker thread (not by the provider on the event loop), SASLprep,
 * the fallback for a legacy plaintext record, a corrupt record refused without
 * hashing, and the per-address limit on failures (429 with Retry-After), which
 * leaves bearer tokens and other addresses alone, counts IPv6 per /64 and
 * counts checks still running.
 *
 * The server (test_httpauth.env) logs at debug level: mod_auth_internal_hashed
 * logs "test password for user '<name>'" whenever the provider checks a password
 * on the loop, imhost "checking <jid>'s password on a worker" when a worker
 * does.  Other addresses than loopback come through Prosody's trusted-proxy
 * headers (127.0.0.1 is a trusted proxy by default): X-Forwarded-For sets the
 * client address, X-Forwarded-Proto: https marks the request as over TLS.
 * The limit is 3 failures per 2 s window.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PW "pw-secret"
#define MAX_FAILURES 3

/* POST auth.token as the Authorization header auth, from address (NULL: the
 * loopback connection itself).  Returns the status; r keeps the response. */
static int token_call(const char *auth, const char *address, h_http_response *r)
{
	char xff[96];
	const char *hdrs[4] = { auth, NULL, NULL, NULL };

	if (address) {
		snprintf(xff, sizeof xff, "X-Forwarded-For: %s", address);
		hdrs[1] = xff;
		hdrs[2] = "X-Forwarded-Proto: https";
	}
	if (h_http("POST", "/imhost/api/v1/auth/token", "a.test", hdrs, "{\"ttl\":300}", r) != 0)
		return 0;
	return r->status;
}

/* Status of auth.token for user:pass from address; the response is dropped. */
static int login(const char *user, const char *pass, const char *address)
{
	char *auth = h_basic_auth(user, pass);
	h_http_response r;
	int st = token_call(auth, address, &r);

	h_http_clear(&r);
	free(auth);
	return st;
}

/* Lines of the server log containing needle (no double quotes in it), or -1
 * when grep failed: a count of 0 must mean "not logged". */
static int log_count(const char *needle)
{
	int st;
	char *out = h_run(&st, NULL, "grep -c -F -- \"%s\" '%s'", needle, h_env("ENV_LOG"));
	int n = out && (st == 0 || st == 1) ? atoi(out) : -1;

	free(out);
	return n;
}

static int on_worker(const char *jid)
{
	char needle[128];

	snprintf(needle, sizeof needle, "checking %s's password on a worker", jid);
	return log_count(needle);
}

static int by_provider(const char *user)
{
	char needle[128];

	snprintf(needle, sizeof needle, "test password for user '%s'", user);
	return log_count(needle);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A good password: 200, checked on a worker, never by the provider. */
static char *good_password(void)
{
	char *auth = h_basic_auth("alice@a.test", PW), *bearer = NULL;
	h_http_response r;
	json_t *j;
	const char *tok;
	int st;

	st = token_call(auth, NULL, &r);
	j = h_json(r.body);
	tok = json_string_value(h_find_key(j, "token"));
	CHECK(st == 200 && tok, "Basic with alice's right password: 200 and a token (%d)", st);
	if (tok && asprintf(&bearer, "Authorization: Bearer %s", tok) < 0)
		bearer = NULL;
	json_decref(j);
	h_http_clear(&r);
	CHECK(on_worker("alice@a.test") == 1, "alice's password was checked on a worker (%d log lines)",
	      on_worker("alice@a.test"));
	CHECK(by_provider("alice") == 0, "... and not by the provider on the event loop (%d)", by_provider("alice"));
	/* The second request hits the 60 s cache: no second check. */
	st = token_call(auth, NULL, &r);
	h_http_clear(&r);
	CHECK(st == 200 && on_worker("alice@a.test") == 1, "the same credentials again: 200 from the cache (%d, %d checks)",
	      st, on_worker("alice@a.test"));
	free(auth);

	CHECK(login("bob@a.test", "pw-Secret", NULL) == 401, "Basic with a wrong password: 401");
	CHECK(on_worker("bob@a.test") == 1 && by_provider("bob") == 0,
	      "the wrong password was checked on a worker too (%d, provider %d)", on_worker("bob@a.test"),
	      by_provider("bob"));
	return bearer;
}

/* A host with password_hash = "SHA-256": its records are checked on a worker
 * too (with SHA-256), never by the provider. */
static void sha256_record(void)
{
	int st;
	char *out = h_run(&st, NULL, "grep -c -E 'stored_key.*\"[0-9a-f]{64}\"' '%s/data/b%%2etest/accounts/dave.dat'",
	                  h_env("ENV_DIR"));

	CHECK(out && atoi(out) == 1, "dave@b.test's record is SCRAM-SHA-256 (64 hex digits of stored_key)");
	free(out);
	/* From an address of its own: the limit's tests below count loopback's failures. */
	CHECK(login("dave@b.test", PW, "192.0.2.56") == 200, "Basic with dave@b.test's right password: 200");
	CHECK(on_worker("dave@b.test") == 1 && by_provider("dave") == 0,
	      "... checked on a worker, not by the provider (%d, provider %d)", on_worker("dave@b.test"),
	      by_provider("dave"));
	CHECK(login("dave@b.test", "pw-Secret", "192.0.2.56") == 401, "dave@b.test with a wrong password: 401");
	CHECK(on_worker("dave@b.test") == 2 && by_provider("dave") == 0,
	      "... checked on a worker too (%d, provider %d)", on_worker("dave@b.test"), by_provider("dave"));
}

/* SASLprep: uni registered "pw secret" (a space); a no-break space maps to it. */
static void saslprep(void)
{
	CHECK(login("uni@a.test", "pw\xc2\xa0secret", NULL) == 200,
	      "a no-break space where the password has a space: 200 (SASLprepped on the loop)");
	CHECK(login("uni@a.test", "pw\x07secret", NULL) == 401,
	      "a password SASLprep prohibits (a control character): 401");
}

/* A plaintext record: the provider checks it on the loop and rewrites it hashed. */
static void legacy_record(void)
{
	int st;
	char *rec;

	CHECK(login("legacy@a.test", "old-plain-pw", NULL) == 200, "a legacy plaintext record: 200");
	CHECK(by_provider("legacy") >= 1 && on_worker("legacy@a.test") == 0,
	      "... checked by the provider, as before (%d, worker %d)", by_provider("legacy"),
	      on_worker("legacy@a.test"));
	rec = h_run(&st, NULL, "cat '%s/data/a%%2etest/accounts/legacy.dat'", h_env("ENV_DIR"));
	CHECK(rec && strstr(rec, "stored_key") && !strstr(rec, "old-plain-pw"),
	      "... which upgraded the record to a hashed one");
	free(rec);
}

/* 100,000,000 iterations: refused before hashing (that would take ~30 s). */
static void corrupt_record(void)
{
	struct timespec t0;
	int st;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = login("corrupt@a.test", "pencil", "203.0.113.99");
	ms = ms_since(&t0);
	CHECK(st == 401 && ms < 2000, "a record with 100,000,000 iterations: 401 at once (%d in %.0f ms)", st, ms);
	CHECK(log_count("corrupt@a.test refused: its stored credentials are corrupt") == 1,
	      "... and the server log says why");
	CHECK(by_provider("corrupt") == 0, "... the provider never hashed it on the loop");
}

static void limit(const char *bearer)
{
	const char *ip = "198.51.100.7", *other = "192.0.2.9";
	char *auth = h_basic_auth("bob@a.test", "wrong"), *ra = NULL;
	h_http_response r;
	json_t *j;
	int i, st, checks, retry = 0;

	for (i = 1; i <= MAX_FAILURES; i++)
		CHECK(login("bob@a.test", "wrong", ip) == 401, "failure %d of %d from %s: 401", i, MAX_FAILURES, ip);
	checks = on_worker("bob@a.test");
	st = token_call(auth, ip, &r);
	j = h_json(r.body);
	ra = h_http_header(&r, "Retry-After");
	retry = ra ? atoi(ra) : 0;
	CHECK(st == 429, "failure %d from %s: 429 (%d)", MAX_FAILURES + 1, ip, st);
	CHECK(retry >= 1 && retry <= 2, "... with Retry-After within the 2 s window (%s)", ra ? ra : "none");
	CHECK(strcmp(h_err_code(j), "rate_limited") == 0 &&
	      json_is_string(json_object_get(json_object_get(j, "error"), "message")),
	      "... and the API's JSON error, code rate_limited (%s)", r.body ? r.body : "");
	free(ra);
	json_decref(j);
	h_http_clear(&r);
	free(auth);

	CHECK(login("bob@a.test", PW, ip) == 429, "the right password from that address in the window: 429");
	CHECK(on_worker("bob@a.test") == checks, "... no password was checked for the refused requests (%d, %d)",
	      on_worker("bob@a.test"), checks);
	if (bearer) {
		st = token_call(bearer, ip, &r);
		h_http_clear(&r);
		CHECK(st == 200, "a bearer token from the blocked address still works (%d)", st);
	} else {
		CHECK(0, "no bearer token to try");
	}
	CHECK(login("bob@a.test", PW, NULL) == 200, "the right password from loopback (another address): 200");
	CHECK(login("bob@a.test", PW, ip) == 429,
	      "another address's success does not reset the blocked one, nor do its cached credentials pass");

	/* A success does not reset the address's own count either. */
	CHECK(login("carol@a.test", "wrong", other) == 401 && login("carol@a.test", "wrong", other) == 401,
	      "two failures from %s", other);
	CHECK(login("carol@a.test", PW, other) == 200, "then a success from %s: 200", other);
	CHECK(login("carol@a.test", "wrong", other) == 401, "a third failure: 401");
	CHECK(login("carol@a.test", PW, other) == 429, "then %s is refused: the success had not cleared its count", other);

	/* The block ends with its window. */
	sleep((unsigned)(retry > 0 ? retry : 2) + 1);
	CHECK(login("bob@a.test", PW, ip) == 200, "after Retry-After, the right password from %s: 200", ip);
}

/* IPv6 failures count per /64: a client holding a network cannot reset its
 * count by taking a fresh address for every guess. */
static void limit_ipv6(void)
{
	char ip[64];
	int i;

	for (i = 1; i <= MAX_FAILURES; i++) {
		snprintf(ip, sizeof ip, "2001:db8:7:1::%d", i);
		CHECK(login("carol@a.test", "wrong", ip) == 401, "failure %d of %d from %s: 401", i, MAX_FAILURES, ip);
	}
	CHECK(login("carol@a.test", PW, "2001:db8:7:1:ffff::99") == 429,
	      "then another address of 2001:db8:7:1::/64, with the right password: 429");
	CHECK(login("carol@a.test", PW, "2001:db8:7:2::1") == 200, "an address of the next /64: 200");

	for (i = 1; i <= MAX_FAILURES; i++)
		CHECK(login("carol@a.test", "wrong", "192.0.2.201") == 401, "failure %d of %d from 192.0.2.201", i,
		      MAX_FAILURES);
	CHECK(login("carol@a.test", PW, "::ffff:192.0.2.201") == 429,
	      "then ::ffff:192.0.2.201 (IPv4-mapped) counts as that IPv4 address: 429");
}

/* Checks still running count against the limit: eight wrong passwords sent at
 * once from one address, for an account whose record takes a worker ~0.3 s to
 * hash, start MAX_FAILURES checks (401) and are refused beyond (429), where a
 * limit that counted only finished failures would have hashed all eight. */
static void limit_in_flight(void)
{
	char *out, *line, *save = NULL;
	int st, n401 = 0, n429 = 0;

	out = h_run(&st, NULL,
	            "for i in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null -w '%%{http_code}\\n' "
	            "-u 'slow@a.test:wrong' -H 'Host: a.test' -H 'X-Forwarded-For: 198.51.100.88' "
	            "-H 'X-Forwarded-Proto: https' --data '{\"ttl\":300}' "
	            "http://127.0.0.1:%s/imhost/api/v1/auth/token & done; wait",
	            h_env("ENV_HTTP_PORT"));
	for (line = out ? strtok_r(out, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		n401 += strcmp(line, "401") == 0;
		n429 += strcmp(line, "429") == 0;
	}
	free(out);
	CHECK(n401 == MAX_FAILURES && n429 == 8 - MAX_FAILURES,
	      "8 wrong passwords at once from one address: %d checked (401), %d refused (429)", n401, n429);
	CHECK(on_worker("slow@a.test") == MAX_FAILURES, "... and %d hashed on a worker", on_worker("slow@a.test"));
}

int main(void)
{
	char *bearer = good_password();

	saslprep();
	sha256_record();
	legacy_record();
	corrupt_record();
	limit(bearer);
	limit_ipv6();
	limit_in_flight();
	free(bearer);
	return h_finish();
}
