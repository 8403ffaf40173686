/*
 * tz.c — see tz.h.
 *
 * Why a mutex around setenv("TZ")/tzset: glibc's conversion functions read one
 * global zone.  Parsing TZif ourselves would avoid the global, but the system's
 * tz code is exact and already there.  We never unsetenv TZ (removing and re-adding
 * it can reallocate environ under a concurrent getenv); when TZ was unset we
 * restore ":/etc/localtime", which means the same thing to glibc.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imhost_err.h"
#include "tz.h"

#define ZONEINFO "/usr/share/zoneinfo/"

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

int im_tz_valid(const char *zone)
{
	char path[sizeof ZONEINFO + 64];
	size_t i, n;

	if (zone == NULL)
		return 0;
	n = strlen(zone);
	if (n == 0 || n > 63 || zone[0] == '/' || strstr(zone, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		char c = zone[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' || c == '+'))
			return 0;
	}
	snprintf(path, sizeof path, ZONEINFO "%s", zone);
	return access(path, R_OK) == 0;
}

/* Runs with TZ = zone; restores the previous TZ.  Caller holds tz_lock. */
static void tz_enter(const char *zone, char *saved, size_t savedsz)
{
	const char *old = getenv("TZ");

	snprintf(saved, savedsz, "%s", old ? old : ":/etc/localtime");
	setenv("TZ", zone, 1);
	tzset();
}

static void tz_leave(const char *saved)
{
	setenv("TZ", saved, 1);
	tzset();
}

int im_tz_to_utc(const char *zone, const struct tm *local, int64_t *out)
{
	char saved[256];
	struct tm tm;
	time_t t;
	int rc = IM_OK;

	if (!im_tz_valid(zone) || local == NULL || out == NULL)
		return IM_EINVAL;
	tm = *local;
	tm.tm_isdst = -1;
	pthread_mutex_lock(&tz_lock);
	tz_enter(zone, saved, sizeof saved);
	errno = 0;
	t = mktime(&tm);
	/* -1 is also a valid instant (1969-12-31T23:59:59Z); errno tells them apart. */
	if (t == (time_t)-1 && errno != 0)
		rc = IM_EINVAL;
	tz_leave(saved);
	pthread_mutex_unlock(&tz_lock);
	if (rc == IM_OK)
		*out = (int64_t)t;
	return rc;
}

int im_tz_from_utc(const char *zone, int64_t t, struct tm *out)
{
	char saved[256];
	time_t tt = (time_t)t;
	int rc = IM_OK;

	if (!im_tz_valid(zone) || out == NULL)
		return IM_EINVAL;
	pthread_mutex_lock(&tz_lock);
	tz_enter(zone, saved, sizeof saved);
	if (localtime_r(&tt, out) == NULL)
		rc = IM_EINVAL;
	tz_leave(saved);
	pthread_mutex_unlock(&tz_lock);
	if (rc == IM_OK)
		out->tm_zone = NULL;
	return rc;
}
