/* test_logs.c — interaction logs end to end, through a real Prosody with
 * mod_imhost (environment: test_logs.env).
 *
 * The story: alice and bob chat on a.test (bodies logged), carol and alice
 * talk in garden@rooms.a.test, dave and erin chat on b.test (metadata only),
 * frank and gina say something and later lose their accounts.  Then the
 * logs are searched, counted, exported and purged through all four surfaces,
 * bad input is thrown at them, and the database is locked under the server.
 *
 * Words are unique per topic (quokka: 1:1 chat, garden: room, walrus: b.test,
 * ...) so every count below is exact. */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PW "pw-secret"
#define BIG (1024 * 1024)

static char *auth_admin, *auth_bob;
static time_t t_start;

/* ---- the HTTP API --------------------------------------------------------------- */

/* Calls op over HTTP on a.test as auth (see h_api). */
static int api(const char *method, const char *auth, const char *op,
	       const char *const *kv, const char *body, json_t **out)
{
	return h_api(method, "a.test", auth, op, kv, body, out);
}

/* logs.search as admin: the items array (new reference), NULL on an error. */
static json_t *search(const char *const *kv)
{
	json_t *res = NULL, *items;
	int st = api("GET", auth_admin, "logs.search", kv, NULL, &res);

	items = json_object_get(res, "items");
	if (st != 200 || !json_is_array(items)) {
		h_note("logs.search -> %d %s", st, h_err_code(res));
		json_decref(res);
		return NULL;
	}
	json_incref(items);
	json_decref(res);
	return items;
}

static long count(const char *const *kv)
{
	json_t *items = search(kv);
	long n = items ? (long)json_array_size(items) : -1;

	json_decref(items);
	return n;
}

/* Polls logs.search until it returns want items (writes are batched and
 * committed within about a second) or timeout_ms passes; returns the last
 * count seen. */
static long await_count(const char *const *kv, long want, int timeout_ms)
{
	long n = -1;

	for (int waited = 0; waited <= timeout_ms; waited += 250) {
		n = count(kv);
		if (n == want)
			break;
		h_pump(250);	/* keeps the XMPP clients alive meanwhile */
	}
	return n;
}

static int is_true(json_t *v)
{
	return json_is_true(v) || (json_is_integer(v) && json_integer_value(v) != 0);
}

/* Bare JID of a logged address (the core may keep the resource). */
static int jid_is(json_t *v, const char *bare)
{
	const char *s = json_string_value(v);
	size_t n = strlen(bare);

	return s && strncmp(s, bare, n) == 0 && (s[n] == '\0' || s[n] == '/');
}

