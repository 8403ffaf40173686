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
	/* 2: hosting accounts (issue 4): customers own domains; roles; user state;
	 * certificates; reminders.  Kept here, not in Prosody's per-user stores,
	 * which Prosody purges when a user is deleted. */
	"CREATE TABLE customer("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE domain("                   /* a hosted VirtualHost */
	"  name TEXT PRIMARY KEY,"
	"  customer_id INTEGER REFERENCES customer(id),"   /* NULL once detached */
	"  seats INTEGER,"                       /* NULL = no limit */
	"  suspended_manual TEXT,"               /* reason, or NULL */
	"  suspended_overdue TEXT,"              /* reason set by billing, or NULL */
	"  suspended_at INTEGER,"
	"  expires INTEGER,"                     /* registration expiry (staff-set), or NULL */
	"  created INTEGER NOT NULL);"
	"CREATE INDEX domain_customer ON domain(customer_id);"
	"CREATE TABLE member("                   /* customer-side roles */
	"  customer_id INTEGER NOT NULL REFERENCES customer(id) ON DELETE CASCADE,"
	"  jid TEXT NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('owner','domain_admin','member')),"
	"  PRIMARY KEY(customer_id, jid)) WITHOUT ROWID;"
	"CREATE INDEX member_jid ON member(jid);"
	"CREATE TABLE staff("
	"  jid TEXT PRIMARY KEY,"
	"  role TEXT NOT NULL CHECK (role IN ('billing','technician'))) WITHOUT ROWID;"
	"CREATE TABLE account("                  /* every account Prosody has, as last reported */
	"  jid TEXT PRIMARY KEY, domain TEXT NOT NULL, created INTEGER NOT NULL,"
	"  last_login INTEGER, client TEXT,"
	"  locked_reason TEXT, locked_at INTEGER,"
	"  version INTEGER NOT NULL DEFAULT 1);"  /* +1 on every change: lost updates show */
	"CREATE INDEX account_domain ON account(domain, jid);"
	"CREATE TABLE cert("                     /* the certificate Prosody serves per host */
	"  domain TEXT PRIMARY KEY, not_after INTEGER, fingerprint TEXT,"
	"  lifetime INTEGER,"                    /* seconds (not_after - not_before), or NULL */
	"  error TEXT,"                          /* why it could not be read, or NULL */
	"  recorded INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE reminder_sent("
	"  kind TEXT NOT NULL CHECK (kind IN ('domain','cert')),"
	"  object TEXT NOT NULL, threshold TEXT NOT NULL,"
	"  generation TEXT NOT NULL,"            /* expiry or fingerprint: resets on change */
	"  due_at INTEGER NOT NULL, sent INTEGER NOT NULL,"
	"  PRIMARY KEY(kind, object, threshold, generation)) WITHOUT ROWID;",
	/* 3: support desk (issue 6).  Ticket numbers are desk_ticket.id
	 * (AUTOINCREMENT: sequential, never reused).  Posts keep their own ticket
	 * after a merge; the merged ticket points at its target.  Events are the
	 * append-only history of every change; desk_notify is the dedup key of
	 * every notification (ticket, event, recipient). */
	"CREATE TABLE desk_ticket("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  customer_id INTEGER REFERENCES customer(id),"   /* NULL: requester's domain not hosted */
	"  requester TEXT NOT NULL,"             /* bare JID */
	"  subject TEXT NOT NULL,"
	"  category TEXT NOT NULL CHECK (category IN ('billing','technical','domain','account')),"
	"  priority TEXT NOT NULL CHECK (priority IN ('low','normal','high','urgent')),"
	"  status TEXT NOT NULL CHECK (status IN ('new','open','waiting','resolved','closed')),"
	"  assignee TEXT,"                       /* technician bare JID or NULL */
	"  merged_into INTEGER REFERENCES desk_ticket(id),"
	"  created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	"  first_response INTEGER,"              /* first public staff reply */
	"  resolved INTEGER, closed INTEGER,"
	"  sla_used INTEGER NOT NULL DEFAULT 0," /* business seconds the SLA clock ran before sla_since */
	"  sla_since INTEGER,"                   /* clock running since; NULL = paused (waiting/resolved/closed) */
	"  due_first INTEGER, due_resolve INTEGER);"   /* NULL while paused or met */
	"CREATE INDEX desk_ticket_requester ON desk_ticket(requester, created);"
	"CREATE INDEX desk_ticket_queue ON desk_ticket(status, assignee, created);"
	"CREATE INDEX desk_ticket_customer ON desk_ticket(customer_id, created);"
	"CREATE TABLE desk_post("
	"  id INTEGER PRIMARY KEY,"
	"  ticket_id INTEGER NOT NULL REFERENCES desk_ticket(id),"
	"  author TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('public','note')),"
	"  body TEXT NOT NULL, ts INTEGER NOT NULL,"
	"  idem TEXT,"                           /* stanza id / idempotency key */
	"  UNIQUE(ticket_id, idem));"
	"CREATE INDEX desk_post_ticket ON desk_post(ticket_id, id);"
	"CREATE INDEX desk_post_idem ON desk_post(author, idem) WHERE idem IS NOT NULL;"
	"CREATE VIRTUAL TABLE desk_fts USING fts5("   /* subjects and posts; rowid = post id, subject: -ticket id */
	"  text, ticket UNINDEXED, public UNINDEXED, tokenize='unicode61 remove_diacritics 2');"
	"CREATE TABLE desk_event("
	"  id INTEGER PRIMARY KEY,"
	"  ticket_id INTEGER NOT NULL REFERENCES desk_ticket(id),"
	"  ts INTEGER NOT NULL, actor TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"                  /* created|reply|note|status|priority|assign|merge|category */
	"  old TEXT, new TEXT,"
	"  post_id INTEGER REFERENCES desk_post(id));"
	"CREATE INDEX desk_event_ticket ON desk_event(ticket_id, id);"
	"CREATE TABLE desk_notify("
	"  ticket_id INTEGER NOT NULL, event_id INTEGER NOT NULL, recipient TEXT NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  PRIMARY KEY(ticket_id, event_id, recipient)) WITHOUT ROWID;"
	"CREATE TABLE desk_canned("
	"  name TEXT PRIMARY KEY, body TEXT NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE desk_setting("
	"  key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE desk_rate("                /* fixed one-minute windows per sender */
	"  sender TEXT PRIMARY KEY, window INTEGER NOT NULL, count INTEGER NOT NULL) WITHOUT ROWID;",
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
