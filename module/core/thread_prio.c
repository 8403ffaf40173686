/*
 * thread_prio.c — see thread_prio.h.
 *
 * Why SCHED_BATCH: measured on 2 cores (kernel 6.18, EEVDF), a worker at nice
 * 10 woken by the loop was placed on the loop's core and preempted it at
 * once, running a whole 3 ms search while the loop waited and the other core
 * idled.  The scheduler never lets a waking SCHED_BATCH thread preempt.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "thread_prio.h"

void im_thread_background(int nice_value)
{
#ifdef SCHED_BATCH
	struct sched_param sp = { 0 };

	(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
#endif
#ifdef SYS_gettid
	if (nice_value > 0)
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice_value);
#else
	(void)nice_value;
#endif
}
