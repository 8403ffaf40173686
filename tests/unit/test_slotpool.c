/*
 * test_slotpool.c — the log writer's slot pool: slots are distinct, usable at
 * full size, reused after put, bounded by max_slots, and safe to get and put
 * from two threads at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "slotpool.h"

static void test_distinct_full_size_and_reused(void **state)
{
	im_slotpool p;
	void *s[100], *again;
	size_t i, j;

	(void)state;
	assert_int_equal(im_slotpool_init(&p, 100, 1000), 0);
	assert_int_equal(p.slot_bytes % 16, 0);
	assert_true(p.slot_bytes >= 100);
	for (i = 0; i < 100; i++) {
		s[i] = im_slotpool_get(&p);
		assert_non_null(s[i]);
		memset(s[i], (int)i, 100);           /* ASan: the whole slot is ours */
	}
	for (i = 0; i < 100; i++) {
		const unsigned char *b = s[i];
		assert_int_equal(b[99], (unsigned char)i);   /* no neighbour wrote over it */
		for (j = 0; j < i; j++)
			assert_ptr_not_equal(s[i], s[j]);
	}
	im_slotpool_put(&p, &s[42], 1);
	again = im_slotpool_get(&p);
	assert_ptr_equal(again, s[42]);           /* a freed slot is handed out again */
	im_slotpool_put(&p, s, 100);
	assert_true(p.slots <= 128);               /* no growth beyond what was needed */
	im_slotpool_destroy(&p);
}

static void test_bounded_by_max_slots(void **state)
{
	im_slotpool p;
	void *s[10];
	size_t i;

	(void)state;
	assert_int_equal(im_slotpool_init(&p, 64, 10), 0);
	for (i = 0; i < 10; i++)
		assert_non_null(s[i] = im_slotpool_get(&p));
	assert_null(im_slotpool_get(&p));          /* caller falls back to malloc */
	im_slotpool_put(&p, s, 3);
	for (i = 0; i < 3; i++)
		assert_non_null(im_slotpool_get(&p));
	assert_null(im_slotpool_get(&p));
	im_slotpool_destroy(&p);
}

#define ROUNDS 20000

/* Producer gets and writes slots; the consumer puts them back, as the writer does. */
struct handoff {
	im_slotpool *p;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void *box[64];
	int n, done;
	int bad;                 /* slots the consumer found overwritten (checked on the main thread) */
};

static void *consumer(void *arg)
{
	struct handoff *h = arg;
	void *take[64];
	int n;

	for (;;) {
		pthread_mutex_lock(&h->mu);
		while (h->n == 0 && !h->done)
			pthread_cond_wait(&h->cv, &h->mu);
		n = h->n;
		memcpy(take, h->box, (size_t)n * sizeof take[0]);
		h->n = 0;
		pthread_cond_broadcast(&h->cv);
		if (n == 0 && h->done) {
			pthread_mutex_unlock(&h->mu);
			return NULL;
		}
		pthread_mutex_unlock(&h->mu);
		for (int i = 0; i < n; i++)
			if (*((unsigned char *)take[i] + 40) != 0xab)
				h->bad++;        /* cmocka's asserts belong to the main thread */
		im_slotpool_put(h->p, take, (size_t)n);
	}
}

static void test_two_threads(void **state)
{
	im_slotpool p;
	struct handoff h = { .p = &p };
	pthread_t t;
	int i;

	(void)state;
	assert_int_equal(im_slotpool_init(&p, 48, 256), 0);
	pthread_mutex_init(&h.mu, NULL);
	pthread_cond_init(&h.cv, NULL);
	assert_int_equal(pthread_create(&t, NULL, consumer, &h), 0);
	for (i = 0; i < ROUNDS; i++) {
		unsigned char *s = im_slotpool_get(&p);

		assert_non_null(s);                    /* 256 slots, at most 64 in the box */
		memset(s, 0xab, 48);
		pthread_mutex_lock(&h.mu);
		while (h.n == 64)
			pthread_cond_wait(&h.cv, &h.mu);
		h.box[h.n++] = s;
		pthread_cond_broadcast(&h.cv);
		pthread_mutex_unlock(&h.mu);
	}
	pthread_mutex_lock(&h.mu);
	h.done = 1;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	pthread_join(t, NULL);
	assert_int_equal(h.bad, 0);
	assert_true(p.slots <= 256);
	im_slotpool_destroy(&p);
	pthread_cond_destroy(&h.cv);
	pthread_mutex_destroy(&h.mu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distinct_full_size_and_reused),
		cmocka_unit_test(test_bounded_by_max_slots),
		cmocka_unit_test(test_two_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
