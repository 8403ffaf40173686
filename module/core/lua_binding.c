/*
 * lua_binding.c — the Lua 5.4 module imhost_core (docs/core-api.md).
 *
 * Translation only: Lua values in, C core calls, JSON strings or plain values
 * out.  Runs on Prosody's one thread; no C thread ever touches the lua_State.
 * Worker completions come back through the eventfd from db:fd().
 * Built into imhost_core.so without linking liblua (the interpreter exports it).
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "imhost.h"
#include "billing_hmac.h"

#define DB_META "imhost_core.db"
/* db:close (and the collector at Prosody's exit) gives worker jobs this long
 * before abandoning them: a stopping server must not wait on a long report
 * (workers.h: im_workers_close_within says why nothing is lost for good). */
#define WORKERS_CLOSE_GRACE_MS 500

typedef struct {
	sqlite3 *db;           /* this thread's connection: db:call, db:verify_token */
	im_writer *writer;
	im_workers *workers;
	int erasure;
	int closed;
} core_db;

/* --- helpers -------------------------------------------------------------------- */

/* Optional string field of the table at idx; the value stays on the stack so the
 * pointer stays valid: callers pop after use. */
static const char *opt_string_field(lua_State *L, int idx, const char *k, size_t *len)
{
	int t = lua_getfield(L, idx, k);

	if (t == LUA_TNIL) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (t != LUA_TSTRING)
		luaL_error(L, "field '%s' must be a string", k);
	return lua_tolstring(L, -1, len);
}

static lua_Integer opt_int_field(lua_State *L, int idx, const char *k, lua_Integer dflt)
{
	lua_Integer v = dflt;
	int isnum = 0;

	if (lua_getfield(L, idx, k) != LUA_TNIL) {
		v = lua_tointegerx(L, -1, &isnum);
		if (!isnum)
			luaL_error(L, "field '%s' must be an integer", k);
	}
	lua_pop(L, 1);
	return v;
}

static core_db *check_db(lua_State *L)
{
	core_db *d = luaL_checkudata(L, 1, DB_META);

	if (d->closed)
		luaL_error(L, "imhost database is closed");
	return d;
}

static void db_release(core_db *d)
{
	if (d->closed)
		return;
	d->closed = 1;
	/* Writer first: its notify callback kicks the workers' eventfd. */
	im_writer_close(d->writer);
	im_workers_close_within(d->workers, WORKERS_CLOSE_GRACE_MS);
	sqlite3_close(d->db);
	d->writer = NULL;
	d->workers = NULL;
	d->db = NULL;
}

static void on_commit(void *arg)
{
	im_workers_kick(arg);
}

/* --- core.* ------------------------------------------------------------------------ */

static int l_operations(lua_State *L)
{
	char *s = im_registry_json();

	if (s == NULL)
		return luaL_error(L, "out of memory");
	lua_pushstring(L, s);
	free(s);
	return 1;
}

/* core.operation(name) -> the declaration as JSON text, or nil (unknown name). */
static int l_operation(lua_State *L)
{
	int found;
	char *s = im_registry_op_json(luaL_checkstring(L, 1), &found);

	if (s == NULL) {
		if (found)
			return luaL_error(L, "out of memory");
		lua_pushnil(L);
		return 1;
	}
	lua_pushstring(L, s);
	free(s);
	return 1;
}

static int l_set_clock(lua_State *L)
{
	if (lua_isnoneornil(L, 1))
		im_clock_real();
	else
		im_clock_set((int64_t)luaL_checkinteger(L, 1));
	return 0;
}

static int l_format_text(lua_State *L)
{
	const char *op = luaL_checkstring(L, 1), *json = luaL_checkstring(L, 2);
	char *s = im_format_text(op, json);

	if (s == NULL)
		return luaL_error(L, "out of memory");
	lua_pushstring(L, s);
	free(s);
	return 1;
}

/* --- signatures: webhooks and statement links (billing_hmac.h) ----------------------
 * Secrets arrive from the glue's config and never go through an operation (whose
 * params are audited).  Outcomes are strings so the glue can log and map them. */

#define MAX_SECRETS 8

static const char *wh_outcome(int rc)
{
	switch (rc) {
	case IM_WH_OK: return "ok";
	case IM_WH_STALE: return "stale";
	case IM_WH_MISMATCH: return "mismatch";
	default: return "malformed";
	}
}

