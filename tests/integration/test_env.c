/* test_env.c — the harness and the Prosody environment themselves, against
 * plain Prosody (no imhost): if this suite fails, no other suite's result
 * means anything.  Environment: test_env.env. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PW "pw-secret"

static void chat(h_client *alice, h_client *bob)
{
	xmpp_stanza_t *m;

	CHECK(h_send_message(alice, "bob@a.test", "chat", "env-1", "hello bob") == 0,
	      "alice sends a chat message");
	m = h_await(bob, h_pred_body, "hello bob", 5000);
	CHECK(m != NULL, "bob receives it");
	if (m) {
		CHECK(strncmp(xmpp_stanza_get_from(m), "alice@a.test/", 13) == 0,
		      "from alice's full JID (%s)", xmpp_stanza_get_from(m));
		CHECK(h_pred_id(m, "env-1"), "with the id alice gave it");
		xmpp_stanza_release(m);
	}
	CHECK(h_await(bob, h_pred_body, "never sent", 200) == NULL,
	      "await times out on what never comes");
}

static void room(h_client *alice, h_client *carol)
{
	xmpp_stanza_t *m;

	CHECK(h_join_room(carol, "lobby@rooms.a.test", "carol") == 0,
	      "carol creates and joins lobby@rooms.a.test");
	CHECK(h_join_room(alice, "lobby@rooms.a.test", "alice") == 0, "alice joins it");
	CHECK(h_send_message(carol, "lobby@rooms.a.test", "groupchat", "env-g1",
			     "hi room") == 0, "carol speaks in the room");
	m = h_await(alice, h_pred_body, "hi room", 5000);
	CHECK(m != NULL && strcmp(xmpp_stanza_get_from(m), "lobby@rooms.a.test/carol") == 0,
	      "alice receives it from the room");
	if (m)
		xmpp_stanza_release(m);
	m = h_await(carol, h_pred_body, "hi room", 5000);
	CHECK(m != NULL, "carol receives her own reflection");
	if (m)
		xmpp_stanza_release(m);
}

static void adhoc(h_client *admin, h_client *bob)
{
	static const char *const kv[] = { "max_items", "25", "details", "0", NULL };
	const char *node = "http://jabber.org/protocol/admin#get-online-users-list";
	h_adhoc_result r;
	char *users;
	int rc;

	rc = h_adhoc_node(admin, node, kv, &r);
	CHECK(rc == 0,
	      "admin runs a two-step ad-hoc command (%s)", r.error ? r.error : "ok");
	users = h_adhoc_field(&r, "onlineuserjids");
	CHECK(users && strstr(users, "bob@a.test"), "its result form lists bob online");
	free(users);
	h_adhoc_clear(&r);
	rc = h_adhoc_node(bob, node, kv, &r);
	CHECK(rc != 0 && r.error && strstr(r.error, "forbidden"),
	      "bob (not an admin) is refused (%s)", r.error ? r.error : "no error");
	h_adhoc_clear(&r);
	rc = h_adhoc(admin, "no.such.op", NULL, &r);
	CHECK(rc != 0 && r.error != NULL,
	      "an unknown node is an error (%s)", r.error ? r.error : "none");
	h_adhoc_clear(&r);
}

static void http(void)
{
	h_http_response res;
	char *auth = h_basic_auth("alice@a.test", PW);

	CHECK(auth && strcmp(auth, "Authorization: Basic YWxpY2VAYS50ZXN0OnB3LXNlY3JldA==") == 0,
	      "basic auth header is base64(user:pass)");
	free(auth);
	CHECK(h_http("GET", "/no/such/path", "a.test", NULL, NULL, &res) == 0,
	      "the HTTP port answers");
	CHECK(res.status == 404, "an unknown path is 404 (%d)", res.status);
	h_http_clear(&res);
}

static void unregister_and_restart(h_client **carol)
{
	h_client *again;
	int rc;

	CHECK(h_unregister(*carol) == 0, "carol deletes her account in-band");
	h_disconnect(*carol);
	*carol = NULL;
	again = h_login("carol@a.test", PW);
	CHECK(again == NULL, "carol can no longer log in");
	h_disconnect(again);

	CHECK(h_envctl("stop") == 0, "envctl stops the server");
	CHECK(h_envctl("alive") != 0, "the server is gone");
	rc = h_envctl("register dave a.test %s", PW);
	CHECK(rc == 0, "prosodyctl registers a user while it is stopped");
	CHECK(h_envctl("launch") == 0, "envctl starts it again");
	again = h_login("dave@a.test", PW);
	CHECK(again != NULL, "dave logs in after the restart");
	h_disconnect(again);
}

int main(void)
{
	h_client *alice = h_login("alice@a.test", PW);
	h_client *bob = h_login("bob@a.test", PW);
	h_client *carol = h_login("carol@a.test", PW);
	h_client *admin = h_login("admin@a.test", PW);

	if (!CHECK(alice && bob && carol && admin, "four clients log in"))
		return h_finish();
	chat(alice, bob);
	room(alice, carol);
	adhoc(admin, bob);
	http();
	h_disconnect(alice);
	h_disconnect(bob);
	h_disconnect(admin);
	unregister_and_restart(&carol);
	h_disconnect(carol);
	return h_finish();
}
