/*
 * billing_restrict.h — the "restricted" step of overdue handling, as the
 * accounts path sees it: while a customer's overdue state (bill_account,
 * kept by billing.overdue) is restricted or suspended, no new users and no
 * new rooms on its domains.  Lifted the moment billing.overdue returns the
 * customer to ok (a payment re-evaluates at once).
 */
#ifndef IMHOST_BILLING_RESTRICT_H
#define IMHOST_BILLING_RESTRICT_H

#include <sqlite3.h>

/* Whether domain's customer is restricted by billing: IM_OK with *reason
 * malloc'd (the caller frees) when it is, NULL when not (also for a domain
 * no customer owns, or a customer with no billing account).  One indexed
 * lookup: it runs on the account-creation path.  IM_ERR on database error. */
int im_bill_restriction(sqlite3 *db, const char *domain, char **reason);

#endif
