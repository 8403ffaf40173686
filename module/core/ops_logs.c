/*
 * ops_logs.c — the logs.* operations: declarations (parameters, permission) and
 * handlers.  Handlers get validated, typed params (params.c) and only translate
 * them into calls of logsearch/trends/logmaint.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "imhost_err.h"
#include "logmaint.h"
#include "logsearch.h"
#include "registry.h"
#include "store.h"
#include "trends.h"

#define RETENTION_CHUNK 1000

static const char *str(json_t *params, const char *name)
{
	return json_string_value(json_object_get(params, name));
}

static int64_t num(json_t *params, const char *name, int64_t dflt)
{
	json_t *v = json_object_get(params, name);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* Wraps a malloc'd core error message into an error object; frees msg. */
static int fail(json_t **result, int rc, const char *param, char *msg)
{
	*result = im_error_new(rc == IM_EINVAL ? "invalid" : "internal", rc == IM_EINVAL ? param : NULL,
	                       "%s", msg ? msg : "failed");
	free(msg);
	return rc == IM_OK ? IM_ERR : rc;
}

/* --- logs.search --------------------------------------------------------------- */

static const char *const kinds[] = { "chat", "groupchat", "normal", "headline", NULL };

static const im_param search_params[] = {
	{ "domain", IM_PT_DOMAIN, 0, 0, 0, NULL, NULL, "only entries of this host" },
	{ "user", IM_PT_JID, 0, 0, 0, NULL, NULL, "bare JID, as sender or recipient" },
	{ "room", IM_PT_JID, 0, 0, 0, NULL, NULL, "room bare JID" },
	{ "kind", IM_PT_ENUM, 0, 0, 0, kinds, NULL, "message type" },
	{ "since", IM_PT_TIME, 0, 0, 0, NULL, NULL, "from this time (inclusive; in your time zone)" },
	{ "until", IM_PT_TIME, 0, 0, 0, NULL, NULL, "before this time (exclusive; in your time zone)" },
	{ "keyword", IM_PT_STRING, 0, 0, 200, NULL, NULL, "words, \"a phrase\", or pre* prefix" },
	{ "limit", IM_PT_INT, 0, 1, 500, NULL, "50", "entries per page" },
	{ "cursor", IM_PT_CURSOR, 0, 0, 0, NULL, NULL, "next_cursor of the previous page" },
};

static int logs_search(im_op_ctx *c, json_t *p, json_t **result)
{
	im_search_q q;
	char *err = NULL;
	int rc;

	memset(&q, 0, sizeof q);
	q.domain = str(p, "domain");
	q.user = str(p, "user");
	q.room = str(p, "room");
	q.kind = str(p, "kind");
	q.keyword = str(p, "keyword");
	q.cursor = str(p, "cursor");
	q.since = num(p, "since", 0);
	q.until = num(p, "until", INT64_MAX);
	q.limit = (int)num(p, "limit", 50);
	rc = im_logsearch(c->env->db, &q, result, NULL, &err);
	return rc == IM_OK ? IM_OK : fail(result, rc, "cursor", err);
}

const im_op im_op_logs_search = {
	"logs.search", "Search interaction logs", "logs.read", 0, 1,
	search_params, sizeof search_params / sizeof search_params[0], logs_search,
	NULL, 0,   /* scope: none (server-wide); not live */
};

/* --- logs.trends ----------------------------------------------------------------- */

static const char *const metrics[] = { "messages", "active_users", "peak_sessions", "top_users",
                                       "top_rooms", NULL };
static const char *const grains[] = { "hour", "day", "week", NULL };

static const im_param trends_params[] = {
	{ "domain", IM_PT_DOMAIN, 0, 0, 0, NULL, NULL, "one host; absent: server-wide" },
	{ "metric", IM_PT_ENUM, 1, 0, 0, metrics, NULL, "what to count" },
	{ "granularity", IM_PT_ENUM, 0, 0, 0, grains, "day", "bucket size (UTC hours, days, weeks from Monday)" },
	{ "since", IM_PT_TIME, 0, 0, 0, NULL, "-30d", "from this time" },
	{ "until", IM_PT_TIME, 0, 0, 0, NULL, "now", "up to this time (exclusive)" },
	{ "limit", IM_PT_INT, 0, 1, 100, NULL, "10", "entries of a top list" },
};

static int logs_trends(im_op_ctx *c, json_t *p, json_t **result)
{
	im_trends_q q;
	char *err = NULL;
	int rc;

	q.domain = str(p, "domain");
	q.metric = str(p, "metric");
	q.granularity = str(p, "granularity");
	q.since = num(p, "since", 0);
	q.until = num(p, "until", c->now);
	q.limit = (int)num(p, "limit", 10);
	rc = im_trends(c->env->db, &q, result, &err);
	return rc == IM_OK ? IM_OK : fail(result, rc, "granularity", err);
}

const im_op im_op_logs_trends = {
	"logs.trends", "Usage trends from the rollups", "logs.read", 0, 1,
	trends_params, sizeof trends_params / sizeof trends_params[0], logs_trends,
	NULL, 0,   /* scope: none (server-wide); not live */
};

/* --- logs.users --------------------------------------------------------------------- */

static const im_param users_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "host whose users the log has seen" },
};

static int logs_users(im_op_ctx *c, json_t *p, json_t **result)
{
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int rc;

	if (arr == NULL ||
	    sqlite3_prepare_v2(c->env->db, "SELECT user FROM known_user WHERE domain = ? ORDER BY user",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, str(p, "domain"), -1, SQLITE_STATIC) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, json_string((const char *)sqlite3_column_text(st, 0)));
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	*result = json_pack("{s:o}", "users", arr);
	return IM_OK;
fail:
	*result = im_error_new("internal", NULL, "logs.users: %s", sqlite3_errmsg(c->env->db));
	sqlite3_finalize(st);
	json_decref(arr);
	return IM_ERR;
}