static void fmt_time(char *buf, size_t size, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* ---- the conversations ------------------------------------------------------------ */

static void deliver(h_client *from, h_client *to, const char *to_jid,
		    const char *id, const char *body)
{
	xmpp_stanza_t *m;

	h_send_message(from, to_jid, "chat", id, body);
	m = h_await(to, h_pred_body, body, 5000);
	CHECK(m != NULL, "%s receives \"%s\"", to_jid, body);
	if (m)
		xmpp_stanza_release(m);
}

static void converse(h_client *alice, h_client *bob, h_client *carol,
		     h_client *dave, h_client *erin, h_client *frank, h_client *gina)
{
	xmpp_stanza_t *m;

	deliver(alice, bob, "bob@a.test", "q1", "hello quokka one");
	deliver(bob, alice, "alice@a.test", "q2", "reply quokka two");
	deliver(alice, bob, "bob@a.test", "q3", "a third quokka message");

	CHECK(h_join_room(carol, "garden@rooms.a.test", "carol") == 0, "carol creates garden@rooms.a.test");
	CHECK(h_join_room(alice, "garden@rooms.a.test", "alice") == 0, "alice joins the garden");
	h_send_message(carol, "garden@rooms.a.test", "groupchat", "g1", "the garden hedgehog sleeps");
	m = h_await(alice, h_pred_body, "the garden hedgehog sleeps", 5000);
	CHECK(m != NULL, "alice hears carol in the room");
	if (m)
		xmpp_stanza_release(m);
	h_send_message(alice, "garden@rooms.a.test", "groupchat", "g2", "garden answer hedgehog");
	m = h_await(carol, h_pred_body, "garden answer hedgehog", 5000);
	CHECK(m != NULL, "carol hears alice in the room");
	if (m)
		xmpp_stanza_release(m);

	deliver(dave, erin, "erin@b.test", "w1", "secret walrus plans");
	deliver(frank, alice, "alice@a.test", "f1", "frank says pelican");
	deliver(gina, alice, "alice@a.test", "t1", "gina says toucan");
}

/* A 1 MB body: routing must not suffer; the log keeps a truncated copy. */
static void big_body(h_client *alice, h_client *bob)
{
	char *body = malloc(BIG + 1), *got;
	xmpp_stanza_t *m;

	if (body == NULL)
		return;
	memset(body, 'x', BIG);
	memcpy(body, "bigbody ", 8);
	body[BIG] = '\0';
	h_send_message(alice, "bob@a.test", "chat", "big1", body);
	m = h_await(bob, h_pred_body_prefix, "bigbody ", 15000);
	got = m ? xmpp_message_get_body(m) : NULL;
	CHECK(got && strlen(got) == BIG, "bob receives the whole 1 MB body (%zu bytes)",
	      got ? strlen(got) : 0);
	if (got)
		xmpp_free(h_ctx(), got);
	if (m)
		xmpp_stanza_release(m);
	free(body);
}

/* ---- what the log shows ------------------------------------------------------------- */

static void searches(void)
{
	const char *kw[] = { "keyword", "quokka", NULL };
	const char *kw_alice[] = { "keyword", "quokka", "user", "alice@a.test", NULL };
	const char *kw_bob[] = { "keyword", "quokka", "user", "bob@a.test", NULL };
	const char *room[] = { "room", "garden@rooms.a.test", NULL };
	const char *carol[] = { "user", "carol@a.test", "keyword", "hedgehog", NULL };
	const char *phrase[] = { "keyword", "\"quokka one\"", NULL };
	const char *prefix[] = { "keyword", "quok*", NULL };
	const char *limit[] = { "keyword", "quokka", "limit", "2", NULL };
	json_t *items, *it;
	long n;

	n = await_count(kw, 3, 5000);
	CHECK(n == 3, "keyword quokka finds the 3 chat messages (%ld)", n);
	items = search(kw);
	it = json_array_get(items, 0);
	if (CHECK(it != NULL, "search returns items")) {
		const char *fields[] = { "id", "ts", "domain", "from", "to", "room", "kind",
					 "stanza_id", "size", "body", "encrypted", "truncated" };
		size_t i, missing = 0;

		for (i = 0; i < sizeof fields / sizeof *fields; i++)
			if (json_object_get(it, fields[i]) == NULL) {
				h_note("item lacks \"%s\"", fields[i]);
				missing++;
			}
		CHECK(missing == 0, "an item has every documented field");
		CHECK(json_is_string(json_object_get(it, "body")) &&
		      strstr(json_string_value(json_object_get(it, "body")), "quokka"),
		      "bodies are logged on a.test");
		CHECK(strcmp(json_string_value(json_object_get(it, "kind")) ?: "", "chat") == 0,
		      "kind is chat");
		CHECK(strcmp(json_string_value(json_object_get(it, "domain")) ?: "", "a.test") == 0,
		      "domain is a.test");
		CHECK(json_integer_value(json_object_get(it, "ts")) >= t_start - 1 &&
		      json_integer_value(json_object_get(it, "ts")) <= time(NULL) + 1,
		      "ts is the UTC epoch second it was sent");
		CHECK(!is_true(json_object_get(it, "truncated")), "not truncated");
	}
	n = 0;
	{
		size_t i;

		json_array_foreach(items, i, it)
			if (jid_is(json_object_get(it, "from"), "alice@a.test") &&
			    jid_is(json_object_get(it, "to"), "bob@a.test") &&
			    strcmp(json_string_value(json_object_get(it, "stanza_id")) ?: "", "q1") == 0)
				n++;
	}
	CHECK(n == 1, "alice's first message is there with from, to and stanza_id q1");
	json_decref(items);

	n = count(kw_alice);

	CHECK(n == 3, "user=alice finds them, sent and received (%ld)", n);
	n = count(kw_bob);
	CHECK(n == 3, "user=bob finds them too (%ld)", n);
	n = count(phrase);
	CHECK(n == 1, "a quoted phrase matches one message (%ld)", n);
	n = count(prefix);
	CHECK(n == 3, "a prefix quok* matches all three (%ld)", n);
	n = count(room);
	CHECK(n == 2, "room=garden finds both room messages (%ld)", n);
	items = search(room);
	it = json_array_get(items, 0);
	CHECK(it && strcmp(json_string_value(json_object_get(it, "kind")) ?: "", "groupchat") == 0 &&
	      jid_is(json_object_get(it, "room"), "garden@rooms.a.test"),
	      "room entries are groupchat with the room's JID");
	json_decref(items);
	n = count(carol);
	CHECK(n == 1, "user=carol keyword=hedgehog: what she said in the room (%ld)", n);

	{	/* paging */
		json_t *res = NULL, *res2 = NULL;
		const char *cur;
		int st = api("GET", auth_admin, "logs.search", limit, NULL, &res);

		cur = json_string_value(json_object_get(res, "next_cursor"));
		CHECK(st == 200 && json_array_size(json_object_get(res, "items")) == 2 && cur,
		      "limit=2 returns 2 items and a next_cursor");
		if (cur) {
			const char *page2[] = { "keyword", "quokka", "limit", "2", "cursor", cur, NULL };

			st = api("GET", auth_admin, "logs.search", page2, NULL, &res2);
			CHECK(st == 200 && json_array_size(json_object_get(res2, "items")) == 1,
			      "the cursor returns the third");
		}
		json_decref(res);
		json_decref(res2);
	}
}

/* since/until, as dates in UTC and in a time zone. */
static void ranges(void)
{
	char tokyo_before[32], utc_before[32], tokyo_long_ago[32];
	time_t now = time(NULL);
	long n;

	/* 10 minutes before the messages, as Tokyo (UTC+9, no DST) wall time */
	fmt_time(tokyo_before, sizeof tokyo_before, t_start - 600 + 9 * 3600);
	fmt_time(utc_before, sizeof utc_before, t_start - 600);
	fmt_time(tokyo_long_ago, sizeof tokyo_long_ago, now - 7200 + 9 * 3600);
	{
		const char *kv[] = { "keyword", "quokka", "since", utc_before, NULL };

		n = count(kv);

		CHECK(n == 3, "since=%s (UTC) includes them (%ld)", utc_before, n);
	}
	{
		const char *kv[] = { "keyword", "quokka", "since", tokyo_before, "tz", "Asia/Tokyo", NULL };

		n = count(kv);

		CHECK(n == 3, "since=%s tz=Asia/Tokyo includes them (%ld)", tokyo_before, n);
	}
	{	/* the same wall time read as UTC lies 9 h in the future */
		const char *kv[] = { "keyword", "quokka", "since", tokyo_before, NULL };

		n = count(kv);

		CHECK(n == 0, "since=%s without tz (UTC) excludes them (%ld)", tokyo_before, n);
	}
	{
		const char *kv[] = { "keyword", "quokka", "until", tokyo_long_ago, "tz", "Asia/Tokyo", NULL };

		n = count(kv);

		CHECK(n == 0, "until=2 h ago (Tokyo time) excludes them (%ld)", n);
	}
	{
		const char *kv[] = { "keyword", "quokka", "since", "-1h", NULL };

		n = count(kv);

		CHECK(n == 3, "since=-1h includes them (%ld)", n);
	}
}

/* Sum of "count"/"value" numbers in every array of objects in j. */
static long long trend_total(json_t *j)
{
	long long sum = 0;
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			json_t *c = json_object_get(v, "count");

			if (!json_is_integer(c))
				c = json_object_get(v, "value");
			if (json_is_integer(c))
				sum += json_integer_value(c);
			else
				sum += trend_total(v);
		}
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			sum += trend_total(v);
	}
	return sum;
}

