/*
 * clock.c — see clock.h.  A pinned value plus a flag, both atomic: worker threads
 * read the clock while the Lua thread may pin it (tests), and a torn read must
 * not be possible.
 */
#include <stdatomic.h>
#include <time.h>

#include "clock.h"

static _Atomic int64_t pinned;
static atomic_int is_pinned;

int64_t im_now(void)
{
	struct timespec ts;

	if (atomic_load(&is_pinned))
		return atomic_load(&pinned);
	/* CLOCK_REALTIME cannot fail with a valid clock id; keep 0 as a loud value. */
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec;
}

void im_clock_set(int64_t epoch)
{
	atomic_store(&pinned, epoch);
	atomic_store(&is_pinned, 1);
}

void im_clock_real(void)
{
	atomic_store(&is_pinned, 0);
}
