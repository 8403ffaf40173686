/*
 * reminders.h — expiry reminders for domains (registration) and TLS
 * certificates, computed idempotently against an injected "now".
 *
 * Thresholds
 *   domain: 30, 14, 7, 1 days before expiry and 1, 5 days after.
 *   cert:   21, 14, 7, 3, 1 days before not_after.  An ACME certificate
 *           (lifetime known and <= 100 days) instead gets one reminder as soon
 *           as less than a third of its lifetime remains, plus those of the
 *           day thresholds that fall inside that last third: ACME clients renew
 *           at two thirds, so earlier reminders would be noise.
 *
 * Rules (each (object, threshold) reminder is sent once)
 *   - The key is reminder_sent(kind, object, threshold, generation), UNIQUE.
 *     generation is the domain's expiry (decimal) or the certificate's
 *     fingerprint, so renewing (or a new certificate) starts afresh.
 *   - Only the most recent threshold already passed is considered: after a
 *     downtime that crossed several thresholds, one reminder goes out (the
 *     latest), not a burst of stale ones.
 *   - A threshold is skipped when a later one of the same generation was
 *     already sent: if the clock steps back, no older reminder follows a
 *     newer one.
 *   - A reminder is recorded when computed (the INSERT is the claim, so two
 *     concurrent runs cannot both send it); the glue delivers it.  A delivery
 *     failure is therefore not retried.
 */
#ifndef IMHOST_REMINDERS_H
#define IMHOST_REMINDERS_H

#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>

#define IM_ACME_MAX_LIFETIME (100 * 86400)

/* The reminder threshold for one object that is due at now, or none.
 * kind "domain": expires = expiry; lifetime ignored.
 * kind "cert": expires = not_after; lifetime seconds or <= 0 when unknown.
 * Returns 1 with *key (static text, e.g. "7d_before", "acme_third") and
 * *due_at (when it became due), 0 when nothing is due. */
int im_reminder_due(const char *kind, int64_t expires, int64_t lifetime, int64_t now,
                    const char **key, int64_t *due_at);

/* Computes every reminder due at now, records each in reminder_sent and
 * returns them in *out (a new array of {kind, object, threshold, due_at,
 * expires, days_left, customer, owners:[jid], staff:[jid], message}).
 * IM_OK, or IM_ERR with *err malloc'd (err may be NULL). */
int im_reminders_run(sqlite3 *db, int64_t now, json_t **out, char **err);

#endif