static void trends_users_export_status(void)
{
	const char *msgs[] = { "domain", "a.test", "metric", "messages", "granularity", "hour",
			       "since", "-1d", NULL };
	const char *bad_metric[] = { "domain", "a.test", "metric", "bananas", NULL };
	const char *users[] = { "domain", "a.test", NULL };
	const char *exp[] = { "user", "alice@a.test", NULL };
	json_t *res = NULL;
	char *dump;
	long long total;
	int st;

	st = api("GET", auth_admin, "logs.trends", msgs, NULL, &res);
	total = trend_total(res);
	/* a.test: 3 quokka + 2 room + pelican + toucan + the 1 MB one = 8 */
	CHECK(st == 200 && total == 8, "trends: messages per hour on a.test add up to 8 (%d, %lld)",
	      st, total);
	json_decref(res);
	st = api("GET", auth_admin, "logs.trends", bad_metric, NULL, &res);
	CHECK(st == 400 && strcmp(h_err_code(res), "invalid") == 0 &&
	      strcmp(h_err_param(res), "metric") == 0, "an unknown metric is invalid, param metric (%d)", st);
	json_decref(res);

	st = api("GET", auth_admin, "logs.users", users, NULL, &res);
	dump = json_dumps(res, 0);
	CHECK(st == 200 && dump && strstr(dump, "alice@a.test") && strstr(dump, "carol@a.test") &&
	      !strstr(dump, "dave@b.test"), "logs.users lists a.test's users only (%d)", st);
	free(dump);
	json_decref(res);

	st = api("GET", auth_admin, "logs.export", exp, NULL, &res);
	dump = json_dumps(res, 0);
	CHECK(st == 200 && dump && strstr(dump, "hello quokka one") && strstr(dump, "reply quokka two") &&
	      strstr(dump, "garden answer hedgehog") && !strstr(dump, "walrus"),
	      "logs.export of alice: sent and received chats, what she said in the room (%d)", st);
	free(dump);
	json_decref(res);

	st = api("GET", auth_admin, "logs.status", NULL, NULL, &res);
	CHECK(st == 200 && json_is_false(h_find_key(res, "degraded")), "logs.status: not degraded (%d)", st);
	CHECK(json_integer_value(h_find_key(res, "written")) >= 9, "logs.status counts what was written");
	json_decref(res);
}

