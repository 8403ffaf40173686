/*
 * money.c — currencies, the rounding rule, the formatter (money.h).
 */
#include <stdio.h>
#include <string.h>

#include "imhost_err.h"
#include "money.h"

/* ISO 4217 minor-unit exponents of the currencies imhost bills in.  Adding
 * one is a line here; an unknown code is refused everywhere. */
static const struct { const char code[4]; int exp; } currencies[] = {
	{ "AUD", 2 }, { "BHD", 3 }, { "BRL", 2 }, { "CAD", 2 }, { "CHF", 2 }, { "CLP", 0 },
	{ "CNY", 2 }, { "CZK", 2 }, { "DKK", 2 }, { "EUR", 2 }, { "GBP", 2 }, { "HKD", 2 },
	{ "HUF", 2 }, { "INR", 2 }, { "ISK", 0 }, { "JOD", 3 }, { "JPY", 0 }, { "KRW", 0 },
	{ "KWD", 3 }, { "MXN", 2 }, { "NOK", 2 }, { "NZD", 2 }, { "OMR", 3 }, { "PLN", 2 },
	{ "RON", 2 }, { "SEK", 2 }, { "SGD", 2 }, { "TND", 3 }, { "USD", 2 }, { "VND", 0 },
	{ "ZAR", 2 },
};

int im_currency_exponent(const char *code)
{
	size_t i;

	if (code == NULL || strlen(code) != 3)
		return -1;
	for (i = 0; i < sizeof currencies / sizeof currencies[0]; i++)
		if (memcmp(currencies[i].code, code, 3) == 0)
			return currencies[i].exp;
	return -1;
}

int im_currency_valid(const char *code)
{
	return im_currency_exponent(code) >= 0;
}

int im_money_muldiv(int64_t a, int64_t num, int64_t den, int64_t *out)
{
	__int128 p, q, r;

	if (den <= 0)
		return IM_EINVAL;
	p = (__int128)a * num;
	q = p / den;          /* truncates toward zero */
	r = p % den;          /* same sign as p */
	if (r < 0)
		r = -r;
	if (2 * r >= den)     /* half or more: away from zero */
		q += p < 0 ? -1 : 1;
	if (q > INT64_MAX || q < INT64_MIN)
		return IM_EINVAL;
	*out = (int64_t)q;
	return IM_OK;
}

int im_money_add(int64_t a, int64_t b, int64_t *out)
{
	return __builtin_add_overflow(a, b, out) ? IM_EINVAL : IM_OK;
}

int im_money_format_plain(int64_t minor, const char *code, char *buf, size_t n)
{
	int exp = im_currency_exponent(code), len;
	uint64_t mag, div = 1;
	int i;

	if (n > 0)
		buf[0] = '\0';
	if (exp < 0 || n == 0)
		return -1;
	for (i = 0; i < exp; i++)
		div *= 10;
	/* The magnitude as unsigned: INT64_MIN has no positive int64. */
	mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
	if (exp == 0)
		len = snprintf(buf, n, "%s%llu", minor < 0 ? "-" : "", (unsigned long long)mag);
	else
		len = snprintf(buf, n, "%s%llu.%0*llu", minor < 0 ? "-" : "",
		               (unsigned long long)(mag / div), exp, (unsigned long long)(mag % div));
	if (len < 0 || (size_t)len >= n) {
		buf[0] = '\0';
		return -1;
	}
	return len;
}

int im_money_format(int64_t minor, const char *code, char *buf, size_t n)
{
	int len = im_money_format_plain(minor, code, buf, n), more;

	if (len < 0)
		return -1;
	more = snprintf(buf + len, n - (size_t)len, " %s", code);
	if (more < 0 || (size_t)(len + more) >= n) {
		buf[0] = '\0';
		return -1;
	}
	return len + more;
}

int im_money_parse(const char *s, const char *code, int64_t *out)
{
	int exp = im_currency_exponent(code), frac = -1;
	int neg = 0;
	int64_t v = 0;

	if (exp < 0 || s == NULL || *s == '\0')
		return IM_EINVAL;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s < '0' || *s > '9')
		return IM_EINVAL;
	for (; *s; s++) {
		if (*s == '.' && frac < 0 && exp > 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9')
			return IM_EINVAL;
		if (frac >= 0 && ++frac > exp)
			return IM_EINVAL;
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
			return IM_EINVAL;
	}
	if (frac == 0)   /* "12." */
		return IM_EINVAL;
	for (frac = frac < 0 ? 0 : frac; frac < exp; frac++)
		if (__builtin_mul_overflow(v, 10, &v))
			return IM_EINVAL;
	*out = neg ? -v : v;
	return IM_OK;
}
