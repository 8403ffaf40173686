/*
 * test_scram.c — password checks for HTTP Basic off the event loop (scram.h):
 * PBKDF2-HMAC-SHA1 against RFC 6070 and PBKDF2-HMAC-SHA256 against RFC 7914's
 * published values, SCRAM-SHA-1 and SCRAM-SHA-256 records made by Prosody's
 * own util.sasl.scram, wrong passwords, corrupt records, and the check as a
 * workers task (completion, queue refusal, dropped tasks freed).
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imhost.h"
#include "fixture.h"

static void hex_of(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void check_pbkdf2_with(im_scram_hash hash, const char *pw, size_t pwlen, const char *salt,
                              size_t saltlen, long c, const char *want_hex)
{
	unsigned char out[64];
	char hex[129];
	size_t n = strlen(want_hex) / 2;

	assert_true(n <= sizeof out);
	assert_int_equal(im_pbkdf2(hash, pw, pwlen, salt, saltlen, c, out, n), IM_OK);
	hex_of(out, n, hex);
	assert_string_equal(hex, want_hex);
}

static void check_pbkdf2(const char *pw, size_t pwlen, const char *salt, size_t saltlen,
                         long c, const char *want_hex)
{
	check_pbkdf2_with(IM_SCRAM_SHA1, pw, pwlen, salt, saltlen, c, want_hex);
}

/* RFC 6070 section 2.  The 16777216-round vector is beyond the bound we accept
 * (IM_SCRAM_MAX_ITERATIONS): it must be refused, not computed. */