static void metadata_only(void)
{
	const char *kv[] = { "domain", "b.test", "user", "dave@b.test", NULL };
	const char *kw[] = { "keyword", "walrus", NULL };
	json_t *items = NULL, *it, *body;
	long n;

	n = await_count(kv, 1, 3000);
	CHECK(n == 1, "b.test: dave's message is logged (%ld)", n);
	items = search(kv);
	it = json_array_get(items, 0);
	body = json_object_get(it, "body");
	CHECK(it && (body == NULL || json_is_null(body)) &&
	      json_integer_value(json_object_get(it, "size")) > 0 &&
	      jid_is(json_object_get(it, "to"), "erin@b.test"),
	      "imhost_log_bodies off: metadata (to, size) but no body");
	json_decref(items);
	n = count(kw);
	CHECK(n == 0, "and its words cannot be found (%ld)", n);
}

static void truncated(void)
{
	const char *kv[] = { "keyword", "bigbody", NULL };
	json_t *items, *it;
	const char *body;

	await_count(kv, 1, 5000);
	items = search(kv);
	it = json_array_get(items, 0);
	body = json_string_value(json_object_get(it, "body"));
	CHECK(it != NULL, "the 1 MB message is logged");
	CHECK(is_true(json_object_get(it, "truncated")), "with truncated=1");
	CHECK(body && strlen(body) < BIG && strncmp(body, "bigbody ", 8) == 0,
	      "its stored body is a prefix, shorter than 1 MB (%zu)", body ? strlen(body) : 0);
	CHECK(json_integer_value(json_object_get(it, "size")) >= BIG, "size is the full stanza size");
	json_decref(items);
}

/* ---- bad input ------------------------------------------------------------------------- */

static void bad_input(void)
{
	static const char *const nasty[] = {
		"\"", "AND", "NEAR(", "*", "(", "quokka AND", "\"quokka", "OR quokka",
		"NOT", "-quokka", "quokka)", "^", "col:quokka", "'; DROP TABLE log; --", ""
	};
	const char *unknown[] = { "user", "nobody@a.test", NULL };
	const char *bad_dates[][2] = { { "since", "2024-13-45" }, { "until", "yesterday" },
				       { "since", "2024-02-30T25:61" }, { "until", "-7x" } };
	json_t *res;
	size_t i;
	int st;

	for (i = 0; i < sizeof nasty / sizeof *nasty; i++) {
		const char *kv[] = { "keyword", nasty[i], NULL };

		res = NULL;
		st = api("GET", auth_admin, "logs.search", kv, NULL, &res);
		CHECK(st == 200 && json_is_array(json_object_get(res, "items")),
		      "keyword [%s] is searched, not an error (%d %s)", nasty[i], st, h_err_code(res));
		json_decref(res);
	}
	for (i = 0; i < sizeof bad_dates / sizeof *bad_dates; i++) {
		const char *kv[] = { bad_dates[i][0], bad_dates[i][1], NULL };

		res = NULL;
		st = api("GET", auth_admin, "logs.search", kv, NULL, &res);
		CHECK(st == 400 && strcmp(h_err_code(res), "invalid") == 0 &&
		      strcmp(h_err_param(res), bad_dates[i][0]) == 0,
		      "%s=%s is invalid, naming %s (%d %s %s)", bad_dates[i][0], bad_dates[i][1],
		      bad_dates[i][0], st, h_err_code(res), h_err_param(res));
		json_decref(res);
	}
	res = NULL;
	st = api("GET", auth_admin, "logs.search", unknown, NULL, &res);
	CHECK(st == 200 && json_array_size(json_object_get(res, "items")) == 0,
	      "an unknown user gives an empty result (%d)", st);
	json_decref(res);
	{
		const char *tz[] = { "keyword", "quokka", "since", "2024-01-01", "tz", "Mars/Olympus", NULL };

		res = NULL;
		st = api("GET", auth_admin, "logs.search", tz, NULL, &res);
		CHECK(st == 400 && strcmp(h_err_code(res), "invalid") == 0,
		      "an unknown time zone is invalid (%d %s)", st, h_err_param(res));
		json_decref(res);
	}
	res = NULL;
	st = api("POST", auth_admin, "logs.erase", NULL, "{not json", &res);
	CHECK(st == 400, "a POST body that is not JSON is 400 (%d)", st);
	json_decref(res);
}

/* ---- who may ask ----------------------------------------------------------------------- */

/* The op names the OpenAPI document lists (its paths are "/logs/search"...),
 * with their HTTP method.  Returns how many were stored. */