/* core.now() -> the core's clock (injectable in tests), epoch seconds. */
static int l_now(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)im_now());
	return 1;
}

/* core.webhook_verify(header, body, { secret, ... } [, now]) -> "ok" | "malformed" |
 * "stale" | "mismatch".  now defaults to the core's (injectable) clock. */
static int l_webhook_verify(lua_State *L)
{
	const char *secrets[MAX_SECRETS];
	const char *header = luaL_optstring(L, 1, NULL);
	size_t bodylen, n = 0;
	const char *body = luaL_checklstring(L, 2, &bodylen);
	lua_Integer now;
	lua_Integer i;

	luaL_checktype(L, 3, LUA_TTABLE);
	now = luaL_optinteger(L, 4, (lua_Integer)im_now());
	/* The strings stay referenced by the table at index 3 while we use them. */
	for (i = 1; n < MAX_SECRETS; i++) {
		int t = lua_rawgeti(L, 3, i);
		if (t == LUA_TNIL) {
			lua_pop(L, 1);
			break;
		}
		if (t != LUA_TSTRING)
			return luaL_error(L, "webhook secrets must be strings");
		secrets[n++] = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	lua_pushstring(L, wh_outcome(im_webhook_verify(header, body, bodylen, secrets, n, (int64_t)now,
	                                               IM_WEBHOOK_TOLERANCE)));
	return 1;
}

/* core.webhook_sign(secret, t, body) -> "t=<t>,v1=<hex>" (tests, tools). */
static int l_webhook_sign(lua_State *L)
{
	const char *secret = luaL_checkstring(L, 1);
	lua_Integer t = luaL_checkinteger(L, 2);
	size_t bodylen;
	const char *body = luaL_checklstring(L, 3, &bodylen);
	char buf[128];

	if (*secret == '\0' || im_webhook_sign(secret, (int64_t)t, body, bodylen, buf, sizeof buf) != IM_OK)
		return luaL_error(L, "webhook_sign failed");
	lua_pushstring(L, buf);
	return 1;
}

/* core.link_sign(secret, path, expires) -> "exp=<expires>&sig=<hex>". */
static int l_link_sign(lua_State *L)
{
	const char *secret = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
	lua_Integer expires = luaL_checkinteger(L, 3);
	char buf[160];

	if (*secret == '\0' || im_link_sign(secret, path, (int64_t)expires, buf, sizeof buf) != IM_OK)
		return luaL_error(L, "link_sign failed (empty secret?)");
	lua_pushstring(L, buf);
	return 1;
}

/* core.link_check(secret, path, expires, sig [, now]) -> "ok" | "stale" | "mismatch" |
 * "malformed". */
static int l_link_check(lua_State *L)
{
	const char *secret = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
	lua_Integer expires = luaL_checkinteger(L, 3);
	const char *sig = luaL_optstring(L, 4, NULL);
	lua_Integer now = luaL_optinteger(L, 5, (lua_Integer)im_now());

	lua_pushstring(L, wh_outcome(im_link_check(secret, path, (int64_t)expires, sig, (int64_t)now)));
	return 1;
}

static int l_open(lua_State *L)
{
	im_writer_opts wo;
	im_workers_opts ko;
	core_db *d;
	const char *path, *erasure;
	char *err = NULL;

	luaL_checktype(L, 1, LUA_TTABLE);
	memset(&wo, 0, sizeof wo);
	memset(&ko, 0, sizeof ko);
	path = opt_string_field(L, 1, "path", NULL);    /* stays on the stack */
	if (path == NULL || *path == '\0')
		return luaL_error(L, "core.open: path is required");
	erasure = opt_string_field(L, 1, "erasure", NULL);
	if (erasure && strcmp(erasure, "delete") != 0 && strcmp(erasure, "pseudonymize") != 0)
		return luaL_error(L, "core.open: erasure must be \"delete\" or \"pseudonymize\"");
	lua_getfield(L, 1, "sync");
	wo.sync = lua_toboolean(L, -1);
	lua_pop(L, 1);
	wo.path = path;
	wo.queue_max = (int)opt_int_field(L, 1, "queue_max", 65536);
	wo.batch_max = (int)opt_int_field(L, 1, "batch_max", 2048);
	wo.flush_ms = (int)opt_int_field(L, 1, "flush_ms", 200);
	ko.path = path;
	ko.threads = (int)opt_int_field(L, 1, "workers", 2);
	ko.erasure = erasure && strcmp(erasure, "pseudonymize") == 0 ? IM_ERASE_PSEUDONYMIZE
	                                                              : IM_ERASE_DELETE;
	if (wo.queue_max < 1 || wo.batch_max < 1 || wo.flush_ms < 1 || ko.threads < 1 || ko.threads > 16)
		return luaL_error(L, "core.open: queue_max, batch_max, flush_ms must be positive, workers 1..16");

	d = lua_newuserdatauv(L, sizeof *d, 0);
	memset(d, 0, sizeof *d);
	d->closed = 1;                        /* nothing to release yet */
	luaL_setmetatable(L, DB_META);
	d->erasure = ko.erasure;
	/* The first open creates and migrates the file; the others find it ready. */
	if (im_store_open(path, &d->db, &err) != IM_OK)
		goto fail;
	d->closed = 0;
	if (im_workers_open(&ko, &d->workers, &err) != IM_OK)
		goto fail;
	wo.notify = on_commit;
	wo.notify_arg = d->workers;
	if (im_writer_open(&wo, &d->writer, &err) != IM_OK)
		goto fail;
	im_workers_set_writer(d->workers, d->writer);
	return 1;
fail:
	db_release(d);
	lua_pushnil(L);
	lua_pushstring(L, err ? err : "core.open failed");
	free(err);
	return 2;
}

/* --- db methods --------------------------------------------------------------------- */

static int l_fd(lua_State *L)
{
	lua_pushinteger(L, im_workers_fd(check_db(L)->workers));
	return 1;
}

static int push_queue_result(lua_State *L, int rc)
{
	if (rc == IM_OK) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushboolean(L, 0);
	lua_pushstring(L, rc == IM_EFULL ? "queue full" : rc == IM_EINVAL ? "invalid entry" : "write failed");
	return 2;
}

static int l_log_message(lua_State *L)
{
	core_db *d = check_db(L);
	im_log_message m;
	int n;

	luaL_checktype(L, 2, LUA_TTABLE);
	luaL_checkstack(L, 12, "log_message");
	memset(&m, 0, sizeof m);
	m.ts = (int64_t)opt_int_field(L, 2, "ts", (lua_Integer)im_now());
	m.size = (int64_t)opt_int_field(L, 2, "size", 0);
	m.domain = opt_string_field(L, 2, "domain", NULL);
	m.from = opt_string_field(L, 2, "from", NULL);
	m.to = opt_string_field(L, 2, "to", NULL);
	m.room = opt_string_field(L, 2, "room", NULL);
	m.kind = opt_string_field(L, 2, "kind", NULL);
	m.stanza_id = opt_string_field(L, 2, "stanza_id", NULL);
	m.body = opt_string_field(L, 2, "body", &m.body_len);
	m.encrypted = opt_string_field(L, 2, "encrypted", NULL);
	n = push_queue_result(L, im_writer_message(d->writer, &m));   /* copies the strings */
	lua_rotate(L, -(n + 8), n);   /* results below the eight field values ... */
	lua_pop(L, 8);                 /* ... which are dropped */
	return n;
}

/* Positional argument idx: a string or nil (NULL); anything else is an error.
 * The pointer stays valid while the argument is on the stack (the whole call). */
static const char *opt_string_arg(lua_State *L, int idx, size_t *len)
{
	int t = lua_type(L, idx);

	if (len)
		*len = 0;
	if (t == LUA_TNIL || t == LUA_TNONE)
		return NULL;
	if (t != LUA_TSTRING)
		luaL_typeerror(L, idx, "string or nil");
	return lua_tolstring(L, idx, len);
}

/* db:log_message_args(domain, from, to, room, kind, stanza_id, size, body,
 * encrypted [, ts]): the same entry as db:log_message{...} without building a
 * table per message (the logging hooks' hot path).  from/to/room may be full
 * JIDs: the writer keeps the bare part.  Same results as log_message. */
static int l_log_message_args(lua_State *L)
{
	core_db *d = check_db(L);
	im_log_message m;
	int isnum = 1;

	memset(&m, 0, sizeof m);
	m.domain = opt_string_arg(L, 2, NULL);
	m.from = opt_string_arg(L, 3, NULL);
	m.to = opt_string_arg(L, 4, NULL);
	m.room = opt_string_arg(L, 5, NULL);
	m.kind = opt_string_arg(L, 6, NULL);
	m.stanza_id = opt_string_arg(L, 7, NULL);
	if (!lua_isnoneornil(L, 8)) {
		m.size = (int64_t)lua_tointegerx(L, 8, &isnum);
		if (!isnum)
			return luaL_typeerror(L, 8, "integer or nil");
	}
	m.body = opt_string_arg(L, 9, &m.body_len);
	m.encrypted = opt_string_arg(L, 10, NULL);
	if (lua_isnoneornil(L, 11)) {
		m.ts = (int64_t)im_now();
	} else {
		m.ts = (int64_t)lua_tointegerx(L, 11, &isnum);
		if (!isnum)
			return luaL_typeerror(L, 11, "integer or nil");
	}
	return push_queue_result(L, im_writer_message(d->writer, &m));   /* copies the strings */
}

static int l_log_session(lua_State *L)
{
	core_db *d = check_db(L);
	im_log_session s;
	int n;

	luaL_checktype(L, 2, LUA_TTABLE);
	luaL_checkstack(L, 10, "log_session");
	memset(&s, 0, sizeof s);
	s.ts = (int64_t)opt_int_field(L, 2, "ts", (lua_Integer)im_now());
	s.domain = opt_string_field(L, 2, "domain", NULL);
	s.user = opt_string_field(L, 2, "user", NULL);
	s.resource = opt_string_field(L, 2, "resource", NULL);
	s.client = opt_string_field(L, 2, "client", NULL);
	s.event = opt_string_field(L, 2, "event", NULL);
	n = push_queue_result(L, im_writer_session(d->writer, &s));
	lua_rotate(L, -(n + 5), n);
	lua_pop(L, 5);
	return n;
}

/* true, or nil and why a job was not queued (IM_EFULL: the queue is full). */
static int push_submit_result(lua_State *L, int rc)
{
	if (rc == IM_OK) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushnil(L);
	lua_pushstring(L, rc == IM_EFULL ? "busy: too many queued operations" : "submit failed");
	return 2;
}

static int l_submit(lua_State *L)
{
	core_db *d = check_db(L);
	lua_Integer id = luaL_checkinteger(L, 2);
	const char *op = luaL_checkstring(L, 3);
	const char *params = luaL_optstring(L, 4, "{}");
	const char *ctx = luaL_checkstring(L, 5);

	return push_submit_result(L, im_workers_submit(d->workers, (int64_t)id, op, params, ctx));
}

/* db:scram_check(id, password, salt, iterations, stored_key_hex, server_key_hex
 *                [, hash]) -> true, or nil, err.  hash: "SHA-1" (default) or
 * "SHA-256", Prosody's password_hash.  Queues a SCRAM password check (scram.h) as a
 * worker task, not an operation: it has no surface.  The outcome arrives through
 * db:drain() as {id, ok = match, result = "match"|"mismatch"|"bad_record"|...}.
 * The password must be SASLprepped; C wipes its copy once checked.  (The Lua
 * string cannot be wiped: it lives until the collector frees it.) */
static int l_scram_check(lua_State *L)
{
	core_db *d = check_db(L);
	lua_Integer id = luaL_checkinteger(L, 2);
	size_t pwlen, saltlen;
	const char *password = luaL_checklstring(L, 3, &pwlen);
	const char *salt = luaL_checklstring(L, 4, &saltlen);
	lua_Integer iterations = luaL_checkinteger(L, 5);
	const char *stored_key = luaL_checkstring(L, 6), *server_key = luaL_checkstring(L, 7);
	im_scram_hash hash;
	im_scram_job *j;

	if (im_scram_hash_by_name(luaL_optstring(L, 8, "SHA-1"), &hash) != IM_OK)
		return luaL_argerror(L, 8, "\"SHA-1\" or \"SHA-256\"");

	/* Out-of-range counts reach the task, which answers "bad_record" without
	 * hashing: clamp only so that the long conversion cannot wrap. */
	if (iterations < 0 || iterations > IM_SCRAM_MAX_ITERATIONS)
		iterations = 0;
	j = im_scram_job_new(hash, password, pwlen, salt, saltlen, (long)iterations, stored_key,
	                     server_key);
	if (j == NULL)
		return luaL_error(L, "out of memory");
	return push_submit_result(L, im_workers_submit_task(d->workers, (int64_t)id, im_scram_job_run, j,
	                                                    im_scram_job_free));
}

static int l_drain(lua_State *L)
{
	core_db *d = check_db(L);
	im_completion *list = im_workers_drain(d->workers), *c;
	lua_Integer i = 1;

	lua_newtable(L);
	for (c = list; c; c = c->next) {
		lua_createtable(L, 0, 3);
		lua_pushinteger(L, (lua_Integer)c->id);
		lua_setfield(L, -2, "id");
		lua_pushboolean(L, c->ok);
		lua_setfield(L, -2, "ok");
		lua_pushstring(L, c->result);
		lua_setfield(L, -2, "result");
		lua_rawseti(L, -2, i++);
	}
	im_completions_free(list);
	return 1;
}

static int l_call(lua_State *L)
{
	core_db *d = check_db(L);
	const char *op = luaL_checkstring(L, 2);
	const char *params = luaL_optstring(L, 3, "{}");
	const char *ctx = luaL_checkstring(L, 4);
	im_env env;
	char *res;
	int ok = 0;

	env.db = d->db;
	env.writer = d->writer;
	env.erasure = d->erasure;
	res = im_registry_call(&env, op, params, ctx, &ok);
	if (res == NULL)
		return luaL_error(L, "out of memory");
	lua_pushboolean(L, ok);
	lua_pushstring(L, res);
	free(res);
	return 2;
}

static int l_flush(lua_State *L)
{
	lua_pushboolean(L, im_writer_flush(check_db(L)->writer) == IM_OK);
	return 1;
}

static int l_status(lua_State *L)
{
	core_db *d = check_db(L);
	im_writer_stats s;

	im_writer_stats_get(d->writer, &s);
	lua_createtable(L, 0, 9);
	lua_pushinteger(L, s.queue_depth);   lua_setfield(L, -2, "queue_depth");
	lua_pushinteger(L, s.queue_max);     lua_setfield(L, -2, "queue_max");
	lua_pushinteger(L, s.dropped);       lua_setfield(L, -2, "dropped");
	lua_pushinteger(L, s.written);       lua_setfield(L, -2, "written");
	lua_pushboolean(L, s.degraded);      lua_setfield(L, -2, "degraded");
	lua_pushstring(L, s.last_error);     lua_setfield(L, -2, "last_error");
	lua_pushinteger(L, s.last_batch_size); lua_setfield(L, -2, "batch_size");
	lua_pushnumber(L, (lua_Number)s.last_flush_us / 1000.0); lua_setfield(L, -2, "flush_ms");
	lua_pushinteger(L, s.db_bytes > 0 ? s.db_bytes : im_store_size_bytes(d->db));
	lua_setfield(L, -2, "db_bytes");
	return 1;
}

static int l_verify_token(lua_State *L)
{
	core_db *d = check_db(L);
	char *actor = im_verify_token(d->db, luaL_checkstring(L, 2));

	if (actor == NULL) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushstring(L, actor);
	free(actor);
	return 1;
}

static int l_close(lua_State *L)
{
	db_release(luaL_checkudata(L, 1, DB_META));
	return 0;
}

static const luaL_Reg db_methods[] = {
	{ "fd", l_fd },
	{ "log_message", l_log_message },
	{ "log_message_args", l_log_message_args },
	{ "log_session", l_log_session },
	{ "submit", l_submit },
	{ "scram_check", l_scram_check },
	{ "drain", l_drain },
	{ "call", l_call },
	{ "flush", l_flush },
	{ "status", l_status },
	{ "verify_token", l_verify_token },
	{ "close", l_close },
	{ NULL, NULL },
};

static const luaL_Reg core_funcs[] = {
	{ "operations", l_operations },
	{ "operation", l_operation },
	{ "set_clock", l_set_clock },
	{ "format_text", l_format_text },
	{ "open", l_open },
	{ "now", l_now },
	{ "webhook_verify", l_webhook_verify },
	{ "webhook_sign", l_webhook_sign },
	{ "link_sign", l_link_sign },
	{ "link_check", l_link_check },
	{ NULL, NULL },
};

int luaopen_imhost_core(lua_State *L);

int luaopen_imhost_core(lua_State *L)
{
	luaL_checkversion(L);
	if (luaL_newmetatable(L, DB_META)) {
		luaL_newlib(L, db_methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__close");
	}
	lua_pop(L, 1);
	luaL_newlib(L, core_funcs);
	lua_pushliteral(L, IMHOST_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}
