/*
 * thread_prio.h — how imhost's own threads yield to Prosody's event loop.
 */
#ifndef IMHOST_THREAD_PRIO_H
#define IMHOST_THREAD_PRIO_H

/* Makes the calling thread a background thread: SCHED_BATCH, so that waking it
 * (a new job, a full log batch) never preempts the event loop on the loop's
 * own core (it waits for a free core or the next tick instead), and the given
 * nice value (0..19), its share of a busy core.  Linux applies both per thread;
 * elsewhere, or when refused, this is a harmless no-op. */
void im_thread_background(int nice_value);

#endif