static size_t openapi_ops(char ops[][64], char methods[][8], size_t max)
{
	json_t *doc = NULL, *paths, *item;
	const char *path;
	size_t n = 0;
	int st = api("GET", NULL, "openapi.json", NULL, NULL, &doc);

	CHECK(st == 200, "GET openapi.json without credentials is 200 (%d)", st);
	CHECK(json_string_value(json_object_get(doc, "openapi")) &&
	      json_string_value(json_object_get(doc, "openapi"))[0] == '3', "it is OpenAPI 3");
	paths = json_object_get(doc, "paths");
	json_object_foreach(paths, path, item) {
		const char *p = strstr(path, "/api/v1/");
		char *d;

		p = p ? p + strlen("/api/v1/") : path + (path[0] == '/');
		if (n == max || strlen(p) >= 64)
			break;
		snprintf(ops[n], 64, "%s", p);
		for (d = ops[n]; *d; d++)
			if (*d == '/')
				*d = '.';
		snprintf(methods[n], 8, "%s", json_object_get(item, "post") ? "POST" : "GET");
		n++;
	}
	json_decref(doc);
	return n;
}

static int listed(char ops[][64], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ops[i], name) == 0)
			return 1;
	return 0;
}

static void refusals(h_client *bob)
{
	static const char *const spec_ops[] = { "logs.search", "logs.trends", "logs.export",
		"logs.erase", "logs.retention", "logs.users", "logs.status", "auth.token" };
	char ops[256][64], methods[256][8];
	size_t n = openapi_ops(ops, methods, sizeof ops / sizeof ops[0]), i, logs_ops = 0;
	char *wrong = h_basic_auth("admin@a.test", "not-the-password");
	json_t *res;
	int st;

	for (i = 0; i < sizeof spec_ops / sizeof *spec_ops; i++)
		CHECK(listed(ops, n, spec_ops[i]), "openapi.json lists %s", spec_ops[i]);
	for (i = 0; i < n; i++) {
		/* harmless parameters, should a refusal ever fail to happen */
		const char *kv[] = { "user", "nobody@a.test", "domain", "b.test", NULL };
		const char *body = "{\"user\":\"nobody@a.test\",\"domain\":\"b.test\",\"days\":30}";
		int post = strcmp(methods[i], "POST") == 0;
		h_adhoc_result r;
		int rc;

		if (strncmp(ops[i], "logs.", 5) != 0)
			continue;
		logs_ops++;
		res = NULL;
		st = api(methods[i], auth_bob, ops[i], post ? NULL : kv, post ? body : NULL, &res);
		CHECK(st == 403 && strcmp(h_err_code(res), "forbidden") == 0,
		      "HTTP %s %s as bob (not an admin): 403 forbidden (%d %s)", methods[i], ops[i],
		      st, h_err_code(res));
		json_decref(res);
		res = NULL;
		st = api(methods[i], NULL, ops[i], post ? NULL : kv, post ? body : NULL, &res);
		CHECK(st == 401, "HTTP %s without credentials: 401 (%d)", ops[i], st);
		json_decref(res);
		res = NULL;
		st = api(methods[i], wrong, ops[i], post ? NULL : kv, post ? body : NULL, &res);
		CHECK(st == 401, "HTTP %s with a wrong password: 401 (%d)", ops[i], st);
		json_decref(res);

		rc = h_adhoc(bob, ops[i], kv, &r);
		CHECK(rc != 0 && r.error && r.json == NULL,
		      "ad-hoc %s as bob is refused (%s)", ops[i], r.error ? r.error : "no error!");
		h_adhoc_clear(&r);
	}
	CHECK(logs_ops >= 7, "the refusal loop covered %zu logs.* operations", logs_ops);
	free(wrong);
}

static void tokens(void)
{
	const char *kw[] = { "keyword", "quokka", NULL };
	json_t *res = NULL, *r2 = NULL;
	const char *tok;
	char *bearer = NULL;
	int st;

	st = api("POST", auth_admin, "auth.token", NULL, "{\"ttl\":300}", &res);
	tok = json_string_value(h_find_key(res, "token"));
	CHECK(st == 200 && tok && *tok, "admin gets a bearer token (%d)", st);
	if (tok && asprintf(&bearer, "Authorization: Bearer %s", tok) > 0) {
		st = api("GET", bearer, "logs.search", kw, NULL, &r2);
		CHECK(st == 200 && json_array_size(json_object_get(r2, "items")) == 3,
		      "the token authorizes logs.search (%d)", st);
		json_decref(r2);
		r2 = NULL;
		free(bearer);
		bearer = NULL;
	}
	json_decref(res);
	res = NULL;
	st = api("POST", auth_bob, "auth.token", NULL, "{\"ttl\":300}", &res);
	tok = json_string_value(h_find_key(res, "token"));
	CHECK(st == 200 && tok, "bob (any user) gets a token for himself (%d)", st);
	if (tok && asprintf(&bearer, "Authorization: Bearer %s", tok) > 0) {
		st = api("GET", bearer, "logs.search", kw, NULL, &r2);
		CHECK(st == 403, "bob's token does not open logs.search (%d)", st);
		json_decref(r2);
		free(bearer);
	}
	json_decref(res);
	res = NULL;
	st = api("GET", "Authorization: Bearer not-a-real-token", "logs.search", kw, NULL, &res);
	CHECK(st == 401, "an invented token is 401 (%d)", st);
	json_decref(res);
}

