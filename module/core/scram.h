/*
 * scram.h — checks a password against a SCRAM credential record, the way
 * Prosody's mod_auth_internal_hashed stores them (RFC 5802, RFC 7677), with
 * H = SHA-1 (Prosody's default) or SHA-256 (its `password_hash = "SHA-256"`):
 *
 *   SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations, one H output)
 *   StoredKey      = H(HMAC-H(SaltedPassword, "Client Key"))
 *   ServerKey      = HMAC-H(SaltedPassword, "Server Key")
 *
 * The record holds salt (raw bytes, a UUID string in Prosody), iteration_count
 * and stored_key / server_key as hex.  Thousands of PBKDF2 rounds cost
 * milliseconds: this runs on a worker thread (im_scram_job_* below wraps a
 * check as a workers task), never on Prosody's event loop.
 *
 * The password must already be SASLprepped (the glue does it with Prosody's
 * own util.encodings, as the provider does): this file compares bytes.
 */
#ifndef IMHOST_SCRAM_H
#define IMHOST_SCRAM_H

#include <stddef.h>

/* The hash, by Prosody's names for it ("SHA-1", "SHA-256"). */
typedef enum { IM_SCRAM_SHA1, IM_SCRAM_SHA256 } im_scram_hash;
#define IM_SCRAM_MAX_LEN 32   /* the longest H output */

/* IM_OK with *out, or IM_EINVAL for a name Prosody does not use. */
int im_scram_hash_by_name(const char *name, im_scram_hash *out);

/* H's output length in bytes. */
size_t im_scram_hash_len(im_scram_hash hash);

/* Bounds on a record we accept: a corrupt or hostile iteration count must not
 * pin a worker thread for minutes (1,000,000 rounds take ~0.3 s here). */
#define IM_SCRAM_MIN_ITERATIONS 1
#define IM_SCRAM_MAX_ITERATIONS 1000000L
#define IM_SCRAM_MAX_SALT 1024

/* Outcome of a check. */
enum {
	IM_SCRAM_MATCH = 0,
	IM_SCRAM_MISMATCH,    /* a well-formed record, another password */
	IM_SCRAM_BAD_RECORD,  /* bad hex, lengths, salt or iteration count: nothing hashed */
	IM_SCRAM_FAILED       /* libcrypto refused (out of memory) */
};

/* PBKDF2-HMAC-H into out[outlen].  IM_OK, IM_EINVAL (iterations out of
 * bounds, outlen 0), or IM_ERR (libcrypto failure). */
int im_pbkdf2(im_scram_hash hash, const void *password, size_t pwlen, const void *salt,
              size_t saltlen, long iterations, unsigned char *out, size_t outlen);

/* Checks password against the record (keys as hex of H's length).  Both keys
 * are compared in constant time, and both always are (no early exit on the
 * first).  Returns IM_SCRAM_*. */
int im_scram_check(im_scram_hash hash, const void *password, size_t pwlen, const void *salt,
                   size_t saltlen, long iterations, const char *stored_key_hex,
                   const char *server_key_hex);

/* "match", "mismatch", "bad_record", "failed". */
const char *im_scram_outcome_name(int outcome);

/* --- a check as a workers task (workers.h: im_workers_submit_task) --------------- */

typedef struct im_scram_job im_scram_job;

/* Copies everything (the password into memory that im_scram_job_free wipes).
 * NULL when out of memory. */
im_scram_job *im_scram_job_new(im_scram_hash hash, const void *password, size_t pwlen,
                               const void *salt, size_t saltlen, long iterations,
                               const char *stored_key_hex, const char *server_key_hex);

/* im_task_fn: runs the check, wipes the password at once; *result is the
 * outcome's name (malloc'd); returns 1 for a match. */
int im_scram_job_run(void *job, char **result);

/* Wipes the password copy and frees the job.  NULL-safe. */
void im_scram_job_free(void *job);

#endif