const im_op im_op_logs_users = {
	"logs.users", "Users the log has seen on a host (for reconciliation)", "logs.read", 0, 1,
	users_params, sizeof users_params / sizeof users_params[0], logs_users,
	NULL, 0,   /* scope: none (server-wide); not live */
};

/* --- logs.status ------------------------------------------------------------------------ */

static int logs_status(im_op_ctx *c, json_t *p, json_t **result)
{
	json_t *r;

	(void)p;
	r = json_pack("{s:I,s:i}", "db_bytes", (json_int_t)im_store_size_bytes(c->env->db),
	              "schema_version", im_store_version(c->env->db));
	if (r == NULL)
		return IM_ERR;
	if (c->env->writer) {
		im_writer_stats s;
		im_writer_stats_get(c->env->writer, &s);
		json_object_set_new(r, "writer", json_pack(
			"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:s}",
			"queue_depth", (json_int_t)s.queue_depth, "queue_max", (json_int_t)s.queue_max,
			"dropped", (json_int_t)s.dropped, "written", (json_int_t)s.written,
			"batches", (json_int_t)s.batches, "batch_size", (json_int_t)s.last_batch_size,
			"flush_us", (json_int_t)s.last_flush_us, "max_flush_us", (json_int_t)s.max_flush_us,
			"degraded", s.degraded, "last_error", s.last_error));
	} else {
		json_object_set_new(r, "writer", json_null());
	}
	*result = r;
	return IM_OK;
}

const im_op im_op_logs_status = {
	"logs.status", "Log writer and database status", "logs.read", 0, 0,
	NULL, 0, logs_status,
	NULL, 0,   /* scope: none (server-wide); not live */
};

/* --- logs.export ------------------------------------------------------------------------- */

static const im_param export_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "bare JID whose entries to export (GDPR access)" },
};

static int logs_export(im_op_ctx *c, json_t *p, json_t **result)
{
	char *err = NULL;
	int rc;

	/* Entries still queued belong to the user too. */
	if (c->env->writer)
		(void)im_writer_flush(c->env->writer);   /* degraded: export what is committed */
	rc = im_logs_export_user(c->env->db, str(p, "user"), result, &err);
	return rc == IM_OK ? IM_OK : fail(result, rc, "user", err);
}

const im_op im_op_logs_export = {
	"logs.export", "Export one user's log entries (GDPR access)", "logs.read", 0, 1,
	export_params, sizeof export_params / sizeof export_params[0], logs_export,
	NULL, 0,   /* scope: none (server-wide); not live */
};

/* --- logs.erase ------------------------------------------------------------------------------ */

static const char *const modes[] = { "delete", "pseudonymize", NULL };

static const im_param erase_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "bare JID whose entries to erase" },
	{ "mode", IM_PT_ENUM, 0, 0, 0, modes, NULL, "delete or pseudonymize (default: the host's setting)" },
};

static int logs_erase(im_op_ctx *c, json_t *p, json_t **result)
{
	const char *m = str(p, "mode");
	int mode = m ? (strcmp(m, "pseudonymize") == 0 ? IM_ERASE_PSEUDONYMIZE : IM_ERASE_DELETE)
	             : c->env->erasure;
	int64_t count = 0;
	char *err = NULL;
	int rc;

	/* Commit what is queued first, or the user's latest entries would survive. */
	if (c->env->writer && im_writer_flush(c->env->writer) != IM_OK) {
		*result = im_error_new("unavailable", NULL, "log writer cannot commit; try again");
		return IM_ERR;
	}
	rc = im_logs_erase_user(c->env->db, str(p, "user"), mode, &count, &err);
	if (rc != IM_OK)
		return fail(result, rc, "user", err);
	*result = json_pack("{s:I,s:s}", "erased", (json_int_t)count,
	                    "mode", mode == IM_ERASE_PSEUDONYMIZE ? "pseudonymize" : "delete");
	return IM_OK;
}

const im_op im_op_logs_erase = {
	"logs.erase", "Erase one user's log entries (GDPR erasure)", "logs.manage", 1, 1,
	erase_params, sizeof erase_params / sizeof erase_params[0], logs_erase,
	NULL, 0,   /* scope: none (server-wide); not live */
};

/* --- logs.retention ------------------------------------------------------------------------------ */

static const im_param retention_params[] = {
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "host whose old entries to delete" },
	{ "days", IM_PT_INT, 1, 0, 36500, NULL, NULL, "keep this many days (0: delete everything older than now)" },
};

static int logs_retention(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t cutoff = c->now - num(p, "days", 0) * 86400, total = 0, n;
	char *err = NULL;
	int rc;

	/* Short transactions so the writer thread is never blocked for long. */
	do {
		n = 0;
		rc = im_logs_retention_chunk(c->env->db, str(p, "domain"), cutoff, RETENTION_CHUNK, &n, &err);
		if (rc != IM_OK)
			return fail(result, rc, "domain", err);
		total += n;
	} while (n == RETENTION_CHUNK);
	*result = json_pack("{s:I,s:I}", "deleted", (json_int_t)total, "cutoff", (json_int_t)cutoff);
	return IM_OK;
}

const im_op im_op_logs_retention = {
	"logs.retention", "Delete a host's entries older than N days", "logs.manage", 1, 1,
	retention_params, sizeof retention_params / sizeof retention_params[0], logs_retention,
	NULL, 0,   /* scope: none (server-wide); not live */
};
