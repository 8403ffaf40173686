/*
 * migrations.c — the schema, as numbered steps.
 *
 * Step N brings a database from user_version N-1 to N.  Steps are append-only:
 * never edit a step that has shipped; add a new one.  store.c applies the missing
 * steps in one transaction each at open.  tests/unit/test_migrations.c builds a
 * database at every earlier version and upgrades it.
 */
#include <stddef.h>

#include "store.h"

static const char *const steps[] = {
	/* 1: interaction logs, rollups, tokens, audit */
	"CREATE TABLE log_message("
	"  id        INTEGER PRIMARY KEY,"
	"  ts        INTEGER NOT NULL,"          /* UTC epoch seconds */
	"  domain    TEXT NOT NULL,"             /* the local host the entry belongs to */
	"  sender    TEXT NOT NULL,"             /* bare JID (occupant's real bare JID in rooms) */
	"  recipient TEXT,"                      /* bare JID; NULL for groupchat */
	"  room      TEXT,"                      /* room bare JID for groupchat, else NULL */
	"  kind      TEXT NOT NULL,"             /* chat|groupchat|normal|headline */
	"  stanza_id TEXT,"
	"  size      INTEGER NOT NULL,"          /* stanza size in bytes */
	"  body      TEXT,"                      /* NULL unless the host logs bodies */
	"  encrypted TEXT,"                      /* NULL or the scheme: omemo|openpgp|otr|encrypted */
	"  truncated INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX log_message_domain_ts ON log_message(domain, ts);"
	"CREATE INDEX log_message_sender_ts ON log_message(sender, ts);"
	"CREATE INDEX log_message_recipient_ts ON log_message(recipient, ts);"
	"CREATE INDEX log_message_room_ts ON log_message(room, ts) WHERE room IS NOT NULL;"
	"CREATE INDEX log_message_ts ON log_message(ts);"
	"CREATE VIRTUAL TABLE log_message_fts USING fts5("
	"  body, content='log_message', content_rowid='id',"
	"  tokenize='unicode61 remove_diacritics 2');"
	"CREATE TABLE log_session("
	"  id       INTEGER PRIMARY KEY,"
	"  ts       INTEGER NOT NULL,"
	"  domain   TEXT NOT NULL,"
	"  user     TEXT NOT NULL,"              /* bare JID */
	"  resource TEXT,"
	"  client   TEXT,"
	"  event    TEXT NOT NULL CHECK (event IN ('login','logout'))"
	");"
	"CREATE INDEX log_session_user_ts ON log_session(user, ts);"
	"CREATE INDEX log_session_domain_ts ON log_session(domain, ts);"
	/* Rollups, updated by the writer in the same transaction as the entries. */
	"CREATE TABLE rollup_hour("              /* messages per domain and hour */
	"  domain TEXT NOT NULL, hour INTEGER NOT NULL,"   /* hour = ts - ts % 3600 */
	"  messages INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
	"  peak_sessions INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(domain, hour)) WITHOUT ROWID;"
	"CREATE TABLE rollup_user_day("          /* active users, top senders */
	"  domain TEXT NOT NULL, day INTEGER NOT NULL, user TEXT NOT NULL,"  /* day = ts - ts % 86400 */
	"  messages INTEGER NOT NULL DEFAULT 0, logins INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(domain, day, user)) WITHOUT ROWID;"
	"CREATE TABLE rollup_room_day("
	"  domain TEXT NOT NULL, day INTEGER NOT NULL, room TEXT NOT NULL,"
	"  messages INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(domain, day, room)) WITHOUT ROWID;"
	"CREATE TABLE session_online("           /* current sessions per domain, for peaks */
	"  domain TEXT PRIMARY KEY, online INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE TABLE known_user("               /* every user the log has seen: erasure reconciliation */
	"  domain TEXT NOT NULL, user TEXT NOT NULL,"
	"  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
	"  PRIMARY KEY(domain, user)) WITHOUT ROWID;"
	"CREATE TABLE api_token("
	"  hash TEXT PRIMARY KEY,"               /* hex SHA-256 of the token; the token itself is never stored */
	"  actor TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL);"
	"CREATE TABLE audit("                    /* append-only */
	"  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
	"  surface TEXT NOT NULL, op TEXT NOT NULL, params TEXT, outcome TEXT NOT NULL);",
};

int im_migration_count(void)
{
	return (int)(sizeof steps / sizeof steps[0]);
}

const char *im_migration_sql(int version)
{
	if (version < 1 || version > im_migration_count())
		return NULL;
	return steps[version - 1];
}
