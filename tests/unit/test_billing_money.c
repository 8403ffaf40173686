/*
 * test_billing_money.c — money (exponents, the rounding rule, one formatter,
 * parsing), HMAC-SHA256 against RFC 4231, Stripe-style webhook signatures
 * (valid, tampered, wrong secret, stale, rotation, malformed) and the overdue
 * state machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "billing_hmac.h"
#include "billing_overdue.h"
#include "imhost_err.h"
#include "money.h"

static void test_exponents(void **state)
{
	(void)state;
	assert_int_equal(im_currency_exponent("EUR"), 2);
	assert_int_equal(im_currency_exponent("JPY"), 0);
	assert_int_equal(im_currency_exponent("KWD"), 3);
	assert_int_equal(im_currency_exponent("XXX"), -1);
	assert_int_equal(im_currency_exponent("eur"), -1);
	assert_int_equal(im_currency_exponent(NULL), -1);
	assert_int_equal(im_currency_exponent("EURO"), -1);
}

static void test_format(void **state)
{
	char b[64];

	(void)state;
	assert_int_equal(im_money_format(123456, "EUR", b, sizeof b), 11);
	assert_string_equal(b, "1234.56 EUR");
	im_money_format(-5, "EUR", b, sizeof b);
	assert_string_equal(b, "-0.05 EUR");
	im_money_format(1234, "JPY", b, sizeof b);
	assert_string_equal(b, "1234 JPY");
	im_money_format(1234, "KWD", b, sizeof b);
	assert_string_equal(b, "1.234 KWD");
	im_money_format(-1, "KWD", b, sizeof b);
	assert_string_equal(b, "-0.001 KWD");
	im_money_format(INT64_MIN, "EUR", b, sizeof b);
	assert_string_equal(b, "-92233720368547758.08 EUR");
	assert_int_equal(im_money_format(1, "XXX", b, sizeof b), -1);
	assert_string_equal(b, "");
	assert_int_equal(im_money_format(123456, "EUR", b, 5), -1);   /* too small: never cut */
	im_money_format_plain(700, "EUR", b, sizeof b);
	assert_string_equal(b, "7.00");
}

static void test_parse(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(im_money_parse("12.34", "EUR", &v), IM_OK);
	assert_int_equal(v, 1234);
	assert_int_equal(im_money_parse("12.3", "EUR", &v), IM_OK);
	assert_int_equal(v, 1230);
	assert_int_equal(im_money_parse("12", "KWD", &v), IM_OK);
	assert_int_equal(v, 12000);
	assert_int_equal(im_money_parse("-0.5", "EUR", &v), IM_OK);
	assert_int_equal(v, -50);
	assert_int_equal(im_money_parse("500", "JPY", &v), IM_OK);
	assert_int_equal(v, 500);
	assert_int_equal(im_money_parse("5.0", "JPY", &v), IM_EINVAL);     /* JPY has no fraction */
	assert_int_equal(im_money_parse("1.234", "EUR", &v), IM_EINVAL);   /* never rounded */
	assert_int_equal(im_money_parse("1.", "EUR", &v), IM_EINVAL);
	assert_int_equal(im_money_parse("1e3", "EUR", &v), IM_EINVAL);
	assert_int_equal(im_money_parse("", "EUR", &v), IM_EINVAL);
	assert_int_equal(im_money_parse("99999999999999999999", "EUR", &v), IM_EINVAL);
}

static void test_rounding_rule(void **state)
{
	int64_t v;

	(void)state;
	/* Half away from zero, both signs. */
	assert_int_equal(im_money_muldiv(5, 1, 2, &v), IM_OK);
	assert_int_equal(v, 3);
	assert_int_equal(im_money_muldiv(-5, 1, 2, &v), IM_OK);
	assert_int_equal(v, -3);
	assert_int_equal(im_money_muldiv(4, 1, 3, &v), IM_OK);
	assert_int_equal(v, 1);
	/* 19 % of 0.05: 0.0095 -> 0.01; 19 % of 0.02: 0.0038 -> 0.00 */
	im_money_muldiv(5, 1900, 10000, &v);
	assert_int_equal(v, 1);
	im_money_muldiv(2, 1900, 10000, &v);
	assert_int_equal(v, 0);
	/* Exact in 128 bits where 64 would overflow. */
	assert_int_equal(im_money_muldiv(INT64_MAX / 2, 4, 4, &v), IM_OK);
	assert_int_equal(v, INT64_MAX / 2);
	assert_int_equal(im_money_muldiv(INT64_MAX, 2, 1, &v), IM_EINVAL);
	assert_int_equal(im_money_muldiv(1, 1, 0, &v), IM_EINVAL);
	assert_int_equal(im_money_add(INT64_MAX, 1, &v), IM_EINVAL);
}

