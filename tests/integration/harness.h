/* harness.h — integration-test conversations with a real Prosody.
 *
 * A test reads like the conversation it checks:
 *
 *   h_client *alice = h_login("alice@a.test", "pw");
 *   h_send_message(alice, "bob@a.test", "chat", "m1", "hello");
 *   xmpp_stanza_t *m = h_await(bob, h_pred_body, "hello", 5000);
 *   CHECK(m != NULL, "bob receives alice's message");
 *
 * Every client shares one libstrophe context, so waiting on one client also
 * runs the others (a test never deadlocks waiting for a send it queued).
 * Everything is single-threaded.  Where the server is comes from the
 * environment prosody-env.sh exports: ENV_C2S_PORT, ENV_HTTP_PORT, ENV_CFG,
 * ENV_DIR, IMHOST_REPO.
 *
 * Ownership: functions returning char* or xmpp_stanza_t* hand the caller a
 * reference (free() / xmpp_stanza_release()); h_adhoc fills an h_adhoc_result
 * the caller clears with h_adhoc_clear.  Nothing here keeps pointers the caller
 * passed in.
 */
#ifndef IMHOST_HARNESS_H
#define IMHOST_HARNESS_H

#include <stddef.h>
#include <jansson.h>
#include <strophe.h>

/* ---- checks ---------------------------------------------------------------- */
/* CHECK(cond, "what should hold", ...) counts and prints one line; evaluates to
 * cond so a test can skip what depends on it.  h_finish prints the summary
 * "N passed, N failed" and returns the exit status for main. */
