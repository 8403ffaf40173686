/* test_accounts.c — hosting accounts end to end (issue 4), through a real
 * Prosody with mod_imhost (environment: test_accounts.env).
 *
 * The story: on a fresh server the operator creates the first customer, Acme
 * (owner ann@a.test), from the command line; a second customer, Beta (owner
 * bob@b.test), from the admin shell.  Acme's domain admin dan manages a.test's
 * users and rooms through ad-hoc commands and is refused for b.test; the member
 * mia is refused admin operations.  b.test's seat limit holds on in-band
 * registration and in the admin shell; a suspended b.test refuses bill's login
 * and tells him why.  With the clock injected, a.test's domain and certificate
 * reminders reach ann once per threshold, and again after a renewal.  Finally
 * an authorization matrix runs every operation as every role, over ad-hoc and
 * HTTP, against the permission table in module/core/permissions.c, on a third
 * customer's domain c.test (held in imhost's records only, so allowed calls
 * change nothing a user can see).  Bad input throughout.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PW "pw-secret"
#define DAY 86400L

static const char *cfg;
static long customer_a = -1, customer_b = -1, customer_c = -1;

/* ---- running commands ---------------------------------------------------------- */

/* A customer id in a customers.create result. */
static long customer_id_of(json_t *j)
{
	static const char *const keys[] = { "customer", "id", "customer_id", NULL };
	json_t *v;

	for (const char *const *k = keys; *k; k++) {
		v = h_find_key(j, *k);
		if (json_is_integer(v))
			return (long)json_integer_value(v);
		if (json_is_object(v) && json_is_integer(json_object_get(v, "id")))
			return (long)json_integer_value(json_object_get(v, "id"));
	}
	return -1;
}

/* ---- HTTP API -------------------------------------------------------------------- */

/* Calls op over HTTP on a.test as auth: GET with a query string, or POST with
 * a JSON body of kv (see h_api). */
static int api(int post, const char *auth, const char *op, const char *const *kv, json_t **out)
{
	return h_api(post ? "POST" : "GET", "a.test", auth, op, kv, NULL, out);
}

