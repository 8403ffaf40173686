/*
 * sha256.h — SHA-256 (FIPS 180-4), small and dependency-free.
 * Used for API token hashes (only the hash of a bearer token is stored).
 */
#ifndef IMHOST_SHA256_H
#define IMHOST_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* digest of len bytes at data into out[32]. */
void im_sha256(const void *data, size_t len, uint8_t out[32]);

/* The same as 64 lowercase hex characters + NUL in hex[65]. */
void im_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
