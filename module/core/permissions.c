/*
 * permissions.c — the one table that says which role may do what.
 *
 * The registry asks im_permission_allowed() before every call, whatever the
 * surface (ad-hoc, HTTP, shell, CLI).  Add a permission here when adding an
 * operation that needs a new one; "*" grants everything.
 *
 * Global roles (operator, server_admin, billing, technician, user) hold
 * everywhere.  Customer roles (owner, domain_admin, member) are added by the
 * registry per call, only for the customer owning the op's scope (registry.c
 * resolve_scope), so a grant below to a customer role means "on its own
 * customer's domains".  "internal" (glue -> core facts) is granted to no role
 * but operator/server_admin through "*".
 */
#include <string.h>

#include "registry.h"

static const struct {
	unsigned role;
	const char *name;
	const char *const *grants;   /* NULL-terminated */
} table[] = {
	{ IM_ROLE_OPERATOR,     "operator",     (const char *const[]){ "*", NULL } },
	{ IM_ROLE_SERVER_ADMIN, "server_admin", (const char *const[]){ "*", NULL } },
	{ IM_ROLE_BILLING,      "billing",      (const char *const[]){ "auth.token", "customers.admin",
		"customers.read", "members.manage", "domains.suspend", "domains.expiry",
		"desk.use", "desk.report", "billing.read", "billing.manage", "billing.self", NULL } },
	{ IM_ROLE_TECHNICIAN,   "technician",   (const char *const[]){ "auth.token", "customers.read",
		"users.read", "users.manage", "channels.read", "channels.manage",
		"desk.use", "desk.work", "desk.report", NULL } },
	{ IM_ROLE_OWNER,        "owner",        (const char *const[]){ "auth.token", "customers.read",
		"members.manage", "users.read", "users.manage", "channels.read", "channels.manage",
		"billing.self", NULL } },
	{ IM_ROLE_DOMAIN_ADMIN, "domain_admin", (const char *const[]){ "auth.token", "customers.read",
		"users.read", "users.manage", "channels.read", "channels.manage", NULL } },
	{ IM_ROLE_MEMBER,       "member",       (const char *const[]){ "auth.token", "channels.read", NULL } },
	{ IM_ROLE_USER,         "user",         (const char *const[]){ "auth.token", "customers.self", "desk.use", NULL } },
};

#define NROLES (sizeof table / sizeof table[0])

const char *im_role_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < NROLES; i++)
		if (table[i].role == bit)
			return table[i].name;
	return NULL;
}

unsigned im_roles_from_ctx(json_t *ctx)
{
	json_t *roles = json_object_get(ctx, "roles"), *r;
	const char *surface = json_string_value(json_object_get(ctx, "surface"));
	const char *actor = json_string_value(json_object_get(ctx, "actor"));
	unsigned bits = 0;
	size_t i, j;

	json_array_foreach(roles, i, r) {
		const char *name = json_string_value(r);
		for (j = 0; name && j < NROLES; j++)
			if (strcmp(table[j].name, name) == 0)
				bits |= table[j].role;
		/* Customer roles are per customer: never taken from ctx. */
		bits &= ~(unsigned)IM_CUSTOMER_ROLES;
	}
	/* Whoever can run prosodyctl or the admin shell owns the server. */
	if (surface && (strcmp(surface, "cli") == 0 || strcmp(surface, "shell") == 0))
		bits |= IM_ROLE_OPERATOR;
	if (json_is_true(json_object_get(ctx, "prosody_admin")))
		bits |= IM_ROLE_SERVER_ADMIN;
	if (actor && *actor)
		bits |= IM_ROLE_USER;
	return bits;
}

int im_permission_allowed(unsigned roles, const char *permission)
{
	size_t i;
	const char *const *g;

	if (permission == NULL)
		return 0;
	for (i = 0; i < NROLES; i++) {
		if (!(roles & table[i].role))
			continue;
		for (g = table[i].grants; *g; g++)
			if (strcmp(*g, "*") == 0 || strcmp(*g, permission) == 0)
				return 1;
	}
	return 0;
}
