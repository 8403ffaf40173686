/*
 * scram.c — see scram.h.  libcrypto does the hashing (PKCS5_PBKDF2_HMAC, HMAC,
 * EVP_Digest) and the constant-time comparison (CRYPTO_memcmp); OPENSSL_cleanse
 * wipes every copy of the password and of the keys derived from it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hex.h"
#include "imhost_err.h"
#include "scram.h"

int im_scram_hash_by_name(const char *name, im_scram_hash *out)
{
	if (name != NULL && strcmp(name, "SHA-1") == 0)
		*out = IM_SCRAM_SHA1;
	else if (name != NULL && strcmp(name, "SHA-256") == 0)
		*out = IM_SCRAM_SHA256;
	else
		return IM_EINVAL;
	return IM_OK;
}

size_t im_scram_hash_len(im_scram_hash hash)
{
	return hash == IM_SCRAM_SHA256 ? 32 : 20;
}

static const EVP_MD *md_of(im_scram_hash hash)
{
	return hash == IM_SCRAM_SHA256 ? EVP_sha256() : EVP_sha1();
}

int im_pbkdf2(im_scram_hash hash, const void *password, size_t pwlen, const void *salt,
              size_t saltlen, long iterations, unsigned char *out, size_t outlen)
{
	if (iterations < IM_SCRAM_MIN_ITERATIONS || iterations > IM_SCRAM_MAX_ITERATIONS ||
	    outlen == 0 || outlen > 1024 || pwlen > (size_t)1 << 30 || saltlen > (size_t)1 << 30)
		return IM_EINVAL;
	/* libcrypto takes int lengths: bounded above. */
	if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)saltlen, (int)iterations,
	                      md_of(hash), (int)outlen, out) != 1)
		return IM_ERR;
	return IM_OK;
}

/* HMAC-H(key[n], msg) into out[n]; 0 or -1. */
static int hmac(im_scram_hash hash, const unsigned char *key, size_t n, const char *msg,
                unsigned char *out)
{
	unsigned int len = 0;

	return HMAC(md_of(hash), key, (int)n, (const unsigned char *)msg, strlen(msg), out,
	            &len) != NULL && len == n ? 0 : -1;
}

/* H(in[n]) into out[n]; 0 or -1. */
static int digest(im_scram_hash hash, const unsigned char *in, size_t n, unsigned char *out)
{
	unsigned int len = 0;

	return EVP_Digest(in, n, out, &len, md_of(hash), NULL) == 1 && len == n ? 0 : -1;
}

int im_scram_check(im_scram_hash hash, const void *password, size_t pwlen, const void *salt,
                   size_t saltlen, long iterations, const char *stored_key_hex,
                   const char *server_key_hex)
{
	unsigned char want_stored[IM_SCRAM_MAX_LEN], want_server[IM_SCRAM_MAX_LEN];
	unsigned char salted[IM_SCRAM_MAX_LEN], client_key[IM_SCRAM_MAX_LEN];
	unsigned char stored[IM_SCRAM_MAX_LEN], server[IM_SCRAM_MAX_LEN];
	size_t n = im_scram_hash_len(hash);
	int outcome = IM_SCRAM_FAILED, differ;

	/* The record first: a corrupt one costs no hashing at all. */
	if (salt == NULL || saltlen == 0 || saltlen > IM_SCRAM_MAX_SALT ||
	    iterations < IM_SCRAM_MIN_ITERATIONS || iterations > IM_SCRAM_MAX_ITERATIONS ||
	    stored_key_hex == NULL || server_key_hex == NULL ||
	    im_hex_decode(stored_key_hex, strlen(stored_key_hex), want_stored, n) != 0 ||
	    im_hex_decode(server_key_hex, strlen(server_key_hex), want_server, n) != 0 ||
	    (password == NULL && pwlen != 0))
		return IM_SCRAM_BAD_RECORD;
	if (im_pbkdf2(hash, password ? password : "", pwlen, salt, saltlen, iterations, salted,
	              n) != IM_OK ||
	    hmac(hash, salted, n, "Client Key", client_key) != 0 ||
	    digest(hash, client_key, n, stored) != 0 ||
	    hmac(hash, salted, n, "Server Key", server) != 0)
		goto out;
	/* Both comparisons always run: the time says nothing about which key differed. */
	differ = CRYPTO_memcmp(stored, want_stored, n) != 0;
	differ |= CRYPTO_memcmp(server, want_server, n) != 0;
	outcome = differ ? IM_SCRAM_MISMATCH : IM_SCRAM_MATCH;
out:
	/* Whoever holds SaltedPassword or ClientKey can log in over SCRAM. */
	OPENSSL_cleanse(salted, sizeof salted);
	OPENSSL_cleanse(client_key, sizeof client_key);
	return outcome;
}