/* ---- the other surfaces ----------------------------------------------------------------- */

static void adhoc_admin(h_client *admin)
{
	const char *kv[] = { "keyword", "quokka", NULL };
	const char *bad[] = { "since", "2024-13-45", NULL };
	h_adhoc_result r;
	json_t *j;
	int rc;

	rc = h_adhoc(admin, "logs.search", kv, &r);
	j = h_json(r.json);
	CHECK(rc == 0 && json_array_size(json_object_get(j, "items")) == 3,
	      "ad-hoc logs.search as admin: json has the 3 messages (%s)", r.error ? r.error : "ok");
	CHECK(r.text && strstr(r.text, "quokka"), "and the text result shows them");
	json_decref(j);
	h_adhoc_clear(&r);
	rc = h_adhoc(admin, "logs.search", bad, &r);
	CHECK(rc != 0 && r.error && strstr(r.error, "since"),
	      "ad-hoc with a bad date: an error note naming since (%s)", r.error ? r.error : "none");
	h_adhoc_clear(&r);
}

static void cli_and_shell(void)
{
	const char *cfg = h_env("ENV_CFG");
	char *out, *err;
	json_t *j;
	int st;

	out = h_run(&st, &err, "prosodyctl --config '%s' mod_imhost logs.search keyword=quokka --json", cfg);
	j = h_json(out);
	CHECK(st == 0 && json_array_size(json_object_get(j, "items")) == 3,
	      "CLI logs.search --json finds the 3 messages (exit %d%s%.200s)", st,
	      err && *err ? ", stderr: " : "", err ? err : "");
	json_decref(j);
	free(out);
	free(err);
	out = h_run(&st, &err, "prosodyctl --config '%s' mod_imhost logs.search keyword=hedgehog", cfg);
	CHECK(st == 0 && out && strstr(out, "hedgehog"), "CLI text output shows the room messages");
	free(out);
	free(err);
	out = h_run(&st, &err, "prosodyctl --config '%s' mod_imhost logs.search since=2024-13-45", cfg);
	CHECK(st == 1 && err && strstr(err, "since"), "CLI: a bad date exits 1 with the reason on stderr (%d)", st);
	free(out);
	free(err);
	out = h_run(&st, &err, "prosodyctl --config '%s' mod_imhost help", cfg);
	CHECK(st == 0 && out && strstr(out, "logs.search") && strstr(out, "logs.erase"),
	      "CLI help lists the operations");
	free(out);
	free(err);
	out = h_run(&st, &err, "prosodyctl --config '%s' shell imhost logs_search keyword=quokka", cfg);
	CHECK(out && strstr(out, "quokka"), "the admin shell (live) finds them too (exit %d)", st);
	free(out);
	free(err);
	/* The glue decodes declarations on demand (no resident registry): help for one
	 * operation, and the shell's own listing, come from the C registry. */
	out = h_run(&st, &err, "prosodyctl --config '%s' mod_imhost help logs.search", cfg);
	CHECK(st == 0 && out && strstr(out, "keyword=<string>") && strstr(out, "tz=<zone>"),
	      "CLI help of one operation lists its parameters");
	free(out);
	free(err);
	out = h_run(&st, &err, "prosodyctl --config '%s' shell imhost help", cfg);
	CHECK(out && strstr(out, "imhost:logs_search(...)") && strstr(out, "imhost:logs_erase(...)"),
	      "the admin shell's imhost:help() lists the operations (exit %d)", st);
	free(out);
	free(err);
}

/* ---- removing entries -------------------------------------------------------------------- */

static void retention(void)
{
	const char *b[] = { "domain", "b.test", NULL };
	const char *a[] = { "keyword", "quokka", NULL };
	json_t *res = NULL;
	long n;
	int st;

	/* entries must be older than "now - 0 days": let a second pass */
	h_pump(1500);
	st = api("POST", auth_admin, "logs.retention", NULL, "{\"domain\":\"b.test\",\"days\":0}", &res);
	CHECK(st == 200, "logs.retention domain=b.test days=0 (%d %s)", st, h_err_code(res));
	json_decref(res);
	n = await_count(b, 0, 3000);
	CHECK(n == 0, "b.test's entries are gone (%ld)", n);
	n = count(a);
	CHECK(n == 3, "a.test's are untouched (%ld)", n);
	res = NULL;
	st = api("POST", auth_admin, "logs.retention", NULL, "{\"domain\":\"b.test\",\"days\":-1}", &res);
	CHECK(st == 400 && strcmp(h_err_param(res), "days") == 0, "days=-1 is invalid (%d)", st);
	json_decref(res);
}

