/*
 * billing_overdue.c — the overdue state machine (billing_overdue.h).
 */
#include <string.h>

#include "billing_overdue.h"
#include "imhost_err.h"

#define DAY 86400

static const char *const names[] = { "ok", "reminded", "restricted", "suspended" };

const char *im_od_state_name(im_od_state s)
{
	return (unsigned)s < 4 ? names[s] : "ok";
}

int im_od_state_parse(const char *s, im_od_state *out)
{
	int i;

	for (i = 0; s && i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (im_od_state)i;
			return IM_OK;
		}
	return IM_EINVAL;
}

im_od_state im_overdue_step(const im_od_policy *p, im_od_state state, int64_t oldest_due,
                            int64_t now, unsigned *actions)
{
	im_od_state target;

	*actions = 0;
	if (oldest_due == 0) {
		/* Paid up: a payment lifts everything billing imposed, at once. */
		if (state == IM_OD_RESTRICTED || state == IM_OD_SUSPENDED)
			*actions |= IM_OA_LIFT;
		return IM_OD_OK;
	}
	if (p->remind_before_days > 0 && now >= oldest_due - (int64_t)p->remind_before_days * DAY &&
	    now < oldest_due)
		*actions |= IM_OA_REMIND_BEFORE;
	/* The state the calendar asks for; from it the transitions follow. */
	if (now >= oldest_due + (int64_t)p->suspend_after_days * DAY)
		target = IM_OD_SUSPENDED;
	else if (now >= oldest_due + (int64_t)p->restrict_after_days * DAY)
		target = IM_OD_RESTRICTED;
	else if (now >= oldest_due + (int64_t)p->remind_after_days * DAY)
		target = IM_OD_REMINDED;
	else
		target = IM_OD_OK;
	if (target >= IM_OD_REMINDED && state < IM_OD_REMINDED)
		*actions |= IM_OA_REMIND_AFTER;
	if (target >= IM_OD_RESTRICTED && state < IM_OD_RESTRICTED)
		*actions |= IM_OA_RESTRICT;
	if (target == IM_OD_SUSPENDED && state < IM_OD_SUSPENDED)
		*actions |= IM_OA_SUSPEND;
	/* The clock stepping back (or a partial payment moving the oldest due
	 * date) may ask for less: lift, and settle at the calendar's state. */
	if (target < state && state >= IM_OD_RESTRICTED && target < IM_OD_RESTRICTED)
		*actions |= IM_OA_LIFT;
	return target;
}
