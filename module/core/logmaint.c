/*
 * logmaint.c — erasure, retention and export of the interaction logs.
 *
 * These run on operation worker threads with their own connection, next to the
 * writer thread.  They are not hot: statements are prepared per call.  Every
 * change to log_message rows that carry a body first removes the row from the
 * external-content FTS5 index ('delete' needs the old body), or the index would
 * keep returning ghosts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logmaint.h"
#include "sha256.h"
#include "imhost_err.h"
#include "store.h"

#define JID_MAX     3071
#define CHUNK_MAX   100000

/* A bare user JID: local@domain, no resource, sane length. */
static int valid_user_jid(const char *jid)
{
	const char *at;
	size_t n;

	if (jid == NULL)
		return 0;
	n = strnlen(jid, JID_MAX + 1);
	if (n == 0 || n > JID_MAX || strchr(jid, '/') != NULL)
		return 0;
	at = strchr(jid, '@');
	return at != NULL && at != jid && at[1] != '\0' && strchr(at + 1, '@') == NULL;
}

int im_logs_pseudonym(const char *user_jid, char *out, size_t outsz)
{
	char hex[65];
	int n;

	if (!valid_user_jid(user_jid) || out == NULL)
		return IM_EINVAL;
	im_sha256_hex(user_jid, strlen(user_jid), hex);
	n = snprintf(out, outsz, "erased-%.12s@%s", hex, strchr(user_jid, '@') + 1);
	return (n < 0 || (size_t)n >= outsz) ? IM_EINVAL : IM_OK;
}

/* Runs one statement with up to two text parameters and an optional int64
 * third; adds sqlite3_changes to *changes when not NULL. */
static int run(sqlite3 *db, const char *sql, const char *a, const char *b, int64_t c,
               int64_t *changes)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	if (a && sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b && sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_int64(st, 3, c);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return rc;
	if (changes)
		*changes += sqlite3_changes(db);
	return SQLITE_OK;
}

/* Removes from the FTS index every row the query returns as (id, body) (rows
 * with a NULL body have nothing indexed).  Parameters, where the query has
 * them: ?1 text a, ?2 text b, ?3 int c, ?4 int lim.  If del_row, also deletes
 * each log_message row, counted in *n. */
static int fts_forget(sqlite3 *db, const char *select_sql, const char *a, const char *b,
                      int64_t c, int64_t lim, int del_row, int64_t *n)
{
	sqlite3_stmt *sel = NULL, *del = NULL, *row = NULL;
	int rc = SQLITE_ERROR, pc;

	if (sqlite3_prepare_v2(db, select_sql, -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO log_message_fts(log_message_fts, rowid, body) "
	                           "VALUES('delete', ?, ?)", -1, &del, NULL) != SQLITE_OK ||
	    (del_row && sqlite3_prepare_v2(db, "DELETE FROM log_message WHERE id=?", -1, &row,
	                                   NULL) != SQLITE_OK))
		goto out;
	pc = sqlite3_bind_parameter_count(sel);
	if (a && pc >= 1)
		sqlite3_bind_text(sel, 1, a, -1, SQLITE_STATIC);
	if (b && pc >= 2)
		sqlite3_bind_text(sel, 2, b, -1, SQLITE_STATIC);
	if (pc >= 3)
		sqlite3_bind_int64(sel, 3, c);
	if (pc >= 4)
		sqlite3_bind_int64(sel, 4, lim);
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(sel, 0);

		if (sqlite3_column_type(sel, 1) != SQLITE_NULL) {
			sqlite3_bind_int64(del, 1, id);
			sqlite3_bind_value(del, 2, sqlite3_column_value(sel, 1));
			rc = sqlite3_step(del);
			sqlite3_reset(del);
			if (rc != SQLITE_DONE)
				goto out;
		}
		if (del_row) {
			sqlite3_bind_int64(row, 1, id);
			rc = sqlite3_step(row);
			sqlite3_reset(row);
			if (rc != SQLITE_DONE)
				goto out;
			if (n)
				(*n)++;
		}
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	sqlite3_finalize(row);
	return rc == SQLITE_OK ? SQLITE_OK : (rc ? rc : SQLITE_ERROR);
}

static int begin(sqlite3 *db, char **err)
{
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		im_store_set_err(err, "begin", db);
		return IM_ERR;
	}
	return IM_OK;
}

