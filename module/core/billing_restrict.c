/*
 * billing_restrict.c — is a domain restricted by unpaid invoices
 * (billing_restrict.h)?
 */
#include <stdlib.h>
#include <string.h>

#include "billing_restrict.h"
#include "imhost_err.h"

#define REASON "Unpaid invoices: new users and rooms are restricted until payment"

int im_bill_restriction(sqlite3 *db, const char *domain, char **reason)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*reason = NULL;
	if (domain == NULL)
		return IM_OK;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM domain d JOIN bill_account a ON a.customer_id = d.customer_id"
	                       " WHERE d.name = ? AND a.overdue_state IN ('restricted', 'suspended')",
	                       -1, &st, NULL) != SQLITE_OK)
		return IM_ERR;
	if (sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK) {
		sqlite3_finalize(st);
		return IM_ERR;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return IM_OK;
	if (rc != SQLITE_ROW)
		return IM_ERR;
	return (*reason = strdup(REASON)) != NULL ? IM_OK : IM_ERR;
}