static void inband_delete(h_client **frank)
{
	const char *kv[] = { "user", "frank@a.test", NULL };
	const char *kw[] = { "keyword", "pelican", NULL };
	long n;

	n = count(kv);

	CHECK(n == 1, "frank's message is logged (%ld)", n);
	CHECK(h_unregister(*frank) == 0, "frank deletes his account in-band");
	h_disconnect(*frank);
	*frank = NULL;
	n = await_count(kv, 0, 5000);
	CHECK(n == 0, "his entries are erased (%ld)", n);
	n = count(kw);
	CHECK(n == 0, "his words are no longer found (%ld)", n);
}

static void locked_database(h_client *alice, h_client *bob)
{
	const char *kw[] = { "keyword", "narwhal", NULL };
	char db[1024];
	json_t *res;
	char *out, *err;
	int st, degraded = 0;
	long n;

	snprintf(db, sizeof db, "%s/data/imhost.sqlite", h_env("ENV_DIR"));
	/* another process holds the write lock for 6 s (in the background) */
	out = h_run(&st, NULL, "(echo 'BEGIN EXCLUSIVE;'; sleep 6; echo 'COMMIT;') | "
		    "sqlite3 '%s' >/dev/null 2>&1 &", db);
	free(out);
	h_pump(500);
	out = h_run(&st, &err, "sqlite3 -cmd '.timeout 0' '%s' 'BEGIN IMMEDIATE; ROLLBACK;'", db);
	CHECK(st != 0 && err && strstr(err, "locked"), "another process holds the database locked");
	free(out);
	free(err);
	deliver(alice, bob, "bob@a.test", "n1", "the narwhal arrives while locked");
	for (int waited = 0; waited < 5000 && !degraded; waited += 250) {
		res = NULL;
		if (api("GET", auth_admin, "logs.status", NULL, NULL, &res) == 200)
			degraded = is_true(h_find_key(res, "degraded"));
		json_decref(res);
		if (!degraded)
			h_pump(250);
	}
	CHECK(degraded, "logs.status shows degraded while it cannot write");
	deliver(bob, alice, "alice@a.test", "n2", "routing goes on narwhal");
	n = await_count(kw, 2, 15000);
	CHECK(n == 2, "after the lock is released the entries appear (%ld)", n);
	res = NULL;
	api("GET", auth_admin, "logs.status", NULL, NULL, &res);
	CHECK(json_is_false(h_find_key(res, "degraded")), "and logs.status recovers");
	json_decref(res);
}

/* prosodyctl deluser while the server is down: imhost notices at start. */
static void reconciliation(void)
{
	const char *kv[] = { "user", "gina@a.test", NULL };
	long n;

	n = count(kv);

	CHECK(n == 1, "gina's message is logged (%ld)", n);
	CHECK(h_envctl("stop") == 0, "the server stops");
	CHECK(h_envctl("prosodyctl deluser gina@a.test >/dev/null") == 0,
	      "prosodyctl deluser gina@a.test while it is down");
	CHECK(h_envctl("launch") == 0, "the server starts again");
	n = await_count(kv, 0, 10000);
	CHECK(n == 0, "gina's entries are gone after the start (%ld)", n);
	n = count((const char *[]){ "keyword", "quokka", NULL });
	CHECK(n == 3,
	      "everyone else's are still there (%ld)", n);
}

/* logs.erase by an admin: pseudonymize keeps the entries without the person,
 * delete removes them. */
static void erase(void)
{
	const char *carol[] = { "user", "carol@a.test", NULL };
	const char *alice[] = { "user", "alice@a.test", NULL };
	const char *room[] = { "room", "garden@rooms.a.test", NULL };
	const char *kw[] = { "keyword", "quokka", NULL };
	json_t *res = NULL;
	long n;
	int st;

	n = count(carol);
	CHECK(n >= 1, "carol has entries (%ld)", n);
	st = api("POST", auth_admin, "logs.erase", NULL,
		 "{\"user\":\"carol@a.test\",\"mode\":\"pseudonymize\"}", &res);
	CHECK(st == 200, "logs.erase carol mode=pseudonymize (%d %s)", st, h_err_code(res));
	json_decref(res);
	n = count(carol);
	CHECK(n == 0, "carol's JID is no longer found (%ld)", n);
	n = count(room);
	CHECK(n == 2, "but the room still counts both messages (%ld)", n);
	res = NULL;
	st = api("POST", auth_admin, "logs.erase", NULL, "{\"user\":\"alice@a.test\",\"mode\":\"delete\"}",
		 &res);
	CHECK(st == 200, "logs.erase alice mode=delete (%d %s)", st, h_err_code(res));
	json_decref(res);
	n = count(alice);
	CHECK(n == 0, "alice's entries are gone (%ld)", n);
	n = count(kw);
	CHECK(n == 0, "including the chats she had with bob (%ld)", n);
	res = NULL;
	st = api("POST", auth_admin, "logs.erase", NULL, "{\"user\":\"alice@a.test\",\"mode\":\"shred\"}",
		 &res);
	CHECK(st == 400 && strcmp(h_err_param(res), "mode") == 0, "an unknown mode is invalid (%d)", st);
	json_decref(res);
}