/* ---- raw XMPP: what libstrophe does not show (SASL failure text, IBR errors) ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = b64[in[i] >> 2];
		out[o++] = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = b64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		out[o++] = b64[in[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = b64[in[i] >> 2];
		out[o++] = b64[(in[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		out[o++] = b64[in[i] >> 2];
		out[o++] = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = b64[(in[i + 1] & 15) << 2];
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* A plaintext stream to the c2s port; -1 on failure. */
static int raw_open(const char *host)
{
	struct sockaddr_in sa;
	struct timeval tv = { 5, 0 };
	char hdr[512];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(h_env("ENV_C2S_PORT")));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	snprintf(hdr, sizeof hdr, "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
		 "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", host);
	if (write(fd, hdr, strlen(hdr)) != (ssize_t)strlen(hdr)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads from fd until the accumulated text contains until (or 5 s pass);
 * returns everything read (caller frees). */
static char *raw_read_until(int fd, const char *until)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	if (buf == NULL)
		return NULL;
	buf[0] = '\0';
	while (strstr(buf, until) == NULL && len + 1 < cap) {
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf;
}

/* SASL PLAIN as user@host: the server's answer to <auth/> (caller frees). */
static char *raw_login(const char *user, const char *host, const char *pass)
{
	unsigned char plain[512];
	char enc[800], auth[1024], *r;
	size_t n = 0;
	int fd = raw_open(host);

	if (fd < 0)
		return NULL;
	free(raw_read_until(fd, "</stream:features>"));
	plain[n++] = '\0';
	memcpy(plain + n, user, strlen(user));
	n += strlen(user);
	plain[n++] = '\0';
	memcpy(plain + n, pass, strlen(pass));
	n += strlen(pass);
	base64(plain, n, enc);
	snprintf(auth, sizeof auth,
		 "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", enc);
	r = NULL;
	if (write(fd, auth, strlen(auth)) == (ssize_t)strlen(auth))
		r = raw_read_until(fd, "sasl'/>");
	close(fd);
	return r;
}

/* XEP-0077 registration of user@host: the server's answer (caller frees). */
static char *raw_register(const char *user, const char *host, const char *pass)
{
	char iq[1024], *r = NULL;
	int fd = raw_open(host);

	if (fd < 0)
		return NULL;
	free(raw_read_until(fd, "</stream:features>"));
	snprintf(iq, sizeof iq, "<iq type='set' id='reg1'><query xmlns='jabber:iq:register'>"
		 "<username>%s</username><password>%s</password></query></iq>", user, pass);
	if (write(fd, iq, strlen(iq)) == (ssize_t)strlen(iq))
		r = raw_read_until(fd, "</iq>");
	close(fd);
	return r;
}

/* ---- ad-hoc ---------------------------------------------------------------------- */

/* Runs imhost/<op> as c; 0 on a result, else -1 with *why (static or r's). */
static int adhoc(h_client *c, const char *op, const char *const *kv, json_t **out, char **why)
{
	h_adhoc_result r;
	int rc = h_adhoc(c, op, kv, &r);

	if (out)
		*out = rc == 0 ? h_json(r.json) : NULL;
	if (why)
		*why = r.error ? strdup(r.error) : NULL;
	h_adhoc_clear(&r);
	return rc;
}

static int refused(const char *why)
{
	return why && (strstr(why, "forbidden") || strstr(why, "permission"));
}

/* ---- the story ----------------------------------------------------------------- */

/* The operator's first steps on a fresh server, with Prosody stopped: the first
 * customer and its domain from the command line, and an account registered
 * with prosodyctl that imhost must notice (reconciled) at start. */
static void first_customer(void)
{
	int st;
	json_t *j;

	CHECK(h_envctl("stop") == 0, "the server is stopped");
	j = h_cli(cfg, &st, "customers.create name=Acme owner=ann@a.test");

	CHECK(st == 0 && j, "prosodyctl mod_imhost customers.create makes the first customer on a fresh server");
	customer_a = customer_id_of(j);
	CHECK(customer_a >= 0, "it answers with the customer's id (%ld)", customer_a);
	json_decref(j);
	j = h_cli(cfg, &st, "customers.create name=Bad owner=not@@a.jid");
	CHECK(st != 0, "an owner that is not a JID is refused on the command line");
	json_decref(j);
	j = h_cli(cfg, &st, "domains.attach customer=%ld domain=a.test", customer_a);
	CHECK(st == 0, "a.test is attached to Acme offline");
	json_decref(j);
	j = h_cli(cfg, &st, "domains.attach customer=%ld domain=bücher.test", customer_a);
	CHECK(st != 0, "a raw Unicode (IDN) domain is refused: give the xn-- form");
	json_decref(j);
	j = h_cli(cfg, &st, "domains.attach customer=%ld domain=-bad-.test", customer_a);
	CHECK(st != 0, "an invalid domain name is refused");
	json_decref(j);
	CHECK(h_envctl("register late a.test %s", PW) == 0, "prosodyctl registers late@a.test while it is down");
	CHECK(h_envctl("launch") == 0, "the server starts again");
}

static void second_customer(void)
{
	char *out = NULL;
	int rc;
	json_t *j;

	rc = h_shell(cfg, &out, "customers_create name=Beta owner=bob@b.test");
	CHECK(rc == 0, "the admin shell creates Beta (%s)", out ? out : "");
	free(out);
	j = h_cli(cfg, &rc, "customers.list");
	CHECK(rc == 0 && j, "customers.list works offline while the server runs");
	if (j) {
		json_t *list = h_find_key(j, "customers"), *c;
		size_t i;
		json_array_foreach(list, i, c) {
			const char *name = json_string_value(json_object_get(c, "name"));
			if (name && strcmp(name, "Beta") == 0)
				customer_b = customer_id_of(c);
		}
	}
	json_decref(j);
	CHECK(customer_b >= 0 && customer_b != customer_a, "Beta has its own id (%ld)", customer_b);
	CHECK(h_shell(cfg, NULL, "domains_attach customer=%ld domain=b.test", customer_b) == 0,
	      "b.test is attached to Beta from the shell");
	CHECK(h_shell(cfg, NULL, "domains_attach customer=%ld domain=b.test", customer_a) != 0,
	      "b.test cannot be attached to Acme as well");
	CHECK(h_shell(cfg, NULL, "members_set customer=%ld jid=dan@a.test role=domain_admin", customer_a) == 0,
	      "dan becomes Acme's domain admin");
	CHECK(h_shell(cfg, NULL, "members_set customer=%ld jid=mia@a.test role=member", customer_a) == 0,
	      "mia becomes an Acme member");
}

static void domain_admin(h_client *dan, h_client *mia)
{
	static const char *const list_a[] = { "domain", "a.test", NULL };
	static const char *const list_b[] = { "domain", "b.test", NULL };
	static const char *const create[] = { "user", "newbie@a.test", NULL };
	static const char *const create_b[] = { "user", "intruder@b.test", NULL };
	static const char *const markup[] = { "room", "team@rooms.a.test", "name", "Team <b>room</b>", NULL };
	static const char *const room[] = { "room", "team@rooms.a.test", "name", "Team room",
		"description", "Where the team talks", "persistent", "true", "members_only", "true",
		"moderated", "false", "max_occupants", "2", NULL };
	static const char *const room_b[] = { "room", "spy@rooms.b.test", "name", "Spy", NULL };
	static const char *const rooms_a[] = { "domain", "a.test", NULL };
	static const char *const aff[] = { "room", "team@rooms.a.test", "jid", "mia@a.test",
		"affiliation", "member", NULL };
	static const char *const lock[] = { "user", "newbie@a.test", "reason", "left the company", NULL };
	static const char *const unlock[] = { "user", "newbie@a.test", NULL };
	static const char *const reset[] = { "user", "newbie@a.test", NULL };
	static const char *const destroy[] = { "room", "team@rooms.a.test", "reason", "done",
		"redirect", "lobby@rooms.a.test", NULL };
	static const char *const bad_jid[] = { "user", "not a jid@@a.test", NULL };
	json_t *j = NULL, *v;
	char *why = NULL, *s;
	int rc;

	rc = adhoc(dan, "users.list", list_a, &j, &why);
	CHECK(rc == 0, "dan lists a.test's users (%s)", why ? why : "ok");
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	CHECK(s && strstr(s, "ann@a.test") && strstr(s, "mia@a.test"), "the list has ann and mia");
	CHECK(s && strstr(s, "late@a.test"), "and late@a.test, registered while the server was down");
	v = h_find_key(j, "online");
	CHECK(v != NULL, "with online status merged in by the glue");
	free(s);
	json_decref(j);
	free(why);

	rc = adhoc(dan, "users.list", list_b, NULL, &why);
	CHECK(rc != 0 && refused(why), "dan is refused b.test's users (%s)", why ? why : "none");
	free(why);
	rc = adhoc(dan, "users.create", create_b, NULL, &why);
	CHECK(rc != 0 && refused(why), "dan cannot create an account on b.test (%s)", why ? why : "none");
	free(why);

	rc = adhoc(dan, "users.create", create, &j, &why);
	CHECK(rc == 0, "dan creates newbie@a.test (%s)", why ? why : "ok");
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	CHECK(s && (strstr(s, "xmpp:") || strstr(s, "http")), "and gets a one-time reset link (%s)", s ? s : "");
	CHECK(s && !strstr(s, "password\":"), "never a password");
	free(s);
	json_decref(j);
	free(why);
	rc = adhoc(dan, "users.create", create, NULL, &why);
	CHECK(rc != 0, "creating newbie again fails (%s)", why ? why : "none");
	free(why);
	rc = adhoc(dan, "users.create", bad_jid, NULL, &why);
	CHECK(rc != 0 && why && !refused(why), "an invalid JID is refused as invalid (%s)", why ? why : "none");
	free(why);

	rc = adhoc(dan, "users.reset_password", reset, &j, &why);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	CHECK(rc == 0 && s && strstr(s, "xmpp:"), "dan makes a reset link for newbie (%s)", s ? s : why);
	free(s);
	json_decref(j);
	free(why);
	rc = adhoc(dan, "users.lock", lock, NULL, &why);
	CHECK(rc == 0, "dan locks newbie (%s)", why ? why : "ok");
	free(why);
	rc = adhoc(dan, "users.unlock", unlock, NULL, &why);
	CHECK(rc == 0, "and unlocks him (%s)", why ? why : "ok");
	free(why);

	rc = adhoc(dan, "channels.create", markup, NULL, &why);
	CHECK(rc != 0 && why && !refused(why), "a room name with markup is refused as invalid (%s)", why ? why : "none");
	free(why);
	rc = adhoc(dan, "channels.create", room, &j, &why);
	CHECK(rc == 0, "dan creates team@rooms.a.test with settings (%s)", why ? why : "ok");
	json_decref(j);
	free(why);
	rc = adhoc(dan, "channels.create", room_b, NULL, &why);
	CHECK(rc != 0 && refused(why), "dan cannot create a room on b.test's MUC (%s)", why ? why : "none");
	free(why);
	rc = adhoc(dan, "channels.set_affiliation", aff, NULL, &why);
	CHECK(rc == 0, "dan makes mia a member of team (%s)", why ? why : "ok");
	free(why);
	rc = adhoc(dan, "channels.list", rooms_a, &j, &why);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	CHECK(rc == 0 && s && strstr(s, "team@rooms.a.test"), "channels.list shows team (%s)", why ? why : "ok");
	CHECK(s && strstr(s, "\"members_only\":true") && strstr(s, "\"max_occupants\":2"),
	      "with its settings");
	CHECK(s && strstr(s, "\"name\":\"Team room\""), "and its name");
	free(s);
	json_decref(j);
	free(why);

	rc = adhoc(mia, "users.list", list_a, NULL, &why);
	CHECK(rc != 0 && refused(why), "mia (member) is refused the users list (%s)", why ? why : "none");
	free(why);
	rc = adhoc(mia, "users.create", create, NULL, &why);
	CHECK(rc != 0 && refused(why), "mia cannot create users (%s)", why ? why : "none");
	free(why);
	rc = adhoc(mia, "channels.destroy", destroy, NULL, &why);
	CHECK(rc != 0 && refused(why), "mia cannot destroy rooms (%s)", why ? why : "none");
	free(why);

	rc = adhoc(dan, "channels.destroy", destroy, NULL, &why);
	CHECK(rc == 0, "dan destroys team with a reason and a redirect (%s)", why ? why : "ok");
	free(why);
}

/* Two concurrent edits of one user: both complete, the user ends in one of the
 * two states, and nothing breaks. */
static void concurrent_edits(void)
{
	static const char *const lock[] = { "user", "newbie@a.test", "reason", "race", NULL };
	static const char *const unlock[] = { "user", "newbie@a.test", NULL };
	char *auth = h_basic_auth("dan@a.test", PW);
	json_t *a = NULL, *b = NULL;
	int sa, sb;

	sa = api(1, auth, "users.lock", lock, &a);
	sb = api(1, auth, "users.unlock", unlock, &b);
	CHECK(sa == 200 && sb == 200, "lock and unlock of one user over HTTP both answer (%d, %d)", sa, sb);
	json_decref(a);
	json_decref(b);
	free(auth);
	/* Really at once: two admin-shell clients and the offline CLI race on newbie. */
	{
		char *out;
		int st;
		json_t *j, *u, *found = NULL;
		size_t i;

		out = h_run(&st, NULL, "P='prosodyctl --config %s'; "
			    "$P shell imhost users_lock user=newbie@a.test reason=race1 >/dev/null 2>&1 & "
			    "$P shell imhost users_unlock user=newbie@a.test >/dev/null 2>&1 & "
			    "$P mod_imhost users.set_role user=newbie@a.test role=member >/dev/null 2>&1 & "
			    "wait", cfg);
		free(out);
		j = h_cli(cfg, &st, "users.list domain=a.test query=newbie");
		json_array_foreach(h_find_key(j, "users"), i, u)
			if (json_is_string(json_object_get(u, "jid")) &&
			    strcmp(json_string_value(json_object_get(u, "jid")), "newbie@a.test") == 0)
				found = u;
		CHECK(found && json_is_true(json_object_get(found, "locked")) ==
		      json_is_string(json_object_get(found, "locked_reason")),
		      "after concurrent edits newbie is consistently locked or unlocked");
		json_decref(j);
		CHECK(h_shell(cfg, NULL, "users_unlock user=newbie@a.test") == 0, "and can be unlocked afterwards");
	}
}

static void seats_and_suspension(void)
{
	char *out = NULL, *r;
	h_client *bill;
	int rc;

	CHECK(h_shell(cfg, NULL, "domains_set_seats domain=b.test seats=2") == 0, "b.test gets 2 seats (bob, bill use them)");
	r = raw_register("carl", "b.test", PW);
	CHECK(r && strstr(r, "type='error'") && strcasestr(r, "seat limit"),
	      "in-band registration beyond the seats is refused, saying why (%.300s)", r ? r : "");
	free(r);
	r = raw_login("carl", "b.test", PW);
	CHECK(r && strstr(r, "<failure"), "carl has no account");
	free(r);
	rc = h_shell(cfg, &out, "domains_status domain=b.test");
	CHECK(rc == 0 && out && strstr(out, "2"), "domains.status shows the seats (%s)", out ? out : "");
	free(out);
	out = h_run(&rc, NULL, "prosodyctl --config '%s' shell user create carl@b.test %s 2>&1", cfg, PW);
	free(out);
	r = raw_login("carl", "b.test", PW);
	CHECK(r && strstr(r, "<failure"), "the admin shell's user:create is refused too (no carl)");
	free(r);
	rc = h_shell(cfg, &out, "users_create user=carl@b.test");
	CHECK(rc != 0 && out && strcasestr(out, "seat limit"), "so is imhost's users.create (%s)", out ? out : "");
	free(out);

	bill = h_login("bill@b.test", PW);
	CHECK(bill != NULL, "bill logs in");
	rc = h_shell(cfg, &out, "domains_suspend domain=b.test \"reason=Unpaid invoice 42\"");
	CHECK(rc == 0, "the operator suspends b.test (%s)", out ? out : "");
	free(out);
	h_pump(500);
	CHECK(bill && !h_connected(bill), "bill's session is closed");
	h_disconnect(bill);
	r = raw_login("bill", "b.test", PW);
	CHECK(r && strstr(r, "<failure") && strstr(r, "Unpaid invoice 42"),
	      "bill's next login is refused with the reason (%.300s)", r ? r : "");
	free(r);
	r = raw_login("ann", "a.test", PW);
	CHECK(r && strstr(r, "<success"), "a.test is not affected");
	free(r);
	CHECK(h_shell(cfg, NULL, "domains_unsuspend domain=b.test") == 0, "b.test is unsuspended");
	bill = h_login("bill@b.test", PW);
	CHECK(bill != NULL, "bill logs in again");
	h_disconnect(bill);
}

/* Waits up to ms for a message to c whose body contains needle; 1 if seen. */
static int pred_contains(xmpp_stanza_t *s, const void *needle)
{
	xmpp_stanza_t *b = xmpp_stanza_get_child_by_name(s, "body");
	char *t = b ? xmpp_stanza_get_text(b) : NULL;
	int hit = t && strstr(t, needle) != NULL;

	if (t)
		xmpp_free(h_ctx(), t);
	return hit;
}

static int reminders_seen(h_client *c, const char *needle, int ms)
{
	int n = 0;
	xmpp_stanza_t *m;

	while ((m = h_await(c, pred_contains, needle, ms)) != NULL) {
		n++;
		xmpp_stanza_release(m);
		ms = 300;
	}
	return n;
}

static long cert_not_after(const char *path)
{
	int st;
	char *o = h_run(&st, NULL, "date -d \"$(openssl x509 -noout -enddate -in '%s' | cut -d= -f2)\" +%%s", path);
	long t = (st == 0 && o) ? atol(o) : -1;

	free(o);
	return t;
}

static void run_reminders_at(long t)
{
	char *out = NULL;

	if (h_shell(cfg, &out, "test_set_clock %ld", t) != 0)
		h_note("test_set_clock: %s", out ? out : "");
	free(out);
	out = NULL;
	if (h_shell(cfg, &out, "reminders_run") != 0)
		h_note("reminders_run: %s", out ? out : "");
	free(out);
}

#define DOMAIN_MSG "registration of a.test"
#define CERT_MSG "TLS certificate of a.test"

static void reminders(h_client *ann)
{
	const char *dir = h_env("ACCOUNTS_CERT_DIR");
	char crt[1024], key[1024], *out = NULL;
	long now = time(NULL), base, expiry, na;
	int st;

	snprintf(crt, sizeof crt, "%s/a.test.crt", dir);
	snprintf(key, sizeof key, "%s/a.test.key", dir);

	/* The certificate a.test serves: 200 days, generated by the suite. */
	na = cert_not_after(crt);
	CHECK(na > now, "the test certificate's notAfter is known (%ld)", na);
	h_inbox_clear(ann);
	run_reminders_at(na - 20 * DAY);
	CHECK(reminders_seen(ann, CERT_MSG, 3000) == 1, "20 days before the certificate expires: one reminder to ann");
	run_reminders_at(na - 20 * DAY + 60);
	CHECK(reminders_seen(ann, CERT_MSG, 800) == 0, "not twice");
	out = h_run(&st, NULL, "openssl req -x509 -newkey rsa:2048 -nodes -days 300 -subj /CN=a.test "
		    "-keyout '%s' -out '%s' 2>&1", key, crt);
	free(out);
	na = cert_not_after(crt);
	run_reminders_at(na - 20 * DAY);
	CHECK(reminders_seen(ann, CERT_MSG, 3000) == 1,
	      "a renewed certificate (new fingerprint, read from the file) gets its own 21-day reminder");

	/* The registration: staff set it, 40 days after the current (injected) time. */
	base = na - 20 * DAY;
	expiry = base + 40 * DAY;
	CHECK(h_shell(cfg, NULL, "domains_set_expiry domain=a.test expires=%ld", expiry) == 0,
	      "staff set a.test's registration expiry (40 days ahead)");
	h_inbox_clear(ann);
	run_reminders_at(expiry - 29 * DAY);
	CHECK(reminders_seen(ann, DOMAIN_MSG, 3000) == 1, "29 days before: ann gets one domain reminder");
	run_reminders_at(expiry - 29 * DAY + 3600);
	CHECK(reminders_seen(ann, DOMAIN_MSG, 800) == 0, "an hour later: nothing again");
	run_reminders_at(expiry - 6 * DAY);
	CHECK(reminders_seen(ann, DOMAIN_MSG, 3000) == 1, "6 days before: the 7-day reminder, once");
	run_reminders_at(expiry + 2 * DAY);
	CHECK(reminders_seen(ann, DOMAIN_MSG, 3000) == 1, "2 days after: the 1-day-after reminder");
	CHECK(h_shell(cfg, NULL, "domains_renew domain=a.test expires=%ld", expiry + 365 * DAY) == 0,
	      "a renewal records the new expiry");
	run_reminders_at(expiry + 365 * DAY - 6 * DAY);
	CHECK(reminders_seen(ann, DOMAIN_MSG, 3000) == 1, "the 7-day reminder fires again for the new expiry");

	out = NULL;
	st = h_shell(cfg, &out, "domains_status domain=b.test");
	CHECK(st == 0 && out && strstr(out, "cannot read"),
	      "b.test's unreadable certificate is reported in its status, not fatal");
	free(out);
	run_reminders_at(now);
}

/* ---- the authorization matrix ----------------------------------------------------- */

/* The grants of each role, read from module/core/permissions.c: the one table. */
#define MAXROLES 16
#define MAXGRANTS 64
static struct {
	char name[32];
	char *grants[MAXGRANTS];
	int n;
} table[MAXROLES];
static int nroles;

static char *next_quoted(const char **p, const char *end)
{
	const char *a = strchr(*p, '"'), *b;

	if (a == NULL || a >= end)
		return NULL;
	b = strchr(a + 1, '"');
	if (b == NULL || b >= end)
		return NULL;
	*p = b + 1;
	return strndup(a + 1, (size_t)(b - a - 1));
}

static int read_permission_table(void)
{
	int st;
	char *src = h_run(&st, NULL, "cat '%s/module/core/permissions.c'", h_env("IMHOST_REPO"));
	const char *p = src ? strstr(src, "table[] = {") : NULL, *end;

	while (p && (p = strstr(p, "{ IM_ROLE_")) != NULL && nroles < MAXROLES) {
		char *name, *g;
		end = strstr(p, "NULL }");
		if (end == NULL)
			break;
		name = next_quoted(&p, end);
		if (name == NULL)
			break;
		snprintf(table[nroles].name, sizeof table[nroles].name, "%s", name);
		free(name);
		while ((g = next_quoted(&p, end)) != NULL && table[nroles].n < MAXGRANTS)
			table[nroles].grants[table[nroles].n++] = g;
		nroles++;
		p = end;
	}
	free(src);
	return nroles;
}

static int role_grants(const char *role, const char *perm)
{
	for (int i = 0; i < nroles; i++) {
		if (strcmp(table[i].name, role) != 0)
			continue;
		for (int j = 0; j < table[i].n; j++)
			if (strcmp(table[i].grants[j], "*") == 0 || strcmp(table[i].grants[j], perm) == 0)
				return 1;
	}
	return 0;
}

/* An actor of the matrix: a JID on a.test and the roles it holds (global
 * roles, and its customer role at customer C, which owns c.test). */
typedef struct {
	const char *jid;
	const char *global;     /* "server_admin", "billing", "technician" or NULL */
	const char *at_c;       /* "owner", "domain_admin", "member" or NULL */
	h_client *c;
	char *auth;
} actor;

static int expected(const actor *a, const char *perm, int scoped)
{
	if (role_grants("user", perm))
		return 1;
	if (a->global && role_grants(a->global, perm))
		return 1;
	return scoped && a->at_c && role_grants(a->at_c, perm);
}

/* A valid value for param p of op, scoped to c.test / customer C, chosen so that
 * an allowed call changes nothing anyone depends on. */
static const char *value_for(const char *op, json_t *p, char *buf, size_t size)
{
	const char *name = json_string_value(json_object_get(p, "name"));
	const char *type = json_string_value(json_object_get(p, "type"));
	json_t *vals = json_object_get(p, "enum");

	if (!name)
		return NULL;
	if (strcmp(name, "customer") == 0) {
		snprintf(buf, size, "%ld", customer_c);
		return buf;
	}
	if (strcmp(name, "domain") == 0)
		return "c.test";
	if (strcmp(name, "user") == 0)
		return "ghost@c.test";
	if (strcmp(name, "room") == 0)
		return "matrix@rooms.c.test";
	if (strcmp(name, "jid") == 0 || strcmp(name, "owner") == 0)
		return "nobody@a.test";
	if (strcmp(name, "users") == 0)
		return "ghost@c.test";
	if (strcmp(name, "fingerprint") == 0)
		return "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	if (strcmp(name, "confirm") == 0)
		return "true";
	if (strcmp(name, "seats") == 0)
		return "100";
	if (strcmp(name, "name") == 0)
		return strcmp(op, "customers.create") == 0 ? "Matrix Co" : "Matrix";
	if (json_is_array(vals) && json_array_size(vals) > 0)
		return json_string_value(json_array_get(vals, json_array_size(vals) - 1));
	if (type && strcmp(type, "integer") == 0)
		return "1";
	if (type && strcmp(type, "boolean") == 0)
		return "false";
	if (strcmp(name, "expires") == 0 || strcmp(name, "not_after") == 0)
		return "2031-01-01";
	return "x";
}

/* The ops of openapi.json, ordered so that the ones that detach or suspend come
 * last (they change c.test for the roles after them). */
static int op_rank(const char *op)
{
	if (strcmp(op, "domains.detach") == 0)
		return 3;
	if (strcmp(op, "domains.suspend") == 0 || strcmp(op, "domains.unsuspend") == 0)
		return 2;
	if (strcmp(op, "reminders.run") == 0)
		return 1;
	return 0;
}

static void matrix(actor *actors, size_t nactors)
{
	json_t *doc = NULL, *paths, *item, *methods, *m;
	const char *path, *method;
	const char *ops[128];
	json_t *op_item[128];
	int post[128], nops = 0, mismatches = 0, calls = 0, n_allow = 0, n_deny = 0, n_customer_allow = 0;
	char *auth = h_basic_auth("admin@a.test", PW);

	CHECK(api(0, auth, "openapi.json", NULL, &doc) == 200 && doc, "the OpenAPI document lists the operations");
	free(auth);
	paths = json_object_get(doc, "paths");
	json_object_foreach(paths, path, methods) {
		json_object_foreach(methods, method, item) {
			if (nops < 128 && json_string_value(json_object_get(item, "operationId"))) {
				ops[nops] = json_string_value(json_object_get(item, "operationId"));
				op_item[nops] = item;
				post[nops++] = strcmp(method, "post") == 0;
			}
		}
	}
	for (int rank = 0; rank <= 3; rank++) {
		for (int i = 0; i < nops; i++) {
			const char *perm;
			int scoped;
			json_t *params = json_array(), *p;
			const char *kv[64];
			char bufs[32][64];
			int nkv = 0, nb = 0;
			size_t k;

			if (op_rank(ops[i]) != rank)
				continue;
			item = op_item[i];
			perm = json_string_value(json_object_get(item, "x-imhost-permission"));
			scoped = json_object_get(item, "x-imhost-scope") != NULL;
			if (perm == NULL) {
				CHECK(0, "%s declares its permission in the OpenAPI document", ops[i]);
				continue;
			}
			/* Parameters: query parameters (GET) or the body schema (POST). */
			if (post[i]) {
				json_t *schema = h_find_key(json_object_get(item, "requestBody"), "schema");
				json_t *props = json_object_get(schema, "properties"), *req = json_object_get(schema, "required");
				const char *pn;
				json_object_foreach(props, pn, p) {
					json_t *q = json_deep_copy(p);
					json_object_set_new(q, "name", json_string(pn));
					int required = 0;
					json_array_foreach(req, k, m)
						if (strcmp(json_string_value(m), pn) == 0)
							required = 1;
					json_object_set_new(q, "required", json_boolean(required));
					json_array_append_new(params, q);
				}
			} else {
				json_array_foreach(json_object_get(item, "parameters"), k, p) {
					json_t *q = json_deep_copy(json_object_get(p, "schema"));
					if (!q)
						q = json_object();
					json_object_set(q, "name", json_object_get(p, "name"));
					json_object_set(q, "required", json_object_get(p, "required"));
					json_array_append_new(params, q);
				}
			}
			json_array_foreach(params, k, p) {
				const char *name = json_string_value(json_object_get(p, "name"));
				int needed = json_is_true(json_object_get(p, "required")) ||
					strcmp(name, "domain") == 0 || strcmp(name, "user") == 0 ||
					strcmp(name, "confirm") == 0 || strcmp(name, "dry_run") == 0;
				if (!needed || nkv + 2 >= 62 || nb >= 32 || strcmp(name, "tz") == 0)
					continue;
				if (strcmp(name, "dry_run") == 0) {
					kv[nkv++] = name;
					kv[nkv++] = "true";
					continue;
				}
				kv[nkv++] = name;
				kv[nkv++] = value_for(ops[i], p, bufs[nb], sizeof bufs[nb]);
				nb++;
			}
			kv[nkv] = NULL;
			for (size_t a = 0; a < nactors; a++) {
				int want = expected(&actors[a], perm, scoped);
				char *why = NULL;
				json_t *res = NULL;
				int rc, st, got_adhoc, got_http;

				if (want)
					n_allow++;
				else
					n_deny++;
				if (want && scoped && actors[a].at_c && !expected(&(actor){ actors[a].jid, actors[a].global,
						NULL, NULL, NULL }, perm, 0))
					n_customer_allow++;

				/* Allowed: a result, or any error but a refusal; a timeout or
				 * a missing command counts as neither, i.e. a mismatch. */
				rc = adhoc(actors[a].c, ops[i], kv, NULL, &why);
				got_adhoc = rc == 0 || (why && !refused(why) && strcmp(why, "timeout") != 0 &&
							!strstr(why, "item-not-found"));
				if (rc != 0 && !want && !refused(why))
					got_adhoc = 1;
				st = api(post[i], actors[a].auth, ops[i], kv, &res);
				got_http = st != 403 && st != 401 && st != 0;
				calls += 2;
				if (got_adhoc != want || got_http != want) {
					mismatches++;
					CHECK(0, "%s as %s: expected %s; ad-hoc %s (%s), HTTP %d %s", ops[i], actors[a].jid,
					      want ? "allowed" : "forbidden", got_adhoc ? "allowed" : "forbidden",
					      why ? why : "ok", st, h_err_code(res));
				}
				free(why);
				json_decref(res);
			}
			json_decref(params);
		}
	}
	CHECK(n_allow > 50 && n_deny > 50 && n_customer_allow > 10,
	      "the matrix exercises both outcomes: %d allowed, %d refused, %d granted only by a customer role",
	      n_allow, n_deny, n_customer_allow);
	CHECK(nops >= 30 && mismatches == 0, "authorization matrix: %d operations x %zu roles x 2 surfaces, "
	      "%d calls, %d mismatches", nops, nactors, calls, mismatches);
	json_decref(doc);
}

static void matrix_setup_and_run(void)
{
	static actor actors[] = {
		{ "admin@a.test", "server_admin", NULL, NULL, NULL },
		{ "oli@a.test", NULL, "owner", NULL, NULL },
		{ "dina@a.test", NULL, "domain_admin", NULL, NULL },
		{ "memo@a.test", NULL, "member", NULL, NULL },
		{ "bea@a.test", "billing", NULL, NULL, NULL },
		{ "tom@a.test", "technician", NULL, NULL, NULL },
		{ "uma@a.test", NULL, NULL, NULL, NULL },
		{ "ann@a.test", NULL, NULL, NULL, NULL },	/* owner of Acme, nothing at C */
	};
	const size_t n = sizeof actors / sizeof actors[0];
	char *out = NULL;
	int rc;
	json_t *j;

	read_permission_table();
	CHECK(nroles >= 8, "the permission table in permissions.c has its roles (%d)", nroles);
	rc = h_shell(cfg, &out, "customers_create name=Gamma owner=oli@a.test");
	CHECK(rc == 0, "customer Gamma (owner oli) for the matrix (%s)", out ? out : "");
	free(out);
	j = h_cli(cfg, &rc, "customers.list");
	if (j) {
		json_t *c;
		size_t i;
		json_array_foreach(h_find_key(j, "customers"), i, c) {
			const char *name = json_string_value(json_object_get(c, "name"));
			if (name && strcmp(name, "Gamma") == 0)
				customer_c = customer_id_of(c);
		}
	}
	json_decref(j);
	CHECK(customer_c >= 0, "Gamma has an id (%ld)", customer_c);
	CHECK(h_shell(cfg, NULL, "domains_attach customer=%ld domain=c.test", customer_c) == 0, "c.test belongs to Gamma");
	CHECK(h_shell(cfg, NULL, "members_set customer=%ld jid=dina@a.test role=domain_admin", customer_c) == 0 &&
	      h_shell(cfg, NULL, "members_set customer=%ld jid=memo@a.test role=member", customer_c) == 0 &&
	      h_shell(cfg, NULL, "staff_set jid=bea@a.test role=billing") == 0 &&
	      h_shell(cfg, NULL, "staff_set jid=tom@a.test role=technician") == 0,
	      "dina, memo (Gamma) and bea, tom (staff) get their roles");
	for (size_t i = 0; i < n; i++) {
		actors[i].c = h_login(actors[i].jid, PW);
		actors[i].auth = h_basic_auth(actors[i].jid, PW);
	}
	for (size_t i = 0; i < n; i++)
		if (!CHECK(actors[i].c != NULL, "%s logs in for the matrix", actors[i].jid))
			goto out;
	matrix(actors, n);
out:
	for (size_t i = 0; i < n; i++) {
		h_disconnect(actors[i].c);
		free(actors[i].auth);
	}
}

/* The operator surfaces run as operator: a few ops through the shell and CLI. */
static void operator_surfaces(void)
{
	char *out = NULL;
	int rc;
	json_t *j;

	rc = h_shell(cfg, &out, "users_list domain=a.test");
	CHECK(rc == 0 && out && strstr(out, "ann@a.test"), "the shell lists a.test's users as operator");
	free(out);
	rc = h_shell(cfg, &out, "users_sessions user=ann@a.test");
	CHECK(rc == 0, "users.sessions (live) runs in the shell (%s)", out ? out : "");
	free(out);
	j = h_cli(cfg, &rc, "users.kick user=ann@a.test");
	CHECK(rc != 0, "a live op that needs the server says so offline");
	json_decref(j);
	j = h_cli(cfg, &rc, "reminders.run");
	CHECK(rc != 0, "reminders.run is refused offline (it could not deliver)");
	json_decref(j);
	j = h_cli(cfg, &rc, "domains.status domain=a.test");
	CHECK(rc == 0 && j, "domains.status works offline");
	json_decref(j);
}

int main(void)
{
	h_client *ann, *dan, *mia;
	long t0 = time(NULL);

	cfg = h_env("ENV_CFG");
	first_customer();
	second_customer();
	ann = h_login("ann@a.test", PW);
	dan = h_login("dan@a.test", PW);
	mia = h_login("mia@a.test", PW);
	if (!CHECK(ann && dan && mia, "ann, dan and mia log in"))
		return h_finish();
	domain_admin(dan, mia);
	concurrent_edits();
	seats_and_suspension();
	reminders(ann);
	operator_surfaces();
	matrix_setup_and_run();
	h_disconnect(ann);
	h_disconnect(dan);
	h_disconnect(mia);
	h_note("suite took %ld s", (long)time(NULL) - t0);
	return h_finish();
}
