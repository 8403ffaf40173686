/*
 * billing_hmac.c — HMAC-SHA256 over sha256.c, and webhook signatures
 * (billing_hmac.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing_hmac.h"
#include "hex.h"
#include "imhost_err.h"
#include "sha256.h"

#define BLOCK 64
#define BODY_MAX (1u << 20)

int im_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                   uint8_t out[32])
{
	uint8_t k[BLOCK], inner[32], outer[BLOCK + 32];
	uint8_t *buf;
	size_t i;

	/* Keys longer than a block are hashed first (RFC 2104 section 2). */
	memset(k, 0, sizeof k);
	if (keylen > BLOCK)
		im_sha256(key, keylen, k);
	else if (keylen)
		memcpy(k, key, keylen);
	if (msglen > SIZE_MAX - BLOCK || (buf = malloc(BLOCK + msglen)) == NULL)
		return IM_ERR;
	for (i = 0; i < BLOCK; i++)
		buf[i] = k[i] ^ 0x36;
	if (msglen)
		memcpy(buf + BLOCK, msg, msglen);
	im_sha256(buf, BLOCK + msglen, inner);
	free(buf);
	for (i = 0; i < BLOCK; i++)
		outer[i] = k[i] ^ 0x5c;
	memcpy(outer + BLOCK, inner, 32);
	im_sha256(outer, sizeof outer, out);
	return IM_OK;
}

int im_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* The HMAC of "<t>.<body>" under secret. */
static int signed_payload_mac(const char *secret, int64_t t, const void *body, size_t bodylen,
                              uint8_t mac[32])
{
	char prefix[32];
	int plen = snprintf(prefix, sizeof prefix, "%lld.", (long long)t);
	uint8_t *msg;
	int rc;

	if (plen < 0 || (size_t)plen >= sizeof prefix || (msg = malloc((size_t)plen + bodylen + 1)) == NULL)
		return IM_ERR;
	memcpy(msg, prefix, (size_t)plen);
	if (bodylen)
		memcpy(msg + plen, body, bodylen);
	rc = im_hmac_sha256(secret, strlen(secret), msg, (size_t)plen + bodylen, mac);
	free(msg);
	return rc;
}

int im_webhook_sign(const char *secret, int64_t t, const void *body, size_t bodylen,
                    char *buf, size_t n)
{
	uint8_t mac[32];
	int len, i;

	if (signed_payload_mac(secret, t, body, bodylen, mac) != IM_OK)
		return IM_ERR;
	len = snprintf(buf, n, "t=%lld,v1=", (long long)t);
	if (len < 0 || (size_t)len + 65 > n)
		return IM_ERR;
	for (i = 0; i < 32; i++)
		snprintf(buf + len + 2 * i, 3, "%02x", mac[i]);
	return IM_OK;
}

#define MAX_V1 8

int im_webhook_verify(const char *header, const void *body, size_t bodylen,
                      const char *const *secrets, size_t nsecrets, int64_t now,
                      int64_t tolerance)
{
	uint8_t sigs[MAX_V1][32], mac[32];
	size_t nsig = 0, s, j;
	int64_t t = 0;
	int have_t = 0, match = 0;
	const char *p = header;

	if (header == NULL || bodylen > BODY_MAX || strlen(header) > 1024)
		return IM_WH_MALFORMED;
	/* Comma-separated key=value pairs; unknown keys (v0, future schemes) skipped. */
	while (*p) {
		const char *end = strchr(p, ','), *eq = strchr(p, '=');
		size_t len;

		if (end == NULL)
			end = p + strlen(p);
		if (eq == NULL || eq > end)
			return IM_WH_MALFORMED;
		len = (size_t)(end - eq - 1);
		if (eq - p == 1 && p[0] == 't') {
			const char *d = eq + 1;
			if (len == 0 || len > 12)
				return IM_WH_MALFORMED;
			for (t = 0; d < end; d++) {
				if (*d < '0' || *d > '9')
					return IM_WH_MALFORMED;
				t = t * 10 + (*d - '0');
			}
			have_t = 1;
		} else if (eq - p == 2 && p[0] == 'v' && p[1] == '1' && nsig < MAX_V1) {
			if (im_hex_decode(eq + 1, len, sigs[nsig], 32) != 0)
				return IM_WH_MALFORMED;
			nsig++;
		}
		p = *end ? end + 1 : end;
	}
	if (!have_t || nsig == 0)
		return IM_WH_MALFORMED;
	if (t < now - tolerance || t > now + tolerance)
		return IM_WH_STALE;
	/* Check every pair without stopping early: timing says nothing of which. */
	for (s = 0; s < nsecrets; s++) {
		if (secrets[s] == NULL || *secrets[s] == '\0')
			continue;
		if (signed_payload_mac(secrets[s], t, body, bodylen, mac) != IM_OK)
			return IM_WH_MALFORMED;
		for (j = 0; j < nsig; j++)
			match |= im_ct_equal(mac, sigs[j], 32);
	}
	return match ? IM_WH_OK : IM_WH_MISMATCH;
}

/* The link MAC of path and expires. */
static int link_mac(const char *secret, const char *path, int64_t expires, uint8_t mac[32])
{
	char *msg = NULL;
	int len, rc;

	if (!secret || !*secret || !path || (len = asprintf(&msg, "%s\n%lld", path, (long long)expires)) < 0)
		return IM_ERR;
	rc = im_hmac_sha256(secret, strlen(secret), msg, (size_t)len, mac);
	free(msg);
	return rc;
}

int im_link_sign(const char *secret, const char *path, int64_t expires, char *buf, size_t n)
{
	uint8_t mac[32];
	int len, i;

	if (link_mac(secret, path, expires, mac) != IM_OK)
		return IM_ERR;
	len = snprintf(buf, n, "exp=%lld&sig=", (long long)expires);
	if (len < 0 || (size_t)len + 65 > n)
		return IM_ERR;
	for (i = 0; i < 32; i++)
		snprintf(buf + len + 2 * i, 3, "%02x", mac[i]);
	return IM_OK;
}

int im_link_check(const char *secret, const char *path, int64_t expires, const char *sig_hex,
                  int64_t now)
{
	uint8_t mac[32], sig[32];

	if (!sig_hex || im_hex_decode(sig_hex, strlen(sig_hex), sig, 32) != 0)
		return IM_WH_MALFORMED;
	if (link_mac(secret, path, expires, mac) != IM_OK)
		return IM_WH_MALFORMED;
	if (!im_ct_equal(mac, sig, 32))
		return IM_WH_MISMATCH;
	return now < expires ? IM_WH_OK : IM_WH_STALE;
}