static void test_rfc6070(void **state)
{
	unsigned char out[20];

	(void)state;
	check_pbkdf2("password", 8, "salt", 4, 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6");
	check_pbkdf2("password", 8, "salt", 4, 2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
	check_pbkdf2("password", 8, "salt", 4, 4096, "4b007901b765489abead49d926f721d065a429c1");
	check_pbkdf2("passwordPASSWORDpassword", 24, "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096,
	             "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
	check_pbkdf2("pass\0word", 9, "sa\0lt", 5, 4096, "56fa6aa75548099dcc37d7f03425e0c3");
	assert_int_equal(im_pbkdf2(IM_SCRAM_SHA1, "password", 8, "salt", 4, 16777216, out, sizeof out),
	                 IM_EINVAL);
	assert_int_equal(im_pbkdf2(IM_SCRAM_SHA1, "password", 8, "salt", 4, 0, out, sizeof out), IM_EINVAL);
}

/* PBKDF2-HMAC-SHA256: RFC 7914 section 11, and the widely published values for
 * RFC 6070's inputs. */
static void test_pbkdf2_sha256(void **state)
{
	(void)state;
	check_pbkdf2_with(IM_SCRAM_SHA256, "passwd", 6, "salt", 4, 1,
	                  "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	                  "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	check_pbkdf2_with(IM_SCRAM_SHA256, "password", 8, "salt", 4, 1,
	                  "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
	check_pbkdf2_with(IM_SCRAM_SHA256, "password", 8, "salt", 4, 4096,
	                  "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
}

static void test_hash_names(void **state)
{
	im_scram_hash h = IM_SCRAM_SHA256;

	(void)state;
	assert_int_equal(im_scram_hash_by_name("SHA-1", &h), IM_OK);
	assert_int_equal(h, IM_SCRAM_SHA1);
	assert_int_equal(im_scram_hash_len(h), 20);
	assert_int_equal(im_scram_hash_by_name("SHA-256", &h), IM_OK);
	assert_int_equal(h, IM_SCRAM_SHA256);
	assert_int_equal(im_scram_hash_len(h), 32);
	/* Prosody's names only: no aliases, no case folding, no other hashes. */
	assert_int_equal(im_scram_hash_by_name("sha-256", &h), IM_EINVAL);
	assert_int_equal(im_scram_hash_by_name("SHA-512", &h), IM_EINVAL);
	assert_int_equal(im_scram_hash_by_name("", &h), IM_EINVAL);
	assert_int_equal(im_scram_hash_by_name(NULL, &h), IM_EINVAL);
}

/* Made by Prosody 0.12.3 itself:
 *   util.sasl.scram.hashers["SHA-1"]("pencil", "QSXCR+Q6sek8bf92", 4096)
 * -> stored_key, server_key (hex-encoded as mod_auth_internal_hashed stores them). */
#define P_PASSWORD "pencil"
#define P_SALT "QSXCR+Q6sek8bf92"
#define P_ITER 4096
#define P_STORED "8f279dda5fe5511c69e4890c2fd47a772f5c26d6"
#define P_SERVER "5cdfcf5896307930d4d49260c9f55a532689471e"

/* The same call made with password_hash = "SHA-256":
 *   util.sasl.scram.get_hash(hashes.sha256, hashes.hmac_sha256,
 *       hashes.pbkdf2_hmac_sha256)("pencil", "QSXCR+Q6sek8bf92", 4096) */
#define P256_STORED "fe30dbdd79f249916c7ae315b177cf2f389d3cd1ef020e5af9eeefeddc2f648b"
#define P256_SERVER "8d41f17a7e7c5254de3aabd99c79590f2cd006b01f7560c6d25d649fe9046393"

static int check_with(im_scram_hash hash, const char *pw, const char *salt, long iter,
                      const char *stored, const char *server)
{
	return im_scram_check(hash, pw, pw ? strlen(pw) : 0, salt, salt ? strlen(salt) : 0, iter,
	                      stored, server);
}

static int check(const char *pw, const char *salt, long iter, const char *stored, const char *server)
{
	return check_with(IM_SCRAM_SHA1, pw, salt, iter, stored, server);
}

static void test_prosody_record(void **state)
{
	(void)state;
	assert_int_equal(check(P_PASSWORD, P_SALT, P_ITER, P_STORED, P_SERVER), IM_SCRAM_MATCH);
	/* Prosody writes lower case; upper-case hex is the same bytes. */
	assert_int_equal(check(P_PASSWORD, P_SALT, P_ITER, "8F279DDA5FE5511C69E4890C2FD47A772F5C26D6",
	                       P_SERVER), IM_SCRAM_MATCH);
}

static void test_prosody_sha256_record(void **state)
{
	(void)state;
	assert_int_equal(check_with(IM_SCRAM_SHA256, P_PASSWORD, P_SALT, P_ITER, P256_STORED, P256_SERVER),
	                 IM_SCRAM_MATCH);
	assert_int_equal(check_with(IM_SCRAM_SHA256, "pencil2", P_SALT, P_ITER, P256_STORED, P256_SERVER),
	                 IM_SCRAM_MISMATCH);
	/* A record of the other hash: its keys have the other length. */
	assert_int_equal(check_with(IM_SCRAM_SHA256, P_PASSWORD, P_SALT, P_ITER, P_STORED, P_SERVER),
	                 IM_SCRAM_BAD_RECORD);
	assert_int_equal(check_with(IM_SCRAM_SHA1, P_PASSWORD, P_SALT, P_ITER, P256_STORED, P256_SERVER),
	                 IM_SCRAM_BAD_RECORD);
}

static void test_wrong_password(void **state)
{
	(void)state;
	assert_int_equal(check("pencil2", P_SALT, P_ITER, P_STORED, P_SERVER), IM_SCRAM_MISMATCH);
	assert_int_equal(check("Pencil", P_SALT, P_ITER, P_STORED, P_SERVER), IM_SCRAM_MISMATCH);
	assert_int_equal(check("", P_SALT, P_ITER, P_STORED, P_SERVER), IM_SCRAM_MISMATCH);
	/* The same password with another salt or count is another record. */
	assert_int_equal(check(P_PASSWORD, "QSXCR+Q6sek8bf93", P_ITER, P_STORED, P_SERVER), IM_SCRAM_MISMATCH);
	assert_int_equal(check(P_PASSWORD, P_SALT, P_ITER + 1, P_STORED, P_SERVER), IM_SCRAM_MISMATCH);
	/* Either key differing is enough: both are compared. */
	assert_int_equal(check(P_PASSWORD, P_SALT, P_ITER, "8f279dda5fe5511c69e4890c2fd47a772f5c26d7",
	                       P_SERVER), IM_SCRAM_MISMATCH);
	assert_int_equal(check(P_PASSWORD, P_SALT, P_ITER, P_STORED,
	                       "5cdfcf5896307930d4d49260c9f55a532689471f"), IM_SCRAM_MISMATCH);
}

static void test_corrupt_record(void **state)
{
	(void)state;
	/* bad hex: a non-hex digit, too short, too long, missing */
	assert_int_equal(check(P_PASSWORD, P_SALT, P_ITER, "8f279dda5fe5511c69e4890c2fd47a772f5c26dz",
	                       P_SERVER), IM_SCRAM_BAD_RECORD);
	assert_int_equal(check(P_PASSWORD, P_SALT, P_ITER, P_STORED, "5cdfcf58"), IM_SCRAM_BAD_RECORD);
	assert_int_equal(check(P_PASSWORD, P_SALT, P_ITER, P_STORED P_SERVER, P_SERVER), IM_SCRAM_BAD_RECORD);
	assert_int_equal(check(P_PASSWORD, P_SALT, P_ITER, NULL, P_SERVER), IM_SCRAM_BAD_RECORD);
	/* iteration counts out of bounds: refused before any hashing (a huge one
	 * would otherwise take minutes, which is what the bound is for) */
	assert_int_equal(check(P_PASSWORD, P_SALT, 0, P_STORED, P_SERVER), IM_SCRAM_BAD_RECORD);
	assert_int_equal(check(P_PASSWORD, P_SALT, -4096, P_STORED, P_SERVER), IM_SCRAM_BAD_RECORD);
	assert_int_equal(check(P_PASSWORD, P_SALT, IM_SCRAM_MAX_ITERATIONS + 1, P_STORED, P_SERVER),
	                 IM_SCRAM_BAD_RECORD);
	assert_int_equal(check(P_PASSWORD, P_SALT, 2000000000L, P_STORED, P_SERVER), IM_SCRAM_BAD_RECORD);
	/* no salt */
	assert_int_equal(check(P_PASSWORD, "", P_ITER, P_STORED, P_SERVER), IM_SCRAM_BAD_RECORD);
	assert_int_equal(check(P_PASSWORD, NULL, P_ITER, P_STORED, P_SERVER), IM_SCRAM_BAD_RECORD);
	assert_string_equal(im_scram_outcome_name(IM_SCRAM_BAD_RECORD), "bad_record");
}

/* One job for "pencil" against (stored, server) under hash, run once: its
 * return and result are want_rc and want. */
static void run_job_once(im_scram_hash hash, const char *stored, const char *server, int want_rc,
                         const char *want)
{
	im_scram_job *j = im_scram_job_new(hash, P_PASSWORD, strlen(P_PASSWORD), P_SALT, strlen(P_SALT),
	                                   P_ITER, stored, server);
	char *result = NULL;

	assert_non_null(j);
	assert_int_equal(im_scram_job_run(j, &result), want_rc);
	assert_string_equal(result, want);
	free(result);
	im_scram_job_free(j);
}

static void test_job_direct(void **state)
{
	im_scram_job *j;
	char *result = NULL;

	(void)state;
	j = im_scram_job_new(IM_SCRAM_SHA1, P_PASSWORD, strlen(P_PASSWORD), P_SALT, strlen(P_SALT),
	                     P_ITER, P_STORED, P_SERVER);
	assert_non_null(j);
	assert_int_equal(im_scram_job_run(j, &result), 1);
	assert_string_equal(result, "match");
	free(result);
	/* The password is gone after the first run: a second run cannot match. */
	assert_int_equal(im_scram_job_run(j, &result), 0);
	assert_string_equal(result, "failed");
	free(result);
	im_scram_job_free(j);
	/* An over-long key is refused, not truncated into a valid one. */
	run_job_once(IM_SCRAM_SHA1, P_STORED "00", P_SERVER, 0, "bad_record");
	/* The longest keys (SHA-256's) pass through the job intact, and one more
	 * digit is still refused. */
	run_job_once(IM_SCRAM_SHA256, P256_STORED, P256_SERVER, 1, "match");
	run_job_once(IM_SCRAM_SHA256, P256_STORED "0", P256_SERVER, 0, "bad_record");
	im_scram_job_free(NULL);
}

static int readable(int fd, int timeout_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static im_scram_job *job(const char *pw, long iter)
{
	return im_scram_job_new(IM_SCRAM_SHA1, pw, strlen(pw), P_SALT, strlen(P_SALT), iter, P_STORED,
	                        P_SERVER);
}

/* Tasks complete through the same drain as operations, with their own ids. */
static void test_task_on_workers(void **state)
{
	fx *f = fx_new("scram", FX_DIR_ONLY);
	im_workers_opts o;
	im_workers *w = NULL;
	int seen = 0, rounds = 0;

	(void)state;
	memset(&o, 0, sizeof o);
	o.path = f->path;
	o.threads = 2;
	assert_int_equal(im_workers_open(&o, &w, NULL), IM_OK);
	assert_int_equal(im_workers_submit_task(w, 7, im_scram_job_run, job(P_PASSWORD, P_ITER),
	                                        im_scram_job_free), IM_OK);
	assert_int_equal(im_workers_submit_task(w, 8, im_scram_job_run, job("wrong", P_ITER),
	                                        im_scram_job_free), IM_OK);
	assert_int_equal(im_workers_submit_task(w, 9, im_scram_job_run, job(P_PASSWORD, 0),
	                                        im_scram_job_free), IM_OK);
	assert_int_equal(im_workers_submit(w, 10, "logs.status", "{}", FX_CLI), IM_OK);
	while (seen != 0xf && rounds++ < 100) {
		im_completion *list, *c;

		if (!readable(im_workers_fd(w), 5000))
			break;
		list = im_workers_drain(w);
		for (c = list; c; c = c->next) {
			switch (c->id) {
			case 7: assert_true(c->ok); assert_string_equal(c->result, "match"); break;
			case 8: assert_false(c->ok); assert_string_equal(c->result, "mismatch"); break;
			case 9: assert_false(c->ok); assert_string_equal(c->result, "bad_record"); break;
			case 10: assert_true(c->ok); break;
			default: fail_msg("unexpected completion %lld", (long long)c->id);
			}
			assert_int_equal(seen & (1 << (c->id - 7)), 0);
			seen |= 1 << (c->id - 7);
		}
		im_completions_free(list);
	}
	assert_int_equal(seen, 0xf);
	/* A task without a function is refused, and its argument freed (ASan's
	 * leak check holds this). */
	assert_int_equal(im_workers_submit_task(w, 11, NULL, job(P_PASSWORD, P_ITER), im_scram_job_free),
	                 IM_EINVAL);
	im_workers_close(w);
	assert_int_equal(fx_free(f), 0);
}

/* A full queue refuses the task and frees it; tasks still queued at close are
 * freed unrun (the leak check again). */
static void test_task_queue_full_and_close(void **state)
{
	fx *f = fx_new("scram-full", FX_DIR_ONLY);
	im_workers_opts o;
	im_workers *w = NULL;
	int i, full = 0;

	(void)state;
	memset(&o, 0, sizeof o);
	o.path = f->path;
	o.threads = 1;
	o.queue_max = 2;
	assert_int_equal(im_workers_open(&o, &w, NULL), IM_OK);
	for (i = 0; i < 8; i++) {
		int rc = im_workers_submit_task(w, i, im_scram_job_run, job(P_PASSWORD, 200000),
		                                im_scram_job_free);
		assert_true(rc == IM_OK || rc == IM_EFULL);
		full += rc == IM_EFULL;
	}
	assert_true(full >= 5);
	im_workers_close_within(w, 0);
	assert_int_equal(fx_free(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6070),
		cmocka_unit_test(test_pbkdf2_sha256),
		cmocka_unit_test(test_hash_names),
		cmocka_unit_test(test_prosody_record),
		cmocka_unit_test(test_prosody_sha256_record),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_corrupt_record),
		cmocka_unit_test(test_job_direct),
		cmocka_unit_test(test_task_on_workers),
		cmocka_unit_test(test_task_queue_full_and_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
