/* test_incremental.c — the incremental paths that skip work, each checked
 * against a full build of the same commit: the patched search index
 * (searchpatch.c) on a site large enough that term groups split into
 * deeper shards, through edits that add and remove terms and whole groups,
 * grow a group past the shard limit and shrink it back, retitle pages and
 * sections, change headings and edit several pages at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"
#include "output.h"

#define T0 1700000000
#define DAY 86400
#define BIG 90   /* pages in the generated section */

/* Deterministic pseudo-words from syllables: many share their first two
 * or three letters, so the index has shards keyed deeper than one letter. */
static uint32_t rnd_state;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void word(sg_buf *b)
{
	static const char *const syl[] = { "ba", "be", "bi", "bo", "da", "de", "ka", "ko" };
	int n = 2 + (int)(rnd() % 2);
	/* Skewed to "ba": its group must split more than once. */
	sg_buf_puts(b, rnd() % 2 ? "ba" : syl[rnd() % 8]);
	for (int i = 1; i < n; i++) sg_buf_puts(b, syl[rnd() % 8]);
}

static char *big_page(int k, const char *extra)
{
	sg_buf b = { 0 };
	rnd_state = (uint32_t)k * 7919u + 1;
	sg_buf_printf(&b, "---\ntitle: Page %d\n---\n", k);
	for (int para = 0; para < 3; para++) {
		sg_buf_printf(&b, "\n## Part %d\n\n", para);
		for (int w = 0; w < 60; w++) {
			if (w) sg_buf_putc(&b, ' ');
			word(&b);
		}
		sg_buf_puts(&b, ".\n");
	}
	if (extra) sg_buf_printf(&b, "\n%s\n", extra);
	return sg_buf_take(&b);
}

static void put_big(fx_repo *r, int k, const char *extra)
{
	char path[64];
	snprintf(path, sizeof path, "content/big/p%03d.md", k);
	char *md = big_page(k, extra);
	fx_put(r, path, md);
	free(md);
}

static void base(fx_repo *r)
{
	fx_put(r, "sitegen.yaml", "title: Test help\nbase_url: /\n");
	fx_put(r, "content/_index.md", "---\ntitle: Help\n---\nStart here.\n");
	fx_put(r, "content/big/_index.md", "---\ntitle: Big\n---\nMany pages.\n");
	fx_put(r, "content/small/_index.md", "---\ntitle: Small\nweight: 2\n---\nFew pages.\n");
	fx_put(r, "content/small/one.md", "---\ntitle: One\ntags: [x]\n---\nFirst small page.\n\n## Alpha\n\nText.\n");
	fx_put(r, "content/small/two.md", "---\ntitle: Two\n---\nSecond small page.\n");
	for (int k = 0; k < BIG; k++) put_big(r, k, NULL);
}

/* Grows the "ba" group by a few kilobytes (each word a new term). */
static char *many_ba_words(void)
{
	sg_buf b = { 0 };
	for (int i = 0; i < 600; i++) sg_buf_printf(&b, "%sbazq%03dx", i ? " " : "", i);
	return sg_buf_take(&b);
}

typedef struct { const char *what; int patched; } step;

static void build_and_compare(const char *dir, const char *inc, const char *full, const step *s, int i)
{
	sg_build_stats st;
	char *log = NULL;
	sg_build_opts o = { 0 };
	o.repo = dir;
	o.out = inc;
	int code = fx_build(&o, &st, &log);
	if (code != 0) fail_msg("step %d (%s): incremental build failed: %s", i, s->what, log);
	free(log);
	if (i > 0 && !st.incremental) fail_msg("step %d (%s): not incremental", i, s->what);
	if (i > 0 && st.search_patched != s->patched)
		fail_msg("step %d (%s): search index %s, expected %s", i, s->what,
		         st.search_patched ? "patched" : "not patched", s->patched ? "patched" : "not");
	fx_rm(full);
	o.out = full;
	o.full = 1;
	code = fx_build(&o, &st, &log);
	if (code != 0) fail_msg("step %d (%s): full build failed: %s", i, s->what, log);
	free(log);
	char *diff = fx_tree_diff(full, inc);
	if (diff) fail_msg("step %d (%s): incremental != full: %s", i, s->what, diff);
}

