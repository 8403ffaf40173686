/*
 * desk_erase.c — a deleted user's personal data leaves the desk (desk.erase,
 * called by the glue on user-deleted and by the start-up reconciliation).
 *
 * Tickets stay: their numbers are never reused, and reports, SLA history and
 * the other party's view of a thread keep making sense.  What goes is what
 * identifies the person or what they wrote:
 *   - their JID, as requester, post author, event actor, assignee, and in
 *     assignment events' old/new, becomes a stand-in: mode pseudonymize the
 *     logs' pseudonym (im_logs_pseudonym: the same person maps to the same
 *     stand-in in logs and desk, so counts stay linkable without the
 *     person), mode delete "erased@<domain>" (nothing linkable);
 *   - bodies of their posts become "[erased]" and leave the search index
 *     (desk_fts), their stanza ids (idem) are cleared;
 *   - subjects of tickets they opened (their own first line) become
 *     "[erased]";
 *   - their delivery records (desk_notify) and rate row (desk_rate) go.
 * The e-mail address is billing data (bill_account, legal retention) and is
 * not the desk's to erase.  Erasing twice changes nothing more.
 * One BEGIN IMMEDIATE transaction: all of it or none.
 */
#include <stdio.h>
#include <string.h>

#include "desk.h"
#include "desk_tx.h"
#include "imhost_err.h"
#include "logmaint.h"
#include "registry.h"

#define ERASED "[erased]"

/* Runs sql with ?1 = a and ?2 = b (either may be NULL: unbound); adds the
 * rows changed to *count. */
static int run(sqlite3 *db, const char *sql, const char *a, const char *b, int64_t *count)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    (a == NULL || sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC) == SQLITE_OK) &&
	    (b == NULL || sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC) == SQLITE_OK) &&
	    sqlite3_step(st) == SQLITE_DONE) {
		rc = IM_OK;
		*count += sqlite3_changes(db);
	}
	sqlite3_finalize(st);
	return rc;
}

static int erase_locked(sqlite3 *db, const char *user, const char *stand_in, int64_t *count)
{
	/* Order matters: the FTS rows are found through the posts' author,
	 * before the author is replaced. */
	static const char *const steps[] = {
		"DELETE FROM desk_fts WHERE rowid IN (SELECT id FROM desk_post WHERE author = ?1)",
		"UPDATE desk_post SET body = '" ERASED "', idem = NULL, author = ?2 WHERE author = ?1",
		"UPDATE desk_ticket SET subject = '" ERASED "', requester = ?2 WHERE requester = ?1",
		"UPDATE desk_ticket SET assignee = ?2 WHERE assignee = ?1",
		"UPDATE desk_event SET actor = ?2 WHERE actor = ?1",
		"UPDATE desk_event SET old = ?2 WHERE kind = 'assign' AND old = ?1",
		"UPDATE desk_event SET new = ?2 WHERE kind = 'assign' AND new = ?1",
		"DELETE FROM desk_notify WHERE recipient = ?1",
		"DELETE FROM desk_rate WHERE sender = ?1",
	};
	size_t i;

	for (i = 0; i < sizeof steps / sizeof steps[0]; i++)
		if (run(db, steps[i], user, strstr(steps[i], "?2") ? stand_in : NULL, count) != IM_OK)
			return IM_ERR;
	return IM_OK;
}

int im_desk_erase_user(sqlite3 *db, const char *user, int mode, int64_t *count)
{
	char stand_in[3100];
	const char *at = user ? strchr(user, '@') : NULL;

	*count = 0;
	if (mode != IM_ERASE_DELETE && mode != IM_ERASE_PSEUDONYMIZE)
		return IM_EINVAL;
	if (mode == IM_ERASE_PSEUDONYMIZE) {
		if (im_logs_pseudonym(user, stand_in, sizeof stand_in) != IM_OK)
			return IM_EINVAL;
	} else {
		/* The same validation as the pseudonym (a user JID, no resource). */
		if (im_logs_pseudonym(user, stand_in, sizeof stand_in) != IM_OK || at == NULL)
			return IM_EINVAL;
		snprintf(stand_in, sizeof stand_in, "erased@%s", at + 1);
	}
	if (im_desk_begin(db) != IM_OK)
		return IM_ERR;
	return im_desk_finish(db, erase_locked(db, user, stand_in, count));
}

/* --- desk.erase ------------------------------------------------------------------- */

static const char *const modes[] = { "delete", "pseudonymize", NULL };

static const im_param erase_params[] = {
	{ "user", IM_PT_JID, 1, 0, 0, NULL, NULL, "bare JID of the deleted user" },
	{ "mode", IM_PT_ENUM, 0, 0, 0, modes, NULL, "delete or pseudonymize (default: imhost_log_erasure)" },
};

static int desk_erase(im_op_ctx *c, json_t *p, json_t **result)
{
	const char *m = json_string_value(json_object_get(p, "mode"));
	int mode = m ? (strcmp(m, "pseudonymize") == 0 ? IM_ERASE_PSEUDONYMIZE : IM_ERASE_DELETE) : c->env->erasure;
	int64_t count = 0;
	int rc = im_desk_erase_user(c->env->db, json_string_value(json_object_get(p, "user")), mode, &count);

	if (rc == IM_EINVAL) {
		*result = im_error_new("invalid", "user", "not a user JID (local@domain)");
		return rc;
	}
	if (rc != IM_OK) {
		*result = im_error_new("internal", NULL, "desk erase: %s", sqlite3_errmsg(c->env->db));
		return rc;
	}
	*result = json_pack("{s:I,s:s}", "erased", (json_int_t)count,
	                    "mode", mode == IM_ERASE_PSEUDONYMIZE ? "pseudonymize" : "delete");
	return *result ? IM_OK : IM_ERR;
}

const im_op im_op_desk_erase = {
	"desk.erase", "Erase a deleted user's personal data from the desk (tickets stay)", "internal", 1, 1,
	erase_params, sizeof erase_params / sizeof erase_params[0], desk_erase,
	NULL, 0,   /* scope: none (server-wide); not live */
};
