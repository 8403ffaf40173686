/*
 * billing_overdue.h — the overdue state machine: ok -> reminded -> restricted
 * -> suspended, and back to ok when nothing is overdue any more.
 *
 * im_overdue_step is a pure function: it says what should happen and the
 * caller (the glue, through accounts' suspension with reason "overdue") does
 * it.  It never lifts a manual suspension: it only ever names the overdue one.
 */
#ifndef IMHOST_BILLING_OVERDUE_H
#define IMHOST_BILLING_OVERDUE_H

#include <stdint.h>

typedef enum { IM_OD_OK, IM_OD_REMINDED, IM_OD_RESTRICTED, IM_OD_SUSPENDED } im_od_state;

typedef struct {
	int remind_before_days;   /* a reminder this many days before the due date (0: none) */
	int remind_after_days;    /* and this many after it */
	int restrict_after_days;  /* no new users or rooms from due + this */
	int suspend_after_days;   /* domains suspended ("overdue") from due + this */
} im_od_policy;

#define IM_OD_POLICY_DEFAULT { 3, 1, 14, 30 }

enum {   /* action bits */
	IM_OA_REMIND_BEFORE = 1 << 0,
	IM_OA_REMIND_AFTER  = 1 << 1,
	IM_OA_RESTRICT      = 1 << 2,
	IM_OA_SUSPEND       = 1 << 3,
	IM_OA_LIFT          = 1 << 4    /* lift restriction and overdue suspension */
};

/* From state, the oldest unpaid finalized invoice's due date (0 = none
 * unpaid), and now: the new state and the action bits to perform.  Reminder
 * bits are raised whenever a window is reached; the caller sends each once
 * (bill_reminder's UNIQUE key). */
im_od_state im_overdue_step(const im_od_policy *p, im_od_state state, int64_t oldest_due,
                            int64_t now, unsigned *actions);

const char *im_od_state_name(im_od_state s);
int im_od_state_parse(const char *s, im_od_state *out);

#endif