const char *im_scram_outcome_name(int outcome)
{
	switch (outcome) {
	case IM_SCRAM_MATCH: return "match";
	case IM_SCRAM_MISMATCH: return "mismatch";
	case IM_SCRAM_BAD_RECORD: return "bad_record";
	default: return "failed";
	}
}

/* --- the workers task ------------------------------------------------------------- */

#define HEX_LEN (2 * IM_SCRAM_MAX_LEN)

struct im_scram_job {
	im_scram_hash hash;
	unsigned char *password;   /* wiped as soon as the check ran */
	size_t pwlen;
	unsigned char *salt;
	size_t saltlen;
	long iterations;
	/* Hex of the record's keys; a value longer than the longest key is
	 * truncated, which im_hex_decode then refuses for its length. */
	char stored_key[HEX_LEN + 2], server_key[HEX_LEN + 2];
};

static void copy_hex(char *dst, const char *src)
{
	size_t n = src ? strnlen(src, HEX_LEN + 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

im_scram_job *im_scram_job_new(im_scram_hash hash, const void *password, size_t pwlen,
                               const void *salt, size_t saltlen, long iterations,
                               const char *stored_key_hex, const char *server_key_hex)
{
	im_scram_job *j = calloc(1, sizeof *j);

	if (j == NULL)
		return NULL;
	/* +1: malloc(0) may return NULL; the copies need not be strings. */
	j->password = malloc(pwlen + 1);
	j->salt = malloc(saltlen + 1);
	if (j->password == NULL || j->salt == NULL) {
		im_scram_job_free(j);
		return NULL;
	}
	if (pwlen)
		memcpy(j->password, password, pwlen);
	if (saltlen)
		memcpy(j->salt, salt, saltlen);
	j->hash = hash;
	j->pwlen = pwlen;
	j->saltlen = saltlen;
	j->iterations = iterations;
	copy_hex(j->stored_key, stored_key_hex);
	copy_hex(j->server_key, server_key_hex);
	return j;
}

static void wipe_password(im_scram_job *j)
{
	if (j->password == NULL)
		return;
	OPENSSL_cleanse(j->password, j->pwlen + 1);
	free(j->password);
	j->password = NULL;
	j->pwlen = 0;
}

int im_scram_job_run(void *arg, char **result)
{
	im_scram_job *j = arg;
	int outcome;

	if (j->password == NULL) {   /* already run */
		*result = strdup(im_scram_outcome_name(IM_SCRAM_FAILED));
		return 0;
	}
	outcome = im_scram_check(j->hash, j->password, j->pwlen, j->salt, j->saltlen, j->iterations,
	                         j->stored_key, j->server_key);
	wipe_password(j);
	*result = strdup(im_scram_outcome_name(outcome));
	return outcome == IM_SCRAM_MATCH;
}

void im_scram_job_free(void *arg)
{
	im_scram_job *j = arg;

	if (j == NULL)
		return;
	wipe_password(j);
	free(j->salt);
	free(j);
}
