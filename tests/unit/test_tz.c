/*
 * test_tz.c — IANA zones: DST transitions, validation, thread safety.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "imhost.h"

static int64_t to_utc(const char *zone, int y, int mo, int d, int h, int mi)
{
	struct tm tm;
	int64_t t = -1;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900; tm.tm_mon = mo - 1; tm.tm_mday = d; tm.tm_hour = h; tm.tm_min = mi;
	assert_int_equal(im_tz_to_utc(zone, &tm, &t), IM_OK);
	return t;
}

static void test_berlin_dst(void **state)
{
	struct tm tm;

	(void)state;
	/* 2026-03-29: clocks go 02:00 CET -> 03:00 CEST (01:00Z). */
	assert_int_equal(to_utc("Europe/Berlin", 2026, 3, 29, 1, 30), 1774744200);  /* 00:30Z, CET */
	assert_int_equal(to_utc("Europe/Berlin", 2026, 3, 29, 3, 30), 1774747800);  /* 01:30Z, CEST */
	/* 2026-10-25: 03:00 CEST -> 02:00 CET (01:00Z). */
	assert_int_equal(to_utc("Europe/Berlin", 2026, 10, 25, 0, 0), 1792879200);  /* 22:00Z the day before */
	assert_int_equal(to_utc("Europe/Berlin", 2026, 10, 25, 4, 0), 1792897200);  /* 03:00Z, CET */
	/* summer: UTC+2 */
	assert_int_equal(to_utc("Europe/Berlin", 2026, 7, 1, 12, 0), 1782900000);
	assert_int_equal(im_tz_from_utc("Europe/Berlin", 1782900000, &tm), IM_OK);
	assert_int_equal(tm.tm_hour, 12);
	assert_int_equal(tm.tm_gmtoff, 7200);
	assert_true(tm.tm_isdst > 0);
	assert_null(tm.tm_zone);
	assert_int_equal(im_tz_from_utc("Europe/Berlin", 1795780800, &tm), IM_OK);  /* Nov: UTC+1 */
	assert_int_equal(tm.tm_hour, 13);
	assert_int_equal(tm.tm_gmtoff, 3600);
}

static void test_new_york_and_utc(void **state)
{
	(void)state;
	/* EST (UTC-5) in winter, EDT (UTC-4) in summer; DST starts 2026-03-08. */
	assert_int_equal(to_utc("America/New_York", 2026, 1, 15, 12, 0), 1768496400);
	assert_int_equal(to_utc("America/New_York", 2026, 7, 15, 12, 0), 1784131200);
	assert_int_equal(to_utc("America/New_York", 2026, 3, 8, 1, 0), 1772949600);
	assert_int_equal(to_utc("America/New_York", 2026, 3, 8, 3, 0), 1772953200);
	assert_int_equal(to_utc("UTC", 2026, 11, 27, 10, 2), 1795773720);
}

static void test_invalid_zone(void **state)
{
	struct tm tm;
	int64_t t;

	(void)state;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = 126; tm.tm_mday = 1;
	assert_false(im_tz_valid("Mars/Olympus"));
	assert_false(im_tz_valid("../../etc/passwd"));
	assert_false(im_tz_valid("/etc/localtime"));
	assert_false(im_tz_valid(""));
	assert_false(im_tz_valid(NULL));
	assert_false(im_tz_valid("Europe/Berlin; rm"));
	assert_true(im_tz_valid("Europe/Berlin"));
	assert_true(im_tz_valid("UTC"));
	assert_int_equal(im_tz_to_utc("Mars/Olympus", &tm, &t), IM_EINVAL);
	assert_int_equal(im_tz_from_utc("Nowhere", 0, &tm), IM_EINVAL);
	assert_int_equal(im_time_parse("2026-01-01", "Mars/Olympus", 0, &t), IM_EINVAL);
}

