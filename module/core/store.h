/*
 * store.h — opening the imhost SQLite database and migrating its schema.
 *
 * Every component that touches the database opens its own connection through
 * im_store_open (or im_store_open_readonly) so the pragmas are always the same.
 * Connections are not shared between threads.
 */
#ifndef IMHOST_STORE_H
#define IMHOST_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "imhost_err.h"

/* Opens (creating if needed) the imhost database at path: WAL, foreign_keys=ON,
 * synchronous=NORMAL, busy_timeout 5000, and applies missing migrations (each in a
 * BEGIN IMMEDIATE transaction so two processes opening at once are safe).  *out is
 * the caller's to sqlite3_close.  On failure returns IM_ERR and *err is a malloc'd
 * message the caller frees (err may be NULL when the caller does not want it). */
int im_store_open(const char *path, sqlite3 **out, char **err);

/* Opens an existing database read-only (same pragmas where they apply); applies no
 * migration.  Ownership as for im_store_open. */
int im_store_open_readonly(const char *path, sqlite3 **out, char **err);

/* Applies the steps from the current user_version up to target_version (which
 * must be between the current version and im_migration_count()).  For tests and
 * for im_store_open.  IM_OK, IM_EINVAL (bad target), IM_ERR (+ *err). */
int im_store_migrate(sqlite3 *db, int target_version, char **err);

/* PRAGMA user_version, or -1 on error. */
int im_store_version(sqlite3 *db);

/* The schema's steps (migrations.c): count, and the SQL that brings a database
 * from version-1 to version (static storage; NULL when out of range). */
int im_migration_count(void);
const char *im_migration_sql(int version);

/* page_count * page_size, or -1 on error. */
int64_t im_store_size_bytes(sqlite3 *db);

/* Formats a malloc'd error message "<what>: <sqlite message>" into *err when err
 * is not NULL (helper shared by store, logwriter and logmaint). */
void im_store_set_err(char **err, const char *what, sqlite3 *db);

#endif