/* Every metric and granularity answers; an unknown granularity is invalid. */
static void trend_metrics(void)
{
	static const char *const metrics[] = { "messages", "active_users", "peak_sessions",
					       "top_users", "top_rooms" };
	static const char *const grains[] = { "hour", "day", "week" };
	json_t *res;
	size_t m, g;
	int st;

	for (m = 0; m < sizeof metrics / sizeof *metrics; m++)
		for (g = 0; g < sizeof grains / sizeof *grains; g++) {
			const char *kv[] = { "domain", "a.test", "metric", metrics[m], "granularity",
					     grains[g], "since", "-7d", "limit", "10", NULL };

			res = NULL;
			st = api("GET", auth_admin, "logs.trends", kv, NULL, &res);
			/* the core counts active users per day at the finest (a documented
			 * refusal, not a failure) */
			if (m == 1 && g == 0)
				CHECK(st == 200 || (st == 400 && strcmp(h_err_code(res), "invalid") == 0),
				      "trends active_users per hour: a result or a clear refusal (%d %s)",
				      st, h_err_code(res));
			else
				CHECK(st == 200 && json_is_object(res) && !json_object_get(res, "error"),
				      "trends %s per %s (%d %s)", metrics[m], grains[g], st, h_err_code(res));
			json_decref(res);
		}
	{
		const char *kv[] = { "domain", "a.test", "metric", "messages", "granularity", "fortnight", NULL };

		res = NULL;
		st = api("GET", auth_admin, "logs.trends", kv, NULL, &res);
		CHECK(st == 400 && strcmp(h_err_param(res), "granularity") == 0,
		      "granularity=fortnight is invalid (%d)", st);
		json_decref(res);
	}
	{
		const char *kv[] = { "domain", "a.test", "metric", "top_users", "since", "-1d", NULL };
		char *dump;

		res = NULL;
		api("GET", auth_admin, "logs.trends", kv, NULL, &res);
		dump = json_dumps(res, 0);
		CHECK(dump && strstr(dump, "alice@a.test"), "top_users names alice, the busiest");
		free(dump);
		json_decref(res);
	}
}

/* The module's metrics, through Prosody's own OpenMetrics endpoint. */
static void metrics(void)
{
	static const char *const names[] = { "queue_depth", "batch_size", "flush_latency",
		"dropped_entries", "written_entries", "database_size", "degraded" };
	h_http_response r = { 0, NULL, 0, NULL };
	char want[128];
	size_t i;

	if (!CHECK(h_http("GET", "/metrics", "a.test", NULL, NULL, &r) == 0 && r.status == 200,
		   "GET /metrics answers 200")) {
		h_http_clear(&r);
		return;
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(want, sizeof want, "prosody_mod_imhost__%s", names[i]);
		CHECK(r.body && strstr(r.body, want), "metrics include %s", want);
	}
	/* Entries were written: the counter is not zero. */
	CHECK(r.body && strstr(r.body, "prosody_mod_imhost__written_entries 0\n") == NULL,
	      "written_entries counts the committed entries");
	h_http_clear(&r);
}

int main(void)
{
	h_client *alice, *bob, *carol, *admin, *dave, *erin, *frank, *gina;
	json_t *res = NULL;

	t_start = time(NULL);
	auth_admin = h_basic_auth("admin@a.test", PW);
	auth_bob = h_basic_auth("bob@a.test", PW);
	alice = h_login("alice@a.test", PW);
	bob = h_login("bob@a.test", PW);
	carol = h_login("carol@a.test", PW);
	admin = h_login("admin@a.test", PW);
	dave = h_login("dave@b.test", PW);
	erin = h_login("erin@b.test", PW);
	frank = h_login("frank@a.test", PW);
	gina = h_login("gina@a.test", PW);
	if (!CHECK(alice && bob && carol && admin && dave && erin && frank && gina,
		   "eight clients log in"))
		return h_finish();
	if (!CHECK(api("GET", auth_admin, "logs.status", NULL, NULL, &res) == 200,
		   "the imhost HTTP API answers"))
		return h_finish();
	json_decref(res);

	converse(alice, bob, carol, dave, erin, frank, gina);
	big_body(alice, bob);
	searches();
	ranges();
	metadata_only();
	truncated();
	trends_users_export_status();
	trend_metrics();
	bad_input();
	refusals(bob);
	tokens();
	metrics();
	adhoc_admin(admin);
	cli_and_shell();
	retention();
	inband_delete(&frank);
	locked_database(alice, bob);
	h_disconnect(alice);
	h_disconnect(bob);
	h_disconnect(carol);
	h_disconnect(admin);
	h_disconnect(dave);
	h_disconnect(erin);
	h_disconnect(gina);
	reconciliation();
	erase();
	free(auth_admin);
	free(auth_bob);
	return h_finish();
}