/* Keys of meta.json of at least min bytes (ASCII here: code points), counted. */
static int deep_keys(const char *out, long min)
{
	char *p = sg_path_join(out, "search/meta.json"), *data = NULL;
	size_t len;
	assert_int_equal(sg_read_file(p, &data, &len), 0);
	int n = 0;
	const char *s = strstr(data, "\"shards\":[");
	assert_non_null(s);
	for (s += 10; *s == '"'; ) {
		const char *e = strchr(s + 1, '"');
		if (e - s - 1 >= min) n++;
		s = e + 1;
		if (*s == ',') s++;
	}
	free(data);
	free(p);
	return n;
}

static void test_search_patch_equals_full(void **state)
{
	(void)state;
	char *dir = fx_tmpdir("repo"), *inc = fx_tmpdir("inc"), *full = fx_tmpdir("full");
	fx_rm(inc);
	fx_repo r;
	fx_init(&r, dir, 1);
	base(&r);
	static const step steps[] = {
		{ "import", 0 },
		{ "one line added, new groups (z, Greek)", 1 },
		{ "those words removed again", 1 },
		{ "group grows past the shard limit", 1 },
		{ "and shrinks back", 1 },
		{ "retitle and new heading", 1 },
		{ "section retitled", 1 },
		{ "two pages edited", 1 },
		{ "tags only: index untouched", 0 },
		{ "page added: ids move", 0 },
	};
	int n = (int)(sizeof steps / sizeof *steps);
	char *ba = many_ba_words();
	for (int i = 0; i < n; i++) {
		switch (i) {
		case 0: break;
		case 1: put_big(&r, 7, "Zebra zulu \xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1 caf\xc3\xa9."); break;
		case 2: put_big(&r, 7, NULL); break;
		case 3: put_big(&r, 40, ba); break;
		case 4: put_big(&r, 40, NULL); break;
		case 5:
			fx_put(&r, "content/small/one.md",
			       "---\ntitle: Uno renamed\ntags: [x]\n---\nFirst small page.\n\n## Beta quux\n\nText.\n");
			break;
		case 6: fx_put(&r, "content/small/_index.md", "---\ntitle: Smaller\nweight: 2\n---\nFew pages.\n"); break;
		case 7:
			put_big(&r, 3, "Quokka yak.");
			put_big(&r, 88, "Yak.");
			break;
		case 8: fx_put(&r, "content/small/two.md", "---\ntitle: Two\ntags: [y]\n---\nSecond small page.\n"); break;
		case 9: put_big(&r, BIG, NULL); break;
		}
		if (i > 0) fx_commit(&r, i % 2 ? "Alice" : "Bob", "a@example.net", T0 + i * DAY, steps[i].what);
		else fx_commit(&r, "Alice", "a@example.net", T0, "import");
		build_and_compare(dir, inc, full, &steps[i], i);
		/* The layout is not trivial: "b" is split; step 3 splits "ba". */
		if (i == 0) assert_true(deep_keys(inc, 2) > 0);
		if (i == 0 || i == 4) assert_int_equal(deep_keys(inc, 3), 0);
		if (i == 3) assert_true(deep_keys(inc, 3) > 0);
	}
	free(ba);
	fx_free(&r);
	fx_rm(dir), fx_rm(inc), fx_rm(full);
	free(dir), free(inc), free(full);
}

/* A fixture repository (base() committed as "import"), built once into
 * inc and compared with a full build in full; world_end removes it all. */
typedef struct {
	char *dir, *inc, *full;
	fx_repo r;
} world;

