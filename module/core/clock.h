/*
 * clock.h — the one clock of the C core.
 *
 * Every component that needs "now" (relative times, token expiry, audit rows,
 * retention cutoffs) asks im_now(), so tests can pin time with im_clock_set()
 * and every component sees the same instant.  Thread-safe (atomics).
 */
#ifndef IMHOST_CLOCK_H
#define IMHOST_CLOCK_H

#include <stdint.h>

/* UTC epoch seconds: the pinned time if set, else the real clock. */
int64_t im_now(void);

/* Pins "now" to epoch (tests, core.set_clock(n)). */
void im_clock_set(int64_t epoch);

/* Back to the real clock (core.set_clock(nil)). */
void im_clock_real(void);

#endif
