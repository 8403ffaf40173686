/*
 * billing_hmac.h — HMAC-SHA256 (RFC 2104) and Stripe-style webhook signature
 * verification for payment processors.
 *
 * A processor signs each delivery with header "t=<unix ts>,v1=<hex>[,v1=<hex>]"
 * where v1 = HMAC-SHA256(secret, "<t>.<raw body>").  During a secret rotation
 * the endpoint holds the old and the new secret; any v1 matching any secret is
 * accepted.  Comparisons are constant-time.
 */
#ifndef IMHOST_BILLING_HMAC_H
#define IMHOST_BILLING_HMAC_H

#include <stddef.h>
#include <stdint.h>

/* HMAC-SHA256 of msg under key into out[32].  IM_OK, or IM_ERR when out of
 * memory (the message is hashed in one buffer: sha256.c has no streaming API). */
int im_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                   uint8_t out[32]);

/* 1 if the n bytes at a and b are equal; time independent of where they differ. */
int im_ct_equal(const void *a, const void *b, size_t n);

/* Tolerance of the signature timestamp around "now", seconds. */
#define IM_WEBHOOK_TOLERANCE 300

/* Outcome of im_webhook_verify. */
enum {
	IM_WH_OK = 0,
	IM_WH_MALFORMED,     /* header unparseable, no t or no v1 */
	IM_WH_STALE,         /* |now - t| > tolerance: a replay, or a clock far off */
	IM_WH_MISMATCH       /* no v1 matches any secret: tampered body or wrong secret */
};

/* Verifies header against the raw body with each of nsecrets secrets (NUL-
 * terminated strings).  Returns IM_WH_*.  Bodies over 1 MiB are MALFORMED. */
int im_webhook_verify(const char *header, const void *body, size_t bodylen,
                      const char *const *secrets, size_t nsecrets, int64_t now,
                      int64_t tolerance);

/* Builds a header "t=<t>,v1=<hex>" for body under secret into buf (tests, and
 * an outgoing-webhook future).  Returns IM_OK or IM_ERR. */
int im_webhook_sign(const char *secret, int64_t t, const void *body, size_t bodylen,
                    char *buf, size_t n);

/* Signed, expiring links (statements sent over XMPP): sig = hex HMAC-SHA256
 * under secret of "<path>\n<expires>".  im_link_sign writes
 * "exp=<expires>&sig=<hex>" into buf (the glue appends it to the URL);
 * im_link_check returns IM_WH_OK, IM_WH_STALE (now >= expires) or
 * IM_WH_MISMATCH / IM_WH_MALFORMED.  IM_OK/IM_ERR for sign. */
int im_link_sign(const char *secret, const char *path, int64_t expires, char *buf, size_t n);
int im_link_check(const char *secret, const char *path, int64_t expires, const char *sig_hex,
                  int64_t now);

#endif