static void world_begin(world *w)
{
	w->dir = fx_tmpdir("repo"), w->inc = fx_tmpdir("inc"), w->full = fx_tmpdir("full");
	fx_rm(w->inc);
	fx_init(&w->r, w->dir, 1);
	base(&w->r);
	fx_commit(&w->r, "Alice", "a@example.net", T0, "import");
	step s0 = { "first build", 0 };
	build_and_compare(w->dir, w->inc, w->full, &s0, 0);
}

static void world_end(world *w)
{
	fx_free(&w->r);
	fx_rm(w->dir), fx_rm(w->inc), fx_rm(w->full);
	free(w->dir), free(w->inc), free(w->full);
}

/* A manifest this sitegen cannot use (the text format of version 2, a
 * truncated file, a flipped byte in a count) means a full build, never a
 * wrong incremental one. */
static void test_unusable_manifest_means_full(void **state)
{
	(void)state;
	world w;
	world_begin(&w);
	char *dir = w.dir, *inc = w.inc, *full = w.full;
	fx_repo *r = &w.r;
	char *mp = sg_path_join(inc, SG_MANIFEST_NAME), *good = NULL;
	size_t len;
	assert_int_equal(sg_read_file(mp, &good, &len), 0);
	for (int k = 0; k < 4; k++) {
		put_big(r, k, "Edited.");
		fx_commit(r, "Bob", "b@example.net", T0 + (k + 1) * DAY, "edit");
		char *bad = sg_xstrndup(good, len);
		size_t blen = len;
		if (k == 0) { free(bad); bad = sg_xstrdup("sitegen-manifest 2\nsettings 0\n"); blen = strlen(bad); }
		if (k == 1) blen = len / 2;
		if (k == 2) bad[sizeof "sitegen-manifest" + 8 + 8 + 8 + 1 + 20 + 3] ^= 0x40;   /* date count */
		if (k == 3) blen = len - 1;
		assert_int_equal(sg_write_file(mp, bad, blen), 0);
		free(bad);
		sg_build_stats st;
		char *log = NULL;
		sg_build_opts o = { 0 };
		o.repo = dir;
		o.out = inc;
		assert_int_equal(fx_build(&o, &st, &log), 0);
		free(log);
		if (st.incremental) fail_msg("case %d: an unusable manifest gave an incremental build", k);
		fx_rm(full);
		o.out = full;
		o.full = 1;
		assert_int_equal(fx_build(&o, &st, &log), 0);
		free(log);
		char *diff = fx_tree_diff(full, inc);
		if (diff) fail_msg("case %d: build after an unusable manifest != full: %s", k, diff);
		free(good);
		assert_int_equal(sg_read_file(mp, &good, &len), 0);
	}
	free(good);
	free(mp);
	world_end(&w);
}

/* An incremental build skips the output-clash check only when the outputs
 * are the previous build's: a new alias that collides must still fail. */
static void test_incremental_clash_detected(void **state)
{
	(void)state;
	world w;
	world_begin(&w);
	char *dir = w.dir, *inc = w.inc;
	fx_repo *r = &w.r;
	fx_put(r, "content/small/two.md", "---\ntitle: Two\naliases: [/Small/One/]\n---\nSecond small page.\n");
	fx_commit(r, "Bob", "b@example.net", T0 + DAY, "alias clash");
	sg_build_stats st;
	char *log = NULL;
	sg_build_opts o = { 0 };
	o.repo = dir;
	o.out = inc;
	assert_int_equal(fx_build(&o, &st, &log), SG_EXIT_CONTENT);
	if (!strstr(log, "duplicate output")) fail_msg("no clash reported: %s", log);
	free(log);
	world_end(&w);
}

int main(void)
{
	git_libgit2_init();
	sg_md_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_search_patch_equals_full),
		cmocka_unit_test(test_unusable_manifest_means_full),
		cmocka_unit_test(test_incremental_clash_detected),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