static int commit_or_rollback(sqlite3 *db, int ok, const char *what, char **err)
{
	if (ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return IM_OK;
	im_store_set_err(err, what, db);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return IM_ERR;
}

int im_logs_erase_user(sqlite3 *db, const char *user_jid, int mode, int64_t *count, char **err)
{
	char pseud[JID_MAX + 32];
	int64_t n = 0;
	int ok;

	if (count)
		*count = 0;
	if (db == NULL || (mode != IM_ERASE_DELETE && mode != IM_ERASE_PSEUDONYMIZE) ||
	    im_logs_pseudonym(user_jid, pseud, sizeof pseud) != IM_OK) {
		im_set_errf(err, "erase: invalid user JID or mode");
		return IM_EINVAL;
	}
	if (begin(db, err) != IM_OK)
		return IM_ERR;
	/* Bodies leave the FTS index in both modes. */
	ok = fts_forget(db, "SELECT id, body FROM log_message WHERE (sender=?1 OR recipient=?1)"
	                    " AND body IS NOT NULL", user_jid, NULL, 0, 0, 0, NULL) == SQLITE_OK;
	if (mode == IM_ERASE_DELETE) {
		ok = ok &&
		     run(db, "DELETE FROM log_message WHERE sender=?1 OR recipient=?1",
		         user_jid, NULL, 0, &n) == SQLITE_OK &&
		     run(db, "DELETE FROM log_session WHERE user=?1", user_jid, NULL, 0, &n) == SQLITE_OK &&
		     run(db, "DELETE FROM rollup_user_day WHERE user=?1", user_jid, NULL, 0, NULL) == SQLITE_OK;
	} else {
		/* The pseudonym keeps counts and trends meaningful without the person.
		 * Resources can name a device or a person: dropped too.  Rollup rows are
		 * merged into the pseudonym's (erasing twice must not hit the key). */
		ok = ok &&
		     run(db, "UPDATE log_message SET"
		             " sender = CASE WHEN sender=?1 THEN ?2 ELSE sender END,"
		             " recipient = CASE WHEN recipient=?1 THEN ?2 ELSE recipient END,"
		             " body = NULL, truncated = 0"
		             " WHERE sender=?1 OR recipient=?1", user_jid, pseud, 0, &n) == SQLITE_OK &&
		     run(db, "UPDATE log_session SET user=?2, resource=NULL WHERE user=?1",
		         user_jid, pseud, 0, &n) == SQLITE_OK &&
		     run(db, "INSERT INTO rollup_user_day(domain,day,user,messages,logins)"
		             " SELECT domain, day, ?2, messages, logins FROM rollup_user_day WHERE user=?1"
		             " ON CONFLICT(domain,day,user) DO UPDATE SET"
		             " messages=messages+excluded.messages, logins=logins+excluded.logins",
		         user_jid, pseud, 0, NULL) == SQLITE_OK &&
		     run(db, "DELETE FROM rollup_user_day WHERE user=?1", user_jid, NULL, 0, NULL) == SQLITE_OK;
	}
	/* known_user lists people to reconcile erasure against: the pseudonym is not one. */
	ok = ok && run(db, "DELETE FROM known_user WHERE user=?1", user_jid, NULL, 0, NULL) == SQLITE_OK;
	if (commit_or_rollback(db, ok, "erase", err) != IM_OK)
		return IM_ERR;
	if (count)
		*count = n;
	return IM_OK;
}

int im_logs_retention_chunk(sqlite3 *db, const char *domain, int64_t cutoff, int chunk,
                            int64_t *deleted, char **err)
{
	int64_t n = 0;
	int ok;

	if (deleted)
		*deleted = 0;
	if (db == NULL || chunk < 1 || chunk > CHUNK_MAX || (domain && *domain == '\0')) {
		im_set_errf(err, "retention: invalid arguments");
		return IM_EINVAL;
	}
	if (begin(db, err) != IM_OK)
		return IM_ERR;
	/* Two spellings rather than "?2 IS NULL OR domain=?2", which would hide the
	 * (domain, ts) index from the planner. */
	ok = fts_forget(db, domain
	                ? "SELECT id, body FROM log_message WHERE domain=?2 AND ts<?3"
	                  " ORDER BY ts LIMIT ?4"
	                : "SELECT id, body FROM log_message WHERE ts<?3"
	                  " ORDER BY ts LIMIT ?4",
	                NULL, domain, cutoff, chunk, 1, &n) == SQLITE_OK;
	if (ok && n < chunk) {
		sqlite3_stmt *st = NULL;

		ok = sqlite3_prepare_v2(db, domain
		        ? "DELETE FROM log_session WHERE id IN (SELECT id FROM log_session"
		          " WHERE domain=?2 AND ts<?3 ORDER BY ts LIMIT ?1)"
		        : "DELETE FROM log_session WHERE id IN (SELECT id FROM log_session"
		          " WHERE ts<?3 ORDER BY ts LIMIT ?1)", -1, &st, NULL) == SQLITE_OK;
		if (ok) {
			sqlite3_bind_int64(st, 1, chunk - n);
			if (domain)
				sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, cutoff);
			ok = sqlite3_step(st) == SQLITE_DONE;
			if (ok)
				n += sqlite3_changes(db);
		}
		sqlite3_finalize(st);
	}
	if (commit_or_rollback(db, ok, "retention", err) != IM_OK)
		return IM_ERR;
	if (deleted)
		*deleted = n;
	return IM_OK;
}

