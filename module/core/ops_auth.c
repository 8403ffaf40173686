/*
 * ops_auth.c — bearer tokens for the HTTP API (auth.token, im_verify_token).
 *
 * A token is 32 bytes from getrandom(2), shown once as hex; only its SHA-256
 * (hex) is stored, so a copy of the database does not leak usable tokens.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "imhost_err.h"
#include "registry.h"
#include "sha256.h"

#define TOKEN_BYTES 32

static const im_param token_params[] = {
	{ "ttl", IM_PT_INT, 0, 60, 31536000, NULL, "86400", "lifetime in seconds" },
};

static int fill_random(unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return IM_ERR;
		}
		got += (size_t)r;
	}
	return IM_OK;
}

static int auth_token(im_op_ctx *c, json_t *p, json_t **result)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[TOKEN_BYTES];
	char token[2 * TOKEN_BYTES + 1], hash[65];
	int64_t expires = c->now + json_integer_value(json_object_get(p, "ttl"));
	sqlite3_stmt *st = NULL;
	size_t i;
	int ok;

	if (*c->actor == '\0') {   /* a token is always someone's */
		*result = im_error_new("forbidden", NULL, "auth.token needs an authenticated actor");
		return IM_ERR;
	}
	if (fill_random(raw, sizeof raw) != IM_OK) {
		*result = im_error_new("unavailable", NULL, "no randomness available");
		return IM_ERR;
	}
	for (i = 0; i < TOKEN_BYTES; i++) {
		token[2 * i] = digits[raw[i] >> 4];
		token[2 * i + 1] = digits[raw[i] & 15];
	}
	token[2 * TOKEN_BYTES] = '\0';
	im_sha256_hex(token, strlen(token), hash);
	ok = sqlite3_prepare_v2(c->env->db, "INSERT INTO api_token(hash, actor, created, expires) "
	                        "VALUES(?,?,?,?)", -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_text(st, 2, c->actor, -1, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_int64(st, 3, c->now) == SQLITE_OK &&
	     sqlite3_bind_int64(st, 4, expires) == SQLITE_OK &&
	     sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	if (!ok) {
		*result = im_error_new("internal", NULL, "auth.token: %s", sqlite3_errmsg(c->env->db));
		return IM_ERR;
	}
	*result = json_pack("{s:s,s:I}", "token", token, "expires", (json_int_t)expires);
	return IM_OK;
}

const im_op im_op_auth_token = {
	"auth.token", "Issue a bearer token for the HTTP API (for yourself)", "auth.token", 1, 0,
	token_params, sizeof token_params / sizeof token_params[0], auth_token,
	NULL, 0,   /* scope: none (server-wide); not live */
};

char *im_verify_token(sqlite3 *db, const char *token)
{
	char hash[65];
	sqlite3_stmt *st = NULL;
	char *actor = NULL;

	if (token == NULL || strlen(token) != 2 * TOKEN_BYTES ||
	    strspn(token, "0123456789abcdef") != 2 * TOKEN_BYTES)
		return NULL;
	im_sha256_hex(token, strlen(token), hash);
	if (sqlite3_prepare_v2(db, "SELECT actor FROM api_token WHERE hash = ? AND expires > ?",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, im_now()) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *a = sqlite3_column_text(st, 0);
		actor = a ? strdup((const char *)a) : NULL;
	}
	sqlite3_finalize(st);
	return actor;
}
