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
	"CREATE INDEX desk_ticket_created ON desk_ticket(created);"
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
	"CREATE VIRTUAL TABLE desk_fts USING fts5("   /* rowid = post id; the opening post carries the subject */
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
	/* 4: billing (issue 5): plans, subscriptions, usage, invoices, payments.
	 * Money is INTEGER minor units with a currency on every money row. */
	"CREATE TABLE bill_plan("
	"  id INTEGER PRIMARY KEY, code TEXT NOT NULL, version INTEGER NOT NULL,"
	"  name TEXT NOT NULL, currency TEXT NOT NULL,"
	"  cycle_months INTEGER NOT NULL CHECK (cycle_months IN (1, 12)),"
	"  price INTEGER NOT NULL CHECK (price >= 0),"
	"  seats_included INTEGER NOT NULL DEFAULT 0, seat_price INTEGER NOT NULL DEFAULT 0,"
	"  msg_price_k INTEGER NOT NULL DEFAULT 0,"         /* per 1000 messages */
	"  storage_price_gb INTEGER NOT NULL DEFAULT 0,"    /* per 10^9 bytes of peak storage */
	"  retention_days INTEGER NOT NULL DEFAULT 0, max_seats INTEGER NOT NULL DEFAULT 0,"
	"  trial_days INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
	"  UNIQUE(code, version));"
	"CREATE TABLE bill_account("              /* billing information per customer */
	"  customer_id INTEGER PRIMARY KEY REFERENCES customer(id),"
	"  name TEXT NOT NULL DEFAULT '', address TEXT NOT NULL DEFAULT '',"
	"  email TEXT NOT NULL DEFAULT '', tax_id TEXT NOT NULL DEFAULT '',"
	"  tax_rate_bp INTEGER NOT NULL DEFAULT 0 CHECK (tax_rate_bp BETWEEN 0 AND 10000),"
	"  reverse_charge INTEGER NOT NULL DEFAULT 0, terms_days INTEGER NOT NULL DEFAULT 14,"
	"  zone TEXT NOT NULL DEFAULT 'UTC',"
	"  overdue_state TEXT NOT NULL DEFAULT 'ok', updated INTEGER NOT NULL);"
	"CREATE TABLE bill_info_log("             /* append-only: every billing-info change */
	"  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL, before TEXT, after TEXT NOT NULL);"
	"CREATE TRIGGER bill_info_log_no_update BEFORE UPDATE ON bill_info_log"
	"  BEGIN SELECT RAISE(ABORT, 'bill_info_log is append-only'); END;"
	"CREATE TRIGGER bill_info_log_no_delete BEFORE DELETE ON bill_info_log"
	"  BEGIN SELECT RAISE(ABORT, 'bill_info_log is append-only'); END;"
	"CREATE TABLE bill_credit("
	"  customer_id INTEGER NOT NULL REFERENCES customer(id), currency TEXT NOT NULL,"
	"  balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),"
	"  PRIMARY KEY(customer_id, currency)) WITHOUT ROWID;"
	"CREATE TABLE bill_subscription("
	"  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customer(id),"
	"  zone TEXT NOT NULL, anchor_y INTEGER NOT NULL, anchor_m INTEGER NOT NULL,"
	"  anchor_d INTEGER NOT NULL, cycle_months INTEGER NOT NULL, currency TEXT NOT NULL,"
	"  start INTEGER NOT NULL, trial_end INTEGER NOT NULL DEFAULT 0,"
	"  ends INTEGER,"                         /* service end after a cancel, or NULL */
	"  next_k INTEGER NOT NULL DEFAULT 0,"    /* first period not yet invoiced */
	"  billed_until INTEGER NOT NULL,"        /* start of period next_k */
	"  next_end INTEGER NOT NULL,"            /* when period next_k is due; 2^62 when none */
	"  created INTEGER NOT NULL);"
	"CREATE INDEX bill_subscription_due ON bill_subscription(next_end);"
	"CREATE INDEX bill_subscription_customer ON bill_subscription(customer_id);"
	"CREATE TABLE bill_sub_plan("             /* plan history: rows are only added */
	"  sub_id INTEGER NOT NULL REFERENCES bill_subscription(id),"
	"  from_ts INTEGER NOT NULL, plan_id INTEGER NOT NULL REFERENCES bill_plan(id),"
	"  PRIMARY KEY(sub_id, from_ts)) WITHOUT ROWID;"
	"CREATE TABLE bill_usage_event(event_id TEXT PRIMARY KEY, ts INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE bill_usage("                /* 15-minute buckets: every zone offset aligns */
	"  domain TEXT NOT NULL, metric TEXT NOT NULL CHECK (metric IN ('messages','storage','seats')),"
	"  bucket INTEGER NOT NULL, value INTEGER NOT NULL,"
	"  PRIMARY KEY(domain, metric, bucket)) WITHOUT ROWID;"
	"CREATE TABLE bill_active("                /* logins: unique users per period */
	"  domain TEXT NOT NULL, bucket INTEGER NOT NULL, user TEXT NOT NULL,"
	"  PRIMARY KEY(domain, bucket, user)) WITHOUT ROWID;"
	"CREATE TABLE bill_series(name TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE bill_invoice("
	"  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customer(id),"
	"  sub_id INTEGER REFERENCES bill_subscription(id),"
	"  kind TEXT NOT NULL CHECK (kind IN ('period','manual')),"
	"  period_start INTEGER NOT NULL, period_end INTEGER NOT NULL, currency TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('draft','open','paid','void','uncollectible')),"
	"  series TEXT, number INTEGER, number_text TEXT UNIQUE,"
	"  subtotal INTEGER NOT NULL DEFAULT 0, tax INTEGER NOT NULL DEFAULT 0,"
	"  total INTEGER NOT NULL DEFAULT 0, tax_rate_bp INTEGER NOT NULL DEFAULT 0,"
	"  reverse_charge INTEGER NOT NULL DEFAULT 0, active_users INTEGER NOT NULL DEFAULT 0,"
	"  paid INTEGER NOT NULL DEFAULT 0, credited INTEGER NOT NULL DEFAULT 0,"
	"  bill_to TEXT, created INTEGER NOT NULL, finalized INTEGER, due INTEGER, paid_at INTEGER,"
	"  UNIQUE(sub_id, kind, period_start, period_end), UNIQUE(series, number),"
	"  CHECK (credited >= 0 AND credited <= total), CHECK (paid >= 0));"
	"CREATE INDEX bill_invoice_customer ON bill_invoice(customer_id, id);"
	"CREATE INDEX bill_invoice_status ON bill_invoice(status, due);"
	"CREATE INDEX bill_invoice_open ON bill_invoice(customer_id, status, due);"  /* overdue checks */
	/* Finalized invoices are never edited or deleted: only status, paid,
	 * credited and paid_at move. */
	"CREATE TRIGGER bill_invoice_frozen BEFORE UPDATE OF customer_id, sub_id, kind,"
	"  period_start, period_end, currency, series, number, number_text, subtotal, tax, total,"
	"  tax_rate_bp, reverse_charge, bill_to, finalized, due ON bill_invoice"
	"  WHEN OLD.status <> 'draft'"
	"  BEGIN SELECT RAISE(ABORT, 'finalized invoices are immutable'); END;"
	"CREATE TRIGGER bill_invoice_keep BEFORE DELETE ON bill_invoice WHEN OLD.status <> 'draft'"
	"  BEGIN SELECT RAISE(ABORT, 'finalized invoices are never deleted'); END;"
	"CREATE TABLE bill_line("
	"  invoice_id INTEGER NOT NULL REFERENCES bill_invoice(id), pos INTEGER NOT NULL,"
	"  description TEXT NOT NULL, quantity INTEGER NOT NULL, unit_price INTEGER NOT NULL,"
	"  amount INTEGER NOT NULL, tax INTEGER NOT NULL,"
	"  PRIMARY KEY(invoice_id, pos)) WITHOUT ROWID;"
	"CREATE TABLE bill_credit_note("
	"  id INTEGER PRIMARY KEY, invoice_id INTEGER NOT NULL REFERENCES bill_invoice(id),"
	"  series TEXT NOT NULL, number INTEGER NOT NULL, number_text TEXT NOT NULL UNIQUE,"
	"  amount INTEGER NOT NULL CHECK (amount > 0), reason TEXT NOT NULL, created INTEGER NOT NULL,"
	"  UNIQUE(series, number));"
	"CREATE TABLE bill_payment("
	"  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customer(id),"
	"  invoice_id INTEGER REFERENCES bill_invoice(id),"
	"  method TEXT NOT NULL CHECK (method IN ('bank','card','processor','manual','credit','refund')),"
	"  ext_ref TEXT NOT NULL UNIQUE, amount INTEGER NOT NULL, currency TEXT NOT NULL,"
	"  applied INTEGER NOT NULL, to_credit INTEGER NOT NULL,"
	"  refund_of INTEGER REFERENCES bill_payment(id), ts INTEGER NOT NULL);"
	"CREATE INDEX bill_payment_customer ON bill_payment(customer_id, ts);"
	"CREATE TABLE bill_alloc("                /* which invoices a payment paid, and how much */
	"  payment_id INTEGER NOT NULL REFERENCES bill_payment(id),"
	"  invoice_id INTEGER NOT NULL REFERENCES bill_invoice(id), amount INTEGER NOT NULL,"
	"  PRIMARY KEY(payment_id, invoice_id)) WITHOUT ROWID;"
	"CREATE TABLE bill_event("                /* processed webhook events */
	"  provider TEXT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,"
	"  received INTEGER NOT NULL, outcome TEXT NOT NULL,"
	"  PRIMARY KEY(provider, event_id)) WITHOUT ROWID;"
	"CREATE TABLE bill_reminder("             /* each overdue reminder once */
	"  invoice_id INTEGER NOT NULL REFERENCES bill_invoice(id), kind TEXT NOT NULL,"
	"  sent INTEGER NOT NULL, PRIMARY KEY(invoice_id, kind)) WITHOUT ROWID;",
	/* 5: the log's full-text index without per-row column sizes (columnsize=0).
	 * Nothing ranks by bm25 (search is newest first), and the sizes cost the
	 * writer one more B-tree insert per message.  The index is rebuilt from
	 * log_message: a one-time cost at the first start after the upgrade. */
	"DROP TABLE log_message_fts;"
	"CREATE VIRTUAL TABLE log_message_fts USING fts5("
	"  body, content='log_message', content_rowid='id',"
	"  tokenize='unicode61 remove_diacritics 2', columnsize=0);"
	"INSERT INTO log_message_fts(log_message_fts) VALUES('rebuild');",
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