/* --- export ------------------------------------------------------------------- */

/* Column i of st as a JSON value: integer, string, or null.  NULL on failure
 * (invalid UTF-8 or out of memory). */
static json_t *col_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	default: {
		const char *s = (const char *)sqlite3_column_text(st, i);
		return s ? json_stringn(s, (size_t)sqlite3_column_bytes(st, i)) : NULL;
	}
	}
}

/* Appends one object per row of sql (?1 = jid) to arr, keys = names[]. */
static int rows_to_json(sqlite3 *db, const char *sql, const char *jid,
                        const char *const *names, int ncols, json_t *arr, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc, i;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		im_store_set_err(err, "export", db);
		return IM_ERR;
	}
	sqlite3_bind_text(st, 1, jid, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();

		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto oom;
		for (i = 0; i < ncols; i++) {
			json_t *v = col_json(st, i);

			if (v == NULL) {
				im_set_errf(err, "export: column %s is not valid UTF-8", names[i]);
				sqlite3_finalize(st);
				return IM_ERR;
			}
			if (strcmp(names[i], "truncated") == 0) {   /* stored as 0/1 */
				json_t *b = json_boolean(json_integer_value(v) != 0);
				json_decref(v);
				v = b;
			}
			if (json_object_set_new(o, names[i], v) != 0)
				goto oom;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		im_store_set_err(err, "export", db);
		return IM_ERR;
	}
	return IM_OK;
oom:
	sqlite3_finalize(st);
	im_set_errf(err, "export: out of memory");
	return IM_ERR;
}

int im_logs_export_user(sqlite3 *db, const char *user_jid, json_t **out, char **err)
{
	static const char *const mcols[] = {
		"id", "ts", "domain", "from", "to", "room", "kind", "stanza_id", "size", "body",
		"encrypted", "truncated", "direction"
	};
	static const char *const scols[] = { "ts", "domain", "resource", "client", "event" };
	json_t *o, *msgs, *sess;

	*out = NULL;
	if (db == NULL || !valid_user_jid(user_jid)) {
		im_set_errf(err, "export: invalid user JID");
		return IM_EINVAL;
	}
	o = json_object();
	msgs = json_array();
	sess = json_array();
	if (o == NULL || msgs == NULL || sess == NULL ||
	    json_object_set_new(o, "user", json_string(user_jid)) != 0) {
		json_decref(o);
		json_decref(msgs);
		json_decref(sess);
		im_set_errf(err, "export: out of memory");
		return IM_ERR;
	}
	if (json_object_set_new(o, "messages", msgs) != 0 ||
	    json_object_set_new(o, "sessions", sess) != 0) {
		json_decref(o);
		im_set_errf(err, "export: out of memory");
		return IM_ERR;
	}
	/* One read transaction: both lists come from the same snapshot. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		im_store_set_err(err, "export: begin", db);
		json_decref(o);
		return IM_ERR;
	}
	if (rows_to_json(db, "SELECT id, ts, domain, sender, recipient, room, kind, stanza_id,"
	                     " size, body, encrypted, truncated,"
	                     " CASE WHEN sender=?1 THEN 'sent' ELSE 'received' END"
	                     " FROM log_message WHERE sender=?1 OR recipient=?1 ORDER BY ts, id",
	                 user_jid, mcols, 13, msgs, err) != IM_OK ||
	    rows_to_json(db, "SELECT ts, domain, resource, client, event FROM log_session"
	                     " WHERE user=?1 ORDER BY ts, id",
	                 user_jid, scols, 5, sess, err) != IM_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		json_decref(o);
		return IM_ERR;
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);   /* read-only: nothing to lose */
	*out = o;
	return IM_OK;
}
