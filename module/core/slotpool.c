/*
 * slotpool.c — fixed-size slots, handed out and taken back under one mutex.
 * See slotpool.h for why.
 */
#include <stdlib.h>
#include <string.h>

#include "slotpool.h"

#define SLOTS_PER_CHUNK 64

int im_slotpool_init(im_slotpool *p, size_t slot_bytes, size_t max_slots)
{
	memset(p, 0, sizeof *p);
	if (slot_bytes < sizeof(void *))
		slot_bytes = sizeof(void *);
	p->slot_bytes = (slot_bytes + 15) & ~(size_t)15;
	p->max_slots = max_slots;
	return pthread_mutex_init(&p->mu, NULL) == 0 ? 0 : -1;
}

void im_slotpool_destroy(im_slotpool *p)
{
	size_t i;

	for (i = 0; i < p->nchunks; i++)
		free(p->chunks[i]);
	free(p->chunks);
	pthread_mutex_destroy(&p->mu);
	memset(p, 0, sizeof *p);
}

/* Adds one chunk of slots to the free list (mu held).  0 or -1. */
static int grow(im_slotpool *p)
{
	size_t n = SLOTS_PER_CHUNK, i;
	char *chunk;

	if (p->slots + n > p->max_slots)
		n = p->max_slots - p->slots;
	if (n == 0)
		return -1;
	if (p->nchunks == p->chunk_cap) {
		size_t cap = p->chunk_cap ? p->chunk_cap * 2 : 16;
		void **c = realloc(p->chunks, cap * sizeof *c);

		if (c == NULL)
			return -1;
		p->chunks = c;
		p->chunk_cap = cap;
	}
	chunk = malloc(n * p->slot_bytes);
	if (chunk == NULL)
		return -1;
	p->chunks[p->nchunks++] = chunk;
	for (i = n; i-- > 0;) {
		void *slot = chunk + i * p->slot_bytes;

		*(void **)slot = p->free;
		p->free = slot;
	}
	p->slots += n;
	return 0;
}

void *im_slotpool_get(im_slotpool *p)
{
	void *slot;

	pthread_mutex_lock(&p->mu);
	if (p->free == NULL && grow(p) != 0) {
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	slot = p->free;
	p->free = *(void **)slot;
	pthread_mutex_unlock(&p->mu);
	return slot;
}

void im_slotpool_put(im_slotpool *p, void *const *slots, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	/* Chain them first, splice under the lock: a getter on the event loop's
	 * thread waits for two stores, not for a whole batch. */
	for (i = 0; i + 1 < n; i++)
		*(void **)slots[i] = slots[i + 1];
	pthread_mutex_lock(&p->mu);
	*(void **)slots[n - 1] = p->free;
	p->free = slots[0];
	pthread_mutex_unlock(&p->mu);
}
