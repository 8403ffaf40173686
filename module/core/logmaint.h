/*
 * logmaint.h — maintenance of the interaction logs: erasure, retention, export.
 *
 * Called from operation worker threads, each with its own connection (from
 * im_store_open).  Each call is one or more short transactions; the writer thread
 * may write concurrently (WAL + busy_timeout).
 * On error: IM_ERR (or IM_EINVAL for bad arguments) and *err is a malloc'd message
 * the caller frees (err may be NULL).
 */
#ifndef IMHOST_LOGMAINT_H
#define IMHOST_LOGMAINT_H

#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>
#include "imhost_err.h"

#define IM_ERASE_DELETE       0
#define IM_ERASE_PSEUDONYMIZE 1

/* Erase one user's entries (as sender, recipient, and their sessions), their rollup
 * rows and known_user row.  mode 0 = delete, 1 = pseudonymize (replace the JID by
 * "erased-<first 12 hex of sha256(jid)>@<domain>" everywhere, drop bodies and FTS rows).
 * One transaction; *count = entries affected. */
int im_logs_erase_user(sqlite3 *db, const char *user_jid, int mode, int64_t *count, char **err);

/* Delete entries older than cutoff for one domain (NULL = all), at most `chunk` rows
 * per transaction; returns IM_OK with *deleted; call again while *deleted == chunk.
 * Keeps FTS in sync.  Rollups are kept (trends outlive raw logs) except known_user rows
 * untouched.  */
int im_logs_retention_chunk(sqlite3 *db, const char *domain, int64_t cutoff, int chunk, int64_t *deleted, char **err);

/* GDPR access export: every message (sent or received) and session of a user, oldest
 * first, as a jansson object {"user":..,"messages":[..],"sessions":[..]}.  New reference. */
int im_logs_export_user(sqlite3 *db, const char *user_jid, json_t **out, char **err);

/* The pseudonym used by mode 1: "erased-<first 12 hex of sha256(jid)>@<domain>"
 * where domain is the JID's domain part.  Writes at most outsz bytes (NUL
 * included); IM_OK or IM_EINVAL (not a JID / buffer too small). */
int im_logs_pseudonym(const char *user_jid, char *out, size_t outsz);

#endif
