/*
 * desk_tx.h — the desk engine's writes for callers that hold the transaction
 * themselves (desk_incoming.c decides and writes in one BEGIN IMMEDIATE, so
 * two workers cannot both see "no open ticket", and one commit covers rate
 * row, ticket, post, event and deliveries).  Internal to the engine: the
 * desk.h functions of the same names without _tx begin and finish their own.
 *
 * Every *_tx function must be called between im_desk_begin and
 * im_desk_finish on the same connection; arguments, results and return codes
 * are those of the desk.h function of the same name.  On any code but IM_OK
 * the caller rolls back (im_desk_finish does) — partial writes are possible.
 */
#ifndef IMHOST_DESK_TX_H
#define IMHOST_DESK_TX_H

#include "desk.h"

/* BEGIN IMMEDIATE: takes the write lock now, waiting (busy timeout) for it,
 * rather than failing later on a snapshot upgrade.  IM_OK or IM_ERR. */
int im_desk_begin(sqlite3 *db);

/* Commits when rc is IM_OK, else rolls back.  Returns rc, or IM_ERR when the
 * commit fails. */
int im_desk_finish(sqlite3 *db, int rc);

int im_desk_open_tx(sqlite3 *db, const im_desk_conf *conf, const im_desk_new *n, int64_t now,
                    int64_t *ticket, int64_t *event, int *dup, const char **why);
int im_desk_post_tx(sqlite3 *db, const im_desk_conf *conf, int64_t *ticket, const char *author,
                    int staff, int note, const char *body, const char *idem, int64_t now,
                    int64_t *event, int *dup, const char **why);
int im_desk_set_status_tx(sqlite3 *db, const im_desk_conf *conf, int64_t ticket, const char *actor,
                          const char *to, int64_t now, int64_t *event, const char **why);

#endif
