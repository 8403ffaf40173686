/*
 * money.h — amounts of money: integer minor units plus an ISO 4217 currency.
 *
 * Every amount in imhost is an int64 count of the currency's minor unit (cents
 * for EUR, yen for JPY, fils for KWD).  There is no floating point anywhere on
 * the money path.  One rounding rule (im_money_muldiv) and one formatter
 * (im_money_format) serve every surface, so chat, HTML and CSV never disagree.
 */
#ifndef IMHOST_MONEY_H
#define IMHOST_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Minor-unit exponent of an upper-case ISO 4217 code ("EUR" 2, "JPY" 0,
 * "KWD" 3), or -1 for a currency imhost does not know. */
int im_currency_exponent(const char *code);

/* 1 if code is a known currency. */
int im_currency_valid(const char *code);

/* The one rounding rule: a * num / den rounded half away from zero
 * (2.5 -> 3, -2.5 -> -3), computed exactly in 128 bits.  den > 0.
 * IM_OK, or IM_EINVAL when den <= 0 or the result does not fit int64. */
int im_money_muldiv(int64_t a, int64_t num, int64_t den, int64_t *out);

/* a + b without overflow: IM_OK or IM_EINVAL. */
int im_money_add(int64_t a, int64_t b, int64_t *out);

/* Formats minor units as "-1234.56 EUR" (no grouping, '.' decimal point, the
 * currency's exponent digits) into buf.  Returns the length written, or -1
 * for an unknown currency or a buffer too small (buf is then ""). */
int im_money_format(int64_t minor, const char *code, char *buf, size_t n);

/* The number only, "-1234.56" (CSV columns beside a currency column).  As
 * im_money_format. */
int im_money_format_plain(int64_t minor, const char *code, char *buf, size_t n);

/* Parses "12.34", "-0.5", "12" in code's exponent into minor units; more
 * fraction digits than the exponent allows are refused, never rounded.
 * IM_OK or IM_EINVAL. */
int im_money_parse(const char *s, const char *code, int64_t *out);

#endif