#define CHECK(cond, ...) h_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
int h_check(int ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int h_finish(void);
void h_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- XMPP clients -------------------------------------------------------------- */
typedef struct h_client h_client;

/* Connects and authenticates jid with pass at host:port (plaintext, loopback),
 * binds a resource and sends initial presence.  NULL (reason printed) on
 * failure or after 10 s. */
h_client *h_connect(const char *jid, const char *pass, const char *host, int port);
/* h_connect to 127.0.0.1:$ENV_C2S_PORT. */
h_client *h_login(const char *jid, const char *pass);
/* Closes the stream, waits for the server to close it, frees c (NULL is ok). */
void h_disconnect(h_client *c);
const char *h_jid(const h_client *c);		/* the bound full JID */
xmpp_ctx_t *h_ctx(void);			/* to build stanzas */
int h_connected(const h_client *c);

/* Runs the event loop for about ms milliseconds. */
void h_pump(int ms);

/* type is "chat" or "groupchat"; id and body are copied.  0 or -1. */
int h_send_message(h_client *c, const char *to, const char *type,
		   const char *id, const char *body);
/* Sends stanza (does not take it). */
int h_send(h_client *c, xmpp_stanza_t *stanza);

/* Waits up to timeout_ms for a stanza to c that pred accepts; removes it from
 * c's inbox and returns it (caller releases), or NULL on timeout.  Stanzas
 * that do not match stay queued for later awaits. */
typedef int (*h_pred)(xmpp_stanza_t *s, const void *arg);
xmpp_stanza_t *h_await(h_client *c, h_pred pred, const void *arg, int timeout_ms);
int h_pred_body(xmpp_stanza_t *s, const void *body);	  /* message, body == arg */
int h_pred_body_prefix(xmpp_stanza_t *s, const void *prefix);
int h_pred_id(xmpp_stanza_t *s, const void *id);	  /* any stanza, id == arg */
void h_inbox_clear(h_client *c);

/* Sends iq (gives it an id if it has none; does not take it) and waits for
 * the result or error with that id.  NULL on timeout. */
xmpp_stanza_t *h_iq(h_client *c, xmpp_stanza_t *iq, int timeout_ms);

/* Joins room_jid as nick; creates the room (instant room, default
 * configuration) when the server says it is new.  0 or -1. */
int h_join_room(h_client *c, const char *room_jid, const char *nick);

/* XEP-0050: executes node "imhost/<op>" on the client's own host, fills the
 * returned form with kv (NULL-terminated "name","value" pairs; NULL = none)
 * and submits it.  On completion r->text and r->json hold the result form's
 * "result" and "json" fields; on refusal r->error holds the note or IQ error
 * condition.  Returns 0 when the command completed with a result, -1
 * otherwise (r->error says why). */
typedef struct {
	char *text;
	char *json;
	char *error;
	xmpp_stanza_t *form;	/* the whole result form, for other fields */
} h_adhoc_result;
int h_adhoc(h_client *c, const char *op, const char *const *kv, h_adhoc_result *r);
/* The same for any command node (e.g. Prosody's own admin commands). */
int h_adhoc_node(h_client *c, const char *node, const char *const *kv, h_adhoc_result *r);
/* Values of field name in r->form joined by newlines, or NULL (caller frees). */
char *h_adhoc_field(const h_adhoc_result *r, const char *name);
void h_adhoc_clear(h_adhoc_result *r);

/* XEP-0077 <remove/>: deletes the client's own account.  0 on an IQ result. */
int h_unregister(h_client *c);

/* ---- HTTP ------------------------------------------------------------------- */
typedef struct {
	int status;	/* 0 when no response was read */
	char *body;	/* NUL-terminated, caller frees */
	size_t len;
	char *headers;	/* the header lines after the status line, "\r\n"-separated */
} h_http_response;
/* One HTTP/1.1 request to 127.0.0.1:$ENV_HTTP_PORT with "Host: host",
 * extra headers (NULL-terminated array of "Name: value", may be NULL) and an
 * optional body (sent as application/json).  0, or -1 on a transport error. */
int h_http(const char *method, const char *path, const char *host,
	   const char *const *headers, const char *body, h_http_response *out);
void h_http_clear(h_http_response *r);
/* The value of response header name (case-insensitive), trimmed, or NULL
 * (caller frees). */
char *h_http_header(const h_http_response *r, const char *name);
/* "Authorization: Basic base64(user:pass)" (caller frees). */
char *h_basic_auth(const char *user, const char *pass);
/* Percent-encodes s for a query string (caller frees). */
char *h_urlencode(const char *s);

/* ---- JSON and the environment ----------------------------------------------- */
/* Parses text (NULL → NULL); caller json_decref()s. */
json_t *h_json(const char *text);
/* Runs `sh -c cmd` (printf format); returns its stdout (caller frees) and the
 * exit status in *status (-1 if it could not run).  stderr goes to *err when
 * err != NULL. */
char *h_run(int *status, char **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Runs tests/integration/envctl.sh with args (stop, launch, prosodyctl ...)
 * against the current environment; returns its exit status. */
int h_envctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* getenv that fails the test program loudly when unset. */
const char *h_env(const char *name);

/* ---- imhost's surfaces (harness_imhost.c) ------------------------------------ */
/* name=value&... from NULL-terminated pairs, values percent-encoded (caller frees). */
char *h_query(const char *const *kv);
/* {"k":"v",...} from NULL-terminated pairs (caller frees). */
char *h_json_object_of(const char *const *kv);
/* Calls operation op ("logs.search"; or "openapi.json") over HTTP on host as auth
 * (a whole "Authorization: ..." header, or NULL): GET with kv as the query
 * string, or POST with body (JSON text; NULL: an object of kv).  Returns the
 * status (0: no response); *out (may be NULL) the parsed body, caller decrefs. */
int h_api(const char *method, const char *host, const char *auth, const char *op,
	  const char *const *kv, const char *body, json_t **out);
/* The code / param of an {"error":{...}} object, "" if none. */
const char *h_err_code(json_t *j);
const char *h_err_param(json_t *j);
/* First value for key anywhere in j, depth first (borrowed), or NULL. */
json_t *h_find_key(json_t *j, const char *key);
/* prosodyctl --config cfg mod_imhost <args> --json: the parsed result (caller
 * decrefs) or NULL; *status the exit status. */
json_t *h_cli(const char *cfg, int *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* prosodyctl --config cfg shell imhost <args>: 0 when the command succeeded;
 * *out (may be NULL) gets its output (caller frees). */
int h_shell(const char *cfg, char **out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