static void hex(const uint8_t *d, char *out)
{
	int i;

	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* RFC 4231 test cases 1, 2, 3, 4, 6, 7 (5 is a truncated output). */
static void test_hmac_rfc4231(void **state)
{
	uint8_t key[131], data[160], mac[32];
	char h[65];
	size_t i;

	(void)state;
	memset(key, 0x0b, 20);
	assert_int_equal(im_hmac_sha256(key, 20, "Hi There", 8, mac), IM_OK);
	hex(mac, h);
	assert_string_equal(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	im_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
	hex(mac, h);
	assert_string_equal(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	im_hmac_sha256(key, 20, data, 50, mac);
	hex(mac, h);
	assert_string_equal(h, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	for (i = 0; i < 25; i++)
		key[i] = (uint8_t)(i + 1);
	memset(data, 0xcd, 50);
	im_hmac_sha256(key, 25, data, 50, mac);
	hex(mac, h);
	assert_string_equal(h, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
	memset(key, 0xaa, 131);
	im_hmac_sha256(key, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54, mac);
	hex(mac, h);
	assert_string_equal(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	{
		const char *m = "This is a test using a larger than block-size key and a larger than block-size "
		                "data. The key needs to be hashed before being used by the HMAC algorithm.";
		im_hmac_sha256(key, 131, m, strlen(m), mac);
		hex(mac, h);
		assert_string_equal(h, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
	}
}

#define NOW 1800000000LL
static const char body[] = "{\"id\":\"evt_1\",\"type\":\"payment.succeeded\"}";

static void test_webhook_verify(void **state)
{
	const char *one[] = { "whsec_new" }, *rot[] = { "whsec_old", "whsec_new" }, *wrong[] = { "whsec_x" };
	char h[160], h2[160], both[320], tampered[sizeof body];

	(void)state;
	assert_int_equal(im_webhook_sign("whsec_new", NOW, body, strlen(body), h, sizeof h), IM_OK);
	assert_int_equal(im_webhook_verify(h, body, strlen(body), one, 1, NOW, 300), IM_WH_OK);
	/* Within tolerance on both sides; beyond it stale (a replay). */
	assert_int_equal(im_webhook_verify(h, body, strlen(body), one, 1, NOW + 300, 300), IM_WH_OK);
	assert_int_equal(im_webhook_verify(h, body, strlen(body), one, 1, NOW - 300, 300), IM_WH_OK);
	assert_int_equal(im_webhook_verify(h, body, strlen(body), one, 1, NOW + 301, 300), IM_WH_STALE);
	assert_int_equal(im_webhook_verify(h, body, strlen(body), one, 1, NOW - 301, 300), IM_WH_STALE);
	/* Tampered body: one byte. */
	memcpy(tampered, body, sizeof body);
	tampered[10] ^= 1;
	assert_int_equal(im_webhook_verify(h, tampered, strlen(body), one, 1, NOW, 300), IM_WH_MISMATCH);
	/* The body is raw bytes: a trailing newline is a different body. */
	assert_int_equal(im_webhook_verify(h, body, strlen(body) - 1, one, 1, NOW, 300), IM_WH_MISMATCH);
	assert_int_equal(im_webhook_verify(h, body, strlen(body), wrong, 1, NOW, 300), IM_WH_MISMATCH);
	/* Rotation: the endpoint holds both secrets; a header signed with the old
	 * one, and a header carrying two v1 values, both pass. */
	assert_int_equal(im_webhook_sign("whsec_old", NOW, body, strlen(body), h2, sizeof h2), IM_OK);
	assert_int_equal(im_webhook_verify(h2, body, strlen(body), rot, 2, NOW, 300), IM_WH_OK);
	assert_int_equal(im_webhook_verify(h2, body, strlen(body), one, 1, NOW, 300), IM_WH_MISMATCH);
	snprintf(both, sizeof both, "%s,%s", h2, strchr(h, ',') + 1);
	assert_int_equal(im_webhook_verify(both, body, strlen(body), one, 1, NOW, 300), IM_WH_OK);
	/* A changed timestamp breaks the signature (it is signed). */
	h[3] = h[3] == '1' ? '2' : '1';
	assert_int_equal(im_webhook_verify(h, body, strlen(body), one, 1, NOW, 1000000000), IM_WH_MISMATCH);
	/* Malformed headers. */
	assert_int_equal(im_webhook_verify("", body, 3, one, 1, NOW, 300), IM_WH_MALFORMED);
	assert_int_equal(im_webhook_verify("t=1800000000", body, 3, one, 1, NOW, 300), IM_WH_MALFORMED);
	assert_int_equal(im_webhook_verify("v1=00", body, 3, one, 1, NOW, 300), IM_WH_MALFORMED);
	assert_int_equal(im_webhook_verify("t=18x,v1=00", body, 3, one, 1, NOW, 300), IM_WH_MALFORMED);
	assert_int_equal(im_webhook_verify(NULL, body, 3, one, 1, NOW, 300), IM_WH_MALFORMED);
	/* No secret configured: nothing verifies. */
	assert_int_equal(im_webhook_verify(h2, body, strlen(body), NULL, 0, NOW, 300), IM_WH_MISMATCH);
	assert_int_equal(im_ct_equal("abc", "abd", 3), 0);
	assert_int_equal(im_ct_equal("abc", "abc", 3), 1);
}

static void test_signed_links(void **state)
{
	char q[160];
	const char *sig;

	(void)state;
	assert_int_equal(im_link_sign("k1", "/imhost/billing/statement/7", NOW + 3600, q, sizeof q), IM_OK);
	sig = strstr(q, "sig=") + 4;
	assert_int_equal(strncmp(q, "exp=1800003600&sig=", 19), 0);
	assert_int_equal(im_link_check("k1", "/imhost/billing/statement/7", NOW + 3600, sig, NOW), IM_WH_OK);
	/* Expired, another path, a stretched expiry, another secret, garbage. */
	assert_int_equal(im_link_check("k1", "/imhost/billing/statement/7", NOW + 3600, sig, NOW + 3600), IM_WH_STALE);
	assert_int_equal(im_link_check("k1", "/imhost/billing/statement/8", NOW + 3600, sig, NOW), IM_WH_MISMATCH);
	assert_int_equal(im_link_check("k1", "/imhost/billing/statement/7", NOW + 7200, sig, NOW), IM_WH_MISMATCH);
	assert_int_equal(im_link_check("k2", "/imhost/billing/statement/7", NOW + 3600, sig, NOW), IM_WH_MISMATCH);
	assert_int_equal(im_link_check("k1", "/imhost/billing/statement/7", NOW + 3600, "zz", NOW), IM_WH_MALFORMED);
	assert_int_equal(im_link_sign("", "/x", 1, q, sizeof q), IM_ERR);   /* no secret, no link */
}

#define DAY 86400LL
static void test_overdue_machine(void **state)
{
	im_od_policy p = IM_OD_POLICY_DEFAULT;   /* 3 before, 1 after, restrict 14, suspend 30 */
	int64_t due = NOW;
	unsigned a;
	im_od_state s = IM_OD_OK;

	(void)state;
	s = im_overdue_step(&p, s, due, due - 5 * DAY, &a);
	assert_int_equal(s, IM_OD_OK);
	assert_int_equal(a, 0);
	s = im_overdue_step(&p, s, due, due - 2 * DAY, &a);
	assert_int_equal(s, IM_OD_OK);
	assert_int_equal(a, IM_OA_REMIND_BEFORE);
	s = im_overdue_step(&p, s, due, due + 1 * DAY, &a);
	assert_int_equal(s, IM_OD_REMINDED);
	assert_int_equal(a, IM_OA_REMIND_AFTER);
	s = im_overdue_step(&p, s, due, due + 2 * DAY, &a);
	assert_int_equal(a, 0);   /* nothing new */
	s = im_overdue_step(&p, s, due, due + 14 * DAY, &a);
	assert_int_equal(s, IM_OD_RESTRICTED);
	assert_int_equal(a, IM_OA_RESTRICT);
	s = im_overdue_step(&p, s, due, due + 30 * DAY, &a);
	assert_int_equal(s, IM_OD_SUSPENDED);
	assert_int_equal(a, IM_OA_SUSPEND);
	/* Payment: lifted at once. */
	s = im_overdue_step(&p, s, 0, due + 31 * DAY, &a);
	assert_int_equal(s, IM_OD_OK);
	assert_int_equal(a, IM_OA_LIFT);
	/* Downtime: from ok straight to suspended does every step at once. */
	s = im_overdue_step(&p, IM_OD_OK, due, due + 40 * DAY, &a);
	assert_int_equal(s, IM_OD_SUSPENDED);
	assert_int_equal(a, IM_OA_REMIND_AFTER | IM_OA_RESTRICT | IM_OA_SUSPEND);
	/* The clock stepping back: lift, settle where the calendar says. */
	s = im_overdue_step(&p, IM_OD_SUSPENDED, due, due + 2 * DAY, &a);
	assert_int_equal(s, IM_OD_REMINDED);
	assert_int_equal(a, IM_OA_LIFT);
	assert_string_equal(im_od_state_name(IM_OD_RESTRICTED), "restricted");
	assert_int_equal(im_od_state_parse("suspended", &s), IM_OK);
	assert_int_equal(s, IM_OD_SUSPENDED);
	assert_int_equal(im_od_state_parse("bogus", &s), IM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exponents),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_rounding_rule),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_webhook_verify),
		cmocka_unit_test(test_signed_links),
		cmocka_unit_test(test_overdue_machine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
