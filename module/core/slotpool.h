/*
 * slotpool.h — a thread-safe pool of fixed-size memory slots.
 *
 * The log writer's entries are allocated on Prosody's thread and freed on the
 * writer thread, some 30,000 a second.  Through malloc, every one of those
 * frees lands in the arena Lua allocates from, with its lock, and breaks up
 * the free chunks Lua reuses; measured, that slowed Prosody's own routing by
 * several per cent.  Slots from this pool go back to the pool instead.
 *
 * Slots come in chunks that live until im_slotpool_destroy; the pool never
 * holds more than max_slots (then get returns NULL and the caller falls back
 * to malloc).  Any thread may get and put.
 */
#ifndef IMHOST_SLOTPOOL_H
#define IMHOST_SLOTPOOL_H

#include <pthread.h>
#include <stddef.h>

typedef struct im_slotpool {
	pthread_mutex_t mu;
	void *free;              /* free slots, linked through their first word */
	void **chunks;           /* every chunk, for destroy */
	size_t nchunks, chunk_cap;
	size_t slot_bytes, slots, max_slots;
} im_slotpool;

/* slot_bytes is rounded up to a multiple of 16.  0 on success, -1 on error. */
int im_slotpool_init(im_slotpool *p, size_t slot_bytes, size_t max_slots);
/* Frees every chunk: no slot may be in use any more. */
void im_slotpool_destroy(im_slotpool *p);

/* A free slot of slot_bytes, or NULL (pool at max_slots, or out of memory). */
void *im_slotpool_get(im_slotpool *p);
/* Returns n slots (each from im_slotpool_get) under one lock. */
void im_slotpool_put(im_slotpool *p, void *const *slots, size_t n);

#endif
