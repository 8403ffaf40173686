/* test_zsrc.c — held sources round-trip through LZ4: with and without a
 * dictionary, empty, larger than the stack buffer, incompressible; a
 * damaged copy is refused, not returned short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zsrc.h"

/* A page of help-site Markdown, varied by n so pages differ. */
static char *page(unsigned n, size_t *len)
{
	sg_buf b = {0};
	sg_buf_printf(&b, "---\ntitle: \"Article %u\"\nweight: %u\n---\n\n", n, n % 50);
	for (unsigned i = 0; i < 40; i++)
		sg_buf_printf(&b, "Invoice %u lists the period, the plan and the amount due %u. ", n * 7 + i, i);
	*len = b.len;
	return sg_buf_take(&b);
}

static void roundtrip(sg_zsrc *z, sg_zdict *d, const char *data, size_t len, sg_buf *out)
{
	assert_int_equal(sg_zsrc_put(z, d, data, len), 0);
	assert_true(z->held);
	assert_int_equal(sg_zsrc_get(z, out), 0);
	assert_int_equal(out->len, len);
	assert_memory_equal(out->data, data, len);
	assert_int_equal(out->data[len], '\0');
}

static void test_dictionary(void **state)
{
	(void)state;
	sg_zdict *d = sg_zdict_new();
	sg_buf out = {0};
	sg_zsrc z[60];
	char *src[60];
	size_t len[60], plain = 0, held = 0, late = 0, late_held = 0;
	memset(z, 0, sizeof z);
	for (unsigned i = 0; i < 60; i++) {
		src[i] = page(i, &len[i]);
		roundtrip(&z[i], d, src[i], len[i], &out);
		plain += len[i];
		held += z[i].zlen;
		if (i >= 40) late += len[i], late_held += z[i].zlen;
	}
	/* The first pages fill the dictionary; later ones compress against it. */
	assert_null(z[0].dict);
	assert_non_null(z[59].dict);
	assert_true(held < plain);
	assert_true(late_held * 3 < late);
	/* Every copy still decompresses after the dictionary filled. */
	for (unsigned i = 0; i < 60; i++) {
		assert_int_equal(sg_zsrc_get(&z[i], &out), 0);
		assert_int_equal(out.len, len[i]);
		assert_memory_equal(out.data, src[i], len[i]);
		sg_zsrc_free(&z[i]);
		free(src[i]);
	}
	assert_false(z[0].held);
	sg_buf_free(&out);
	sg_zdict_free(d);
}

static void test_edges(void **state)
{
	(void)state;
	sg_buf out = {0};
	sg_zsrc z = {0};
	assert_int_equal(sg_zsrc_get(&z, &out), -1);   /* nothing held */
	roundtrip(&z, NULL, "", 0, &out);
	/* Larger than the stack buffer: compressed through the heap. */
	size_t n = 200000;
	char *big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++) big[i] = "settlement methods "[i % 19];
	roundtrip(&z, NULL, big, n, &out);
	assert_false(z.raw);
	assert_true(z.zlen < n / 10);
	/* Incompressible bytes are held plain. */
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < 4096; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		big[i] = (char)x;
	}
	roundtrip(&z, NULL, big, 4096, &out);
	assert_true(z.raw);
	free(big);
	sg_zsrc_free(&z);
	sg_buf_free(&out);
}

static void test_damaged(void **state)
{
	(void)state;
	sg_zdict *d = sg_zdict_new();
	sg_buf out = {0};
	sg_zsrc z = {0};
	size_t len;
	char *src = NULL;
	for (unsigned i = 0; i < 30; i++) {   /* fill the dictionary */
		free(src);
		src = page(i, &len);
		assert_int_equal(sg_zsrc_put(&z, d, src, len), 0);
	}
	assert_non_null(z.dict);
	assert_false(z.raw);
	/* A copy cut short or claiming more output than it holds is refused. */
	z.zlen /= 2;
	assert_int_equal(sg_zsrc_get(&z, &out), -1);
	assert_int_equal(out.len, 0);
	sg_zsrc_free(&z);
	free(src);
	sg_buf_free(&out);
	sg_zdict_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dictionary),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_damaged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
