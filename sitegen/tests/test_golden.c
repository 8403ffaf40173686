/* test_golden.c — renders a small fixture repository (created through
 * libgit2: two authors, fixed dates) and compares every output file with
 * tests/golden/expected/.  `make regold` (SITEGEN_REGOLD=1) rewrites the
 * expected files after an intended change; review the diff before keeping it.
 * The search index data (search/ except index.html) and assets/search.js
 * belong to searchidx's own tests and are left out, and so is the
 * manifest: it is the incremental builds' private state (a binary format
 * that changes with them), checked by test_build and test_incremental. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"
#include "output.h"

#define T0 1704103200   /* 2024-01-01T10:00:00Z */

static void golden_site(fx_repo *r)
{
	fx_put(r, "sitegen.yaml",
	       "title: Golden help\ndescription: A fixture site\nbase_url: https://help.example.org/docs/\n"
	       "language: en\nedit_url: https://forge.example.org/edit/main/{path}\n");
	fx_put(r, "content/_index.md", "---\ntitle: Golden help\ndescription: Answers, fast.\n---\n"
	       "Welcome to the *golden* help center.\n");
	fx_put(r, "content/billing/_index.md", "---\ntitle: Billing\ndescription: Invoices and payments\nweight: 1\n---\n");
	fx_put(r, "content/billing/invoices.md",
	       "---\ntitle: Your invoice\ndescription: What each line means\nweight: 1\ntags: [Billing, invoices]\n"
	       "aliases: [/billing/invoice/]\n---\n"
	       "Every month you receive an invoice.\n\n## Due dates\n\nPay within **14 days**.\n\n"
	       "| Item | Amount |\n|------|-------:|\n| Hosting | 5.00 |\n| Domain | 1.25 |\n\n"
	       "> [!NOTE]\n> Amounts are in EUR.\n\n> [!WARNING]\n> Late payment suspends the service.\n\n"
	       "### Checklist\n\n- [x] Read the invoice\n- [ ] Pay it\n\n"
	       "## Due dates\n\nSame title twice gets a suffix. ~~Old~~ text, www.example.com autolink.\n\n"
	       "```sh\necho \"<tag>\" & done\n```\n\nSee the [FAQ](faq.md#can-i-pay-late) and [home](../_index.md).\n"
	       "![logo](logo.png)\n");
	fx_put(r, "content/billing/faq.md",
	       "---\ntitle: Billing FAQ\nweight: 2\ntags: [billing]\nfaq:\n"
	       "  - q: Can I pay late?\n    a: Only with [an agreement](invoices.md#due-dates).\n"
	       "  - q: Where are old invoices?\n    a: In the dashboard, under *Statements*.\n---\n"
	       "Short answers to common questions.\n");
	fx_put(r, "content/billing/logo.png", "PNG-ish bytes\n");
	fx_put(r, "content/billing/draft.md", "---\ntitle: Secret\ndraft: true\n---\nNot published.\n");
	fx_put(r, "content/support/_index.md", "---\ntitle: Support\nweight: 2\n---\n");
	fx_put(r, "content/support/tickets/_index.md", "---\ntitle: Tickets\n---\nAll about tickets.\n");
	fx_put(r, "content/support/tickets/open.md",
	       "---\ntitle: Open a ticket\ntags: [support]\n---\nWrite to us. Quotes: \"a\" & 'b' \\<c>.\n");
}

static void copy_tree(const char *from, const char *to)
{
	sg_buf list = {0};
	fx_list_rec(from, "", &list);
	for (char *p = list.data; p && *p;) {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		char *a = sg_path_join(from, p), *b = sg_path_join(to, p), *data = NULL;
		size_t len;
		assert_int_equal(sg_read_file(a, &data, &len), 0);
		char *slash = strrchr(b, '/');
		*slash = '\0';
		assert_int_equal(sg_mkdir_p(b), 0);
		*slash = '/';
		assert_int_equal(sg_write_file(b, data, len), 0);
		free(data), free(a), free(b);
		p = nl + 1;
	}
	sg_buf_free(&list);
}

/* Drops search/ data files (not search/index.html) and the manifest from a
 * built tree. */
static void drop_search_data(const char *out)
{
	char *s = sg_path_join(out, "search"), *page = sg_path_join(out, "search/index.html"), *data = NULL;
	size_t len;
	assert_int_equal(sg_read_file(page, &data, &len), 0);
	assert_int_equal(sg_rm_rf(s), 0);
	assert_int_equal(sg_mkdir_p(s), 0);
	assert_int_equal(sg_write_file(page, data, len), 0);
	free(data), free(s), free(page);
	/* The manifest is build state, not site output. */
	char *mf = sg_path_join(out, SG_MANIFEST_NAME);
	assert_int_equal(sg_rm_rf(mf), 0);
	free(mf);
	/* theme/search.js is searchidx's too. */
	char *js = sg_path_join(out, "assets/search.js");
	assert_int_equal(sg_rm_rf(js), 0);
	free(js);
}

static void test_golden(void **state)
{
	(void)state;
	char *dir = fx_tmpdir("golden"), *out = fx_tmpdir("goldenout");
	fx_repo r;
	fx_init(&r, dir, 1);
	golden_site(&r);
	fx_commit(&r, "Alice", "alice@example.org", T0, "import");
	fx_put(&r, "content/billing/faq.md",
	       "---\ntitle: Billing FAQ\nweight: 2\ntags: [billing]\nfaq:\n"
	       "  - q: Can I pay late?\n    a: Only with [an agreement](invoices.md#due-dates).\n"
	       "  - q: Where are old invoices?\n    a: In the dashboard, under *Statements*.\n---\n"
	       "Short answers to the most common questions.\n");
	fx_commit(&r, "Bob", "bob@example.org", T0 + 86400, "faq intro");
	sg_build_opts o = { 0 };
	o.repo = dir;
	o.out = out;
	sg_build_stats st;
	char *log;
	int code = fx_build(&o, &st, &log);
	if (code != 0) fail_msg("build failed: %s", log);
	free(log);
	drop_search_data(out);
	const char *src = getenv("SITEGEN_SRCDIR") ? getenv("SITEGEN_SRCDIR") : ".";
	char *expected = sg_path_join(src, "tests/golden/expected");
	if (getenv("SITEGEN_REGOLD")) {
		assert_int_equal(sg_rm_rf(expected), 0);
		copy_tree(out, expected);
		fprintf(stderr, "regold: wrote %s\n", expected);
	}
	char *diff = fx_tree_diff(expected, out);
	if (diff) fail_msg("output differs from %s (run `make regold` if intended): %s\nbuilt tree kept in %s", expected, diff, out);
	fx_free(&r);
	fx_rm(dir), fx_rm(out);
	free(dir), free(out), free(expected);
}

int main(void)
{
	git_libgit2_init();
	sg_md_global_init();
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_golden) };
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