static void test_gap_and_ambiguity(void **state)
{
	(void)state;
	/* Berlin 2026-03-29 02:30 does not exist: read with CET, i.e. 01:30Z (03:30 CEST) */
	assert_int_equal(to_utc("Europe/Berlin", 2026, 3, 29, 2, 30), 1774747800);
	/* Berlin 2026-10-25 02:30 happens twice: the earlier (CEST, 00:30Z) */
	assert_int_equal(to_utc("Europe/Berlin", 2026, 10, 25, 2, 30), 1792888200);
	/* far beyond the TZif table: the POSIX rule in the footer (CEST in July 2080) */
	assert_int_equal(to_utc("Europe/Berlin", 2080, 7, 1, 12, 0), 3487053600);
	/* southern hemisphere: Sydney is UTC+11 in January, UTC+10 in July */
	assert_int_equal(to_utc("Australia/Sydney", 2026, 1, 15, 12, 0), 1768438800);
	assert_int_equal(to_utc("Australia/Sydney", 2026, 7, 15, 12, 0), 1784080800);
	assert_int_equal(to_utc("Asia/Kolkata", 2026, 1, 1, 0, 0), 1767205800);
}

/* The same answers as the C library's own tz code, in a single thread where
 * switching TZ is safe: many instants, zones with odd rules. */
static void test_agrees_with_libc(void **state)
{
	static const char *const zones[] = { "Europe/Berlin", "America/New_York", "Australia/Sydney",
		"Asia/Kolkata", "America/Sao_Paulo", "Europe/Dublin", "Pacific/Chatham", "UTC",
		"Asia/Tehran", "America/St_Johns", "Africa/Casablanca", "Australia/Lord_Howe" };
	uint64_t x = 12345;
	size_t zi;
	int i;

	(void)state;
	for (zi = 0; zi < sizeof zones / sizeof zones[0]; zi++) {
		setenv("TZ", zones[zi], 1);
		tzset();
		for (i = 0; i < 3000; i++) {
			struct tm a, b;
			time_t t;
			int64_t back;
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			t = (time_t)((x >> 33) % 4102444800ULL);          /* 1970 .. 2100 */
			assert_non_null(localtime_r(&t, &a));
			assert_int_equal(im_tz_from_utc(zones[zi], (int64_t)t, &b), IM_OK);
			if (a.tm_gmtoff != b.tm_gmtoff || a.tm_hour != b.tm_hour || a.tm_mday != b.tm_mday ||
			    a.tm_year != b.tm_year || a.tm_wday != b.tm_wday || a.tm_yday != b.tm_yday ||
			    (a.tm_isdst > 0) != (b.tm_isdst > 0))
				fail_msg("%s at %lld: libc %+ld, ours %+ld", zones[zi], (long long)t,
				         a.tm_gmtoff, b.tm_gmtoff);
			assert_int_equal(im_tz_to_utc(zones[zi], &b, &back), IM_OK);
			assert_true(back <= (int64_t)t && back >= (int64_t)t - 3 * 3600);   /* ambiguous: earlier */
			if (back != (int64_t)t) {     /* only in a repeated hour */
				struct tm c;
				assert_int_equal(im_tz_from_utc(zones[zi], back, &c), IM_OK);
				assert_int_equal(c.tm_hour, b.tm_hour);
				assert_int_equal(c.tm_min, b.tm_min);
			}
		}
	}
	unsetenv("TZ");
	tzset();
}

static void *convert_many(void *arg)
{
	const char *zone = arg;
	int i;

	for (i = 0; i < 2000; i++) {
		struct tm tm;
		int64_t t;
		memset(&tm, 0, sizeof tm);
		tm.tm_year = 126; tm.tm_mon = 6; tm.tm_mday = 1; tm.tm_hour = 12;
		if (im_tz_to_utc(zone, &tm, &t) != IM_OK)
			return (void *)1;
		if (t != (strcmp(zone, "UTC") == 0 ? 1782907200 : 1782900000))
			return (void *)1;
	}
	return NULL;
}

static void test_threads_do_not_mix_zones(void **state)
{
	pthread_t a, b;
	void *ra, *rb;

	(void)state;
	assert_int_equal(pthread_create(&a, NULL, convert_many, "Europe/Berlin"), 0);
	assert_int_equal(pthread_create(&b, NULL, convert_many, "UTC"), 0);
	pthread_join(a, &ra);
	pthread_join(b, &rb);
	assert_null(ra);
	assert_null(rb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_berlin_dst),
		cmocka_unit_test(test_new_york_and_utc),
		cmocka_unit_test(test_invalid_zone),
		cmocka_unit_test(test_gap_and_ambiguity),
		cmocka_unit_test(test_agrees_with_libc),
		cmocka_unit_test(test_threads_do_not_mix_zones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
