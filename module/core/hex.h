/*
 * hex.h — hex text into bytes, for the keys and signatures the core checks
 * (SCRAM records, webhook and link signatures).
 */
#ifndef IMHOST_HEX_H
#define IMHOST_HEX_H

#include <stddef.h>

/* Decodes hex[0..len) into out[n]: 0 when it is exactly 2*n hex digits (either
 * case), -1 otherwise (out then partly written). */
int im_hex_decode(const char *hex, size_t len, unsigned char *out, size_t n);

#endif
