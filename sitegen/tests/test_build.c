/* test_build.c — sitegen end to end, in process, on repositories created
 * through libgit2: incremental == full after every commit of a history with
 * two authors, a rename and a deletion; only the expected files rewritten;
 * determinism; bad input; broken links; failed builds keep the old output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"
#include "output.h"
#include "template.h"

#define T0 1700000000   /* 2023-11-14T22:13:20Z */
#define DAY 86400

static const char *home_md =
	"---\ntitle: Help\ndescription: The help center\n---\nStart with [billing](billing/_index.md).\n";
static const char *billing_md = "---\ntitle: Billing\nweight: 1\n---\nMoney matters.\n";
static const char *support_md = "---\ntitle: Support\nweight: 2\n---\nTickets.\n";

static void base_site(fx_repo *r)
{
	fx_put(r, "content/_index.md", home_md);
	fx_put(r, "content/billing/_index.md", billing_md);
	fx_put(r, "content/support/_index.md", support_md);
	fx_put(r, "sitegen.yaml", "title: Test help\nbase_url: https://help.example.net/\n"
	       "edit_url: https://forge.example/edit/{path}\n");
	fx_put(r, ".mailmap", "Alice Example <alice@example.net> <alice@old.example>\n");
	fx_put(r, "content/billing/invoices.md",
	       "---\ntitle: Invoices\ndescription: Reading your invoice\ntags: [billing, invoices]\n---\n"
	       "Intro.\n\n## Due dates\n\nPay within 14 days.\n\n## Lines\n\nOne line per service.\n");
	fx_put(r, "content/billing/payments.md",
	       "---\ntitle: Payments\nweight: 5\ntags: [billing]\n---\nCards and transfers. See [due dates](invoices.md#due-dates).\n");
	fx_put(r, "content/support/tickets.md",
	       "---\ntitle: Tickets\n---\nOpen a ticket. Billing questions: [invoices](../billing/invoices.md).\n");
}

/* The fixture history; returns the number of commits written to ids. */
static int make_history(fx_repo *r, git_oid *ids)
{
	int n = 0;
	base_site(r);
	ids[n++] = fx_commit(r, "Alice", "alice@old.example", T0, "import");
	fx_put(r, "content/billing/invoices.md",
	       "---\ntitle: Invoices\ndescription: Reading your invoice\ntags: [billing, invoices]\n---\n"
	       "Intro, edited.\n\n## Due dates\n\nPay within 30 days.\n\n## Lines\n\nOne line per service.\n");
	ids[n++] = fx_commit(r, "Bob", "bob@example.net", T0 + DAY, "edit body");
	fx_del(r, "content/support/tickets.md");
	fx_put(r, "content/support/requests.md",
	       "---\ntitle: Tickets\naliases: [/support/tickets/]\n---\nOpen a ticket. Billing questions: [invoices](../billing/invoices.md).\n");
	ids[n++] = fx_commit(r, "Alice", "alice@example.net", T0 + 2 * DAY, "rename tickets");
	fx_put(r, "content/billing/invoices.md",
	       "---\ntitle: Your invoice\ndescription: Reading your invoice\ntags: [billing, invoices]\n---\n"
	       "Intro, edited.\n\n## Due dates\n\nPay within 30 days.\n\n## Lines\n\nOne line per service.\n");
	ids[n++] = fx_commit(r, "Bob", "bob@example.net", T0 + 3 * DAY, "retitle");
	fx_del(r, "content/billing/payments.md");
	fx_put(r, "content/billing/faq.md",
	       "---\ntitle: Billing FAQ\ntags: [billing]\nfaq:\n  - q: When is my invoice due?\n"
	       "    a: See [due dates](invoices.md#due-dates).\n  - q: Can I get a refund?\n    a: Yes, within 14 days.\n---\n");
	fx_put(r, "content/billing/logo.txt", "a static file\n");
	ids[n++] = fx_commit(r, "Alice", "alice@example.net", T0 + 4 * DAY, "faq, delete payments");
	return n;
}

static int run(const char *repo, const char *ref, const char *out, int full, sg_build_stats *st, char **log)
{
	sg_build_opts o = { 0 };
	o.repo = repo;
	o.ref = ref;
	o.out = out;
	o.full = full;
	o.quiet = 0;
	return fx_build(&o, st, log);
}

static void test_incremental_equals_full(void **state)
{
	(void)state;
	char *dir = fx_tmpdir("repo"), *inc = fx_tmpdir("inc"), *full = fx_tmpdir("full");
	fx_rm(inc);
	fx_repo r;
	fx_init(&r, dir, 1);   /* bare: no checkout exists */
	git_oid ids[8];
	int n = make_history(&r, ids);
	for (int i = 0; i < n; i++) {
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof hex, &ids[i]);
		sg_build_stats st;
		char *log = NULL;
		/* Snapshot inodes of a few files before the incremental build. */
		ino_t inv = fx_inode(inc, "billing/invoices/index.html");
		ino_t bil = fx_inode(inc, "billing/index.html");
		ino_t sup = fx_inode(inc, "support/index.html");
		ino_t css = fx_inode(inc, "assets/style.css");
		assert_int_equal(run(dir, hex, inc, 0, &st, &log), 0);
		free(log);
		assert_int_equal(st.incremental, i > 0);
		if (i == 1) {
			/* Body edit: the page changes, its section listing does not. */
			assert_int_not_equal(fx_inode(inc, "billing/invoices/index.html"), inv);
			assert_int_equal(fx_inode(inc, "billing/index.html"), bil);
			assert_int_equal(fx_inode(inc, "support/index.html"), sup);
			assert_int_equal(fx_inode(inc, "assets/style.css"), css);
			assert_int_equal(st.parsed, 1);
			assert_int_equal(st.commits_walked, 1);   /* only the new commit */
		}
		if (i == 3) {
			/* Retitle: every page listing it is rewritten (dependents). */
			assert_int_not_equal(fx_inode(inc, "billing/index.html"), bil);
			assert_int_equal(fx_inode(inc, "support/index.html"), sup);
		}
		fx_rm(full);
		assert_int_equal(run(dir, hex, full, 1, &st, &log), 0);
		free(log);
		char *diff = fx_tree_diff(full, inc);
		if (diff) fail_msg("commit %d: incremental != full: %s", i, diff);
	}
	/* After the rename the old URL is a redirect; the deleted page is gone. */
	char *p = sg_path_join(inc, "support/tickets/index.html"), *data = NULL;
	size_t len;
	assert_int_equal(sg_read_file(p, &data, &len), 0);
	assert_non_null(strstr(data, "http-equiv=\"refresh\""));
	free(data), free(p);
	assert_int_equal(fx_inode(inc, "billing/payments/index.html"), 0);
	/* Dates and authors: .mailmap maps Alice's old address. */
	p = sg_path_join(inc, "support/index.html");
	assert_int_equal(sg_read_file(p, &data, &len), 0);
	assert_non_null(strstr(data, "by Alice Example"));
	free(data), free(p);
	p = sg_path_join(inc, "billing/invoices/index.html");
	assert_int_equal(sg_read_file(p, &data, &len), 0);
	assert_non_null(strstr(data, "2023-11-17"));   /* T0 + 3 days: the retitle */
	assert_non_null(strstr(data, "by Bob"));
	assert_non_null(strstr(data, "https://forge.example/edit/content/billing/invoices.md"));
	free(data), free(p);
	fx_free(&r);
	fx_rm(dir), fx_rm(inc), fx_rm(full);
	free(dir), free(inc), free(full);
}

static void test_deterministic(void **state)
{
	(void)state;
	char *dir = fx_tmpdir("repo"), *a = fx_tmpdir("a"), *b = fx_tmpdir("b");
	fx_repo r;
	fx_init(&r, dir, 0);
	git_oid ids[8];
	make_history(&r, ids);
	sg_build_stats st;
	char *log;
	assert_int_equal(run(dir, NULL, a, 1, &st, &log), 0);
	free(log);
	assert_int_equal(run(dir, "HEAD", b, 1, &st, &log), 0);
	free(log);
	char *diff = fx_tree_diff(a, b);
	if (diff) fail_msg("two builds of one commit differ: %s", diff);
	fx_free(&r);
	fx_rm(dir), fx_rm(a), fx_rm(b);
	free(dir), free(a), free(b);
}

/* Builds a one-commit repository with base_site plus a change, runs check,
 * and returns its exit code and log. */
typedef void (*mutator)(fx_repo *r);

static int check_with(mutator m, char **log, int build_it, const char *out)
{
	char *dir = fx_tmpdir("bad");
	fx_repo r;
	fx_init(&r, dir, 1);
	base_site(&r);
	m(&r);
	fx_commit(&r, "Alice", "alice@example.net", T0, "bad");
	sg_build_opts o = { 0 };
	o.repo = dir;
	o.out = out;
	o.check_only = !build_it;
	sg_build_stats st;
	int code = fx_build(&o, &st, log);
	fx_free(&r);
	fx_rm(dir);
	free(dir);
	return code;
}

static void expect(mutator m, int code, const char *msg)
{
	char *log = NULL;
	int got = check_with(m, &log, 0, NULL);
	if (got != code || !strstr(log, msg))
		fail_msg("expected exit %d and '%s', got exit %d with:\n%s", code, msg, got, log);
	free(log);
}

static void m_broken_link(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ntitle: Tickets\n---\nLine two.\n\nSee [gone](../billing/nope.md).\n");
}
static void m_missing_anchor(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ntitle: Tickets\n---\n[x](../billing/invoices.md#no-such)\n");
}
static void m_weight_type(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ntitle: Tickets\nweight: heavy\n---\nx\n");
}
static void m_tags_type(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ntitle: Tickets\n\ntags: billing\n---\nx\n");
}
static void m_no_title(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ndescription: x\n---\nx\n");
}
static void m_unknown_key(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ntitle: T\ntittle: typo\n---\nx\n");
}
static void m_bad_utf8(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ntitle: T\n---\nline\ncaf\xe9\n");
}
static void m_binary(fx_repo *r)
{
	static const char bin[] = "---\ntitle: T\n---\n\0\1\2";
	fx_put_mode(r, "content/support/tickets.md", bin, sizeof bin - 1, GIT_FILEMODE_BLOB);
}
static void m_big(fx_repo *r)
{
	size_t n = 50u * 1024 * 1024;
	char *big = sg_xmalloc(n);
	memset(big, 'a', n);
	memcpy(big, "---\ntitle: Big\n---\n", 19);
	fx_put_mode(r, "content/support/big.md", big, n, GIT_FILEMODE_BLOB);
	free(big);
}
static void m_missing_index(fx_repo *r)
{
	fx_put(r, "content/domains/renew.md", "---\ntitle: Renew\n---\nx\n");
}
static void m_dup_slug(fx_repo *r)
{
	fx_put(r, "content/support/tickets/_index.md", "---\ntitle: Tickets section\n---\nx\n");
}
static void m_dup_case(fx_repo *r)
{
	fx_put(r, "content/support/Tickets.md", "---\ntitle: Tickets 2\n---\nx\n");
}
static void m_raw_html(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ntitle: T\n---\nok\n\n<script>alert(1)</script>\n");
}
static void m_escape(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ntitle: T\n---\n[up](../../../etc/passwd.md)\n");
}
static void m_symlink(fx_repo *r)
{
	fx_put_mode(r, "content/support/link.md", "../../sitegen.yaml", 18, GIT_FILEMODE_LINK);
}
static void m_submodule(fx_repo *r)
{
	fx_put_mode(r, "content/vendor", NULL, 0, GIT_FILEMODE_COMMIT);
}
static void m_bad_yaml(fx_repo *r)
{
	fx_put(r, "content/support/tickets.md", "---\ntitle: T\ntags: [a, b\n---\nx\n");
}
static void m_bad_name(fx_repo *r)
{
	fx_put(r, "content/support/my page.md", "---\ntitle: T\n---\nx\n");
}

static void test_link_errors(void **state)
{
	(void)state;
	expect(m_broken_link, SG_EXIT_CONTENT, "content/support/tickets.md:6: error: broken link: billing/nope.md does not exist");
	expect(m_missing_anchor, SG_EXIT_CONTENT, "content/support/tickets.md:4: error: broken link: billing/invoices.md has no heading with id '#no-such'");
	expect(m_escape, SG_EXIT_CONTENT, "content/support/tickets.md:4: error: link '../../../etc/passwd.md' leaves the content folder");
}

static void test_front_matter_errors(void **state)
{
	(void)state;
	expect(m_weight_type, SG_EXIT_CONTENT, "content/support/tickets.md:3: error: 'weight' must be an integer");
	expect(m_tags_type, SG_EXIT_CONTENT, "content/support/tickets.md:4: error: 'tags' must be a list of strings");
	expect(m_no_title, SG_EXIT_CONTENT, "content/support/tickets.md:1: error: front matter needs a non-empty 'title'");
	expect(m_unknown_key, SG_EXIT_CONTENT, "content/support/tickets.md:3: error: unknown front-matter key 'tittle'");
	expect(m_bad_yaml, SG_EXIT_CONTENT, "content/support/tickets.md:");
}

static void test_bad_input(void **state)
{
	(void)state;
	expect(m_bad_utf8, SG_EXIT_CONTENT, "content/support/tickets.md:5: error: invalid UTF-8");
	expect(m_binary, SG_EXIT_CONTENT, "content/support/tickets.md:4: error: binary file");
	expect(m_big, SG_EXIT_CONTENT, "content/support/big.md: error: file too large (limit 8 MiB)");
	expect(m_missing_index, SG_EXIT_CONTENT, "content/domains/_index.md: missing");
	expect(m_dup_slug, SG_EXIT_CONTENT, "duplicate output support/tickets/index.html");
	expect(m_dup_case, SG_EXIT_CONTENT, "duplicate output support/tickets/index.html: also produced by content/support/Tickets.md");
	expect(m_raw_html, SG_EXIT_CONTENT, "content/support/tickets.md:6: error: raw HTML is not allowed");
	expect(m_bad_name, SG_EXIT_CONTENT, "content/support/my page.md: page file and folder names");
	/* Documented skips: a warning, and the build succeeds. */
	expect(m_symlink, SG_EXIT_OK, "content/support/link.md: warning: symbolic link skipped");
	expect(m_submodule, SG_EXIT_OK, "content/vendor: warning: submodule skipped");
}

static void test_failed_build_keeps_output(void **state)
{
	(void)state;
	char *dir = fx_tmpdir("keep"), *out = fx_tmpdir("keepout");
	fx_repo r;
	fx_init(&r, dir, 1);
	base_site(&r);
	fx_commit(&r, "Alice", "alice@example.net", T0, "good");
	sg_build_opts o = { 0 };
	o.repo = dir;
	o.out = out;
	sg_build_stats st;
	char *log;
	assert_int_equal(fx_build(&o, &st, &log), 0);
	free(log);
	char *before = fx_tmpdir("before");
	fx_rm(before);
	/* Copy of the good output, to compare after the failed build. */
	sg_build_opts o2 = o;
	o2.out = before;
	assert_int_equal(fx_build(&o2, &st, &log), 0);
	free(log);
	m_broken_link(&r);
	fx_commit(&r, "Bob", "bob@example.net", T0 + DAY, "break");
	assert_int_equal(fx_build(&o, &st, &log), SG_EXIT_CONTENT);
	assert_non_null(strstr(log, "nothing written") ? log : strstr(log, "broken link"));
	free(log);
	char *diff = fx_tree_diff(before, out);
	if (diff) fail_msg("failed build changed the output: %s", diff);
	char *stage = sg_xasprintf("%s.sitegen-tmp", out);
	struct stat sst;
	assert_int_not_equal(stat(stage, &sst), 0);   /* staging removed */
	free(stage);
	/* A missing repository is an I/O/git error, not a content error. */
	o.repo = "/nonexistent/sitegen-repo";
	assert_int_equal(fx_build(&o, &st, &log), SG_EXIT_IO);
	free(log);
	fx_free(&r);
	fx_rm(dir), fx_rm(out), fx_rm(before);
	free(dir), free(out), free(before);
}

static void test_theme_override_and_worktree(void **state)
{
	(void)state;
	char *dir = fx_tmpdir("theme"), *out = fx_tmpdir("themeout");
	fx_repo r;
	fx_init(&r, dir, 0);
	base_site(&r);
	fx_put(&r, "theme/page.html", "<article><h1>{{title}}</h1><p>OVERRIDDEN</p>{{{body}}}</article>\n");
	fx_put(&r, "theme/style.css", "body{color:red}\n");
	fx_commit(&r, "Alice", "alice@example.net", T0, "theme");
	sg_build_opts o = { 0 };
	o.repo = dir;
	o.out = out;
	sg_build_stats st;
	char *log, *data = NULL;
	size_t len;
	assert_int_equal(fx_build(&o, &st, &log), 0);
	free(log);
	char *p = sg_path_join(out, "billing/invoices/index.html");
	assert_int_equal(sg_read_file(p, &data, &len), 0);
	assert_non_null(strstr(data, "<p>OVERRIDDEN</p>"));
	assert_non_null(strstr(data, "<h2 id=\"due-dates\">"));
	free(data), free(p);
	p = sg_path_join(out, "assets/style.css");
	assert_int_equal(sg_read_file(p, &data, &len), 0);
	assert_string_equal(data, "body{color:red}\n");
	free(data), free(p);
	/* A broken override is reported with its repository path. */
	fx_put(&r, "theme/page.html", "{{#if title}}never closed\n");
	fx_commit(&r, "Alice", "alice@example.net", T0 + DAY, "bad theme");
	assert_int_equal(fx_build(&o, &st, &log), SG_EXIT_CONTENT);
	assert_non_null(strstr(log, "theme/page.html"));
	free(log);
	/* Worktree of a plain folder (no git): files on disk, no dates. */
	char *plain = fx_tmpdir("plain"), *pout = fx_tmpdir("plainout");
	char *c = sg_path_join(plain, "content/billing");
	assert_int_equal(sg_mkdir_p(c), 0);
	free(c);
	c = sg_path_join(plain, "content/_index.md");
	assert_int_equal(sg_write_file(c, home_md, strlen(home_md)), 0);
	free(c);
	c = sg_path_join(plain, "content/billing/_index.md");
	assert_int_equal(sg_write_file(c, billing_md, strlen(billing_md)), 0);
	free(c);
	sg_build_opts w = { 0 };
	w.repo = plain;
	w.out = pout;
	w.worktree = 1;
	assert_int_equal(fx_build(&w, &st, &log), 0);
	free(log);
	assert_int_equal(st.pages, 2);
	p = sg_path_join(pout, "billing/index.html");
	assert_int_equal(sg_read_file(p, &data, &len), 0);
	assert_null(strstr(data, "Last updated"));
	free(data), free(p);
	/* Without --worktree a plain folder is a git error (exit 3). */
	w.worktree = 0;
	assert_int_equal(fx_build(&w, &st, &log), SG_EXIT_IO);
	free(log);
	fx_free(&r);
	fx_rm(dir), fx_rm(out), fx_rm(plain), fx_rm(pout);
	free(dir), free(out), free(plain), free(pout);
}

static void test_shallow_warning(void **state)
{
	(void)state;
	char *dir = fx_tmpdir("shallow");
	fx_repo r;
	fx_init(&r, dir, 1);
	base_site(&r);
	git_oid first = fx_commit(&r, "Alice", "alice@example.net", T0, "one");
	fx_commit(&r, "Bob", "bob@example.net", T0 + DAY, "two");
	/* What `git clone --depth` leaves: the cut-off commits in "shallow". */
	char hex[GIT_OID_HEXSZ + 2];
	git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &first);
	strcat(hex, "\n");
	char *sh = sg_path_join(git_repository_path(r.repo), "shallow");
	assert_int_equal(sg_write_file(sh, hex, strlen(hex)), 0);
	free(sh);
	sg_build_opts o = { 0 };
	o.repo = dir;
	o.check_only = 1;
	sg_build_stats st;
	char *log;
	assert_int_equal(fx_build(&o, &st, &log), 0);
	assert_non_null(strstr(log, "warning: shallow clone"));
	free(log);
	fx_free(&r);
	fx_rm(dir);
	free(dir);
}

/* An {{#each}} over a kept list reuses an item's rendering only while the
 * item is unchanged and the body read nothing but the item's own strings. */
static void test_template_memo(void **state)
{
	(void)state;
	sg_diag d = {0};
	sg_tpl *t = sg_tpl_compile("memo", "{{#each nav}}[{{#if current}}*{{/if}}{{title}}|{{outer}}]{{/each}}"
	                           "{{#each nav}}<{{title}}>{{/each}}", &d);
	assert_non_null(t);
	sg_tv *nav = sg_tv_keep(sg_tv_list());
	for (int k = 0; k < 2; k++) {
		sg_tv *o = sg_tv_obj();
		sg_tv_setr(o, "title", k ? "B" : "A");
		sg_tv_setr(o, "current", "");
		sg_tv_push(nav, o);
	}
	const char *want[] = { "[A|x][B|x]<A><B>", "[*A|x][B|x]<A><B>", "[*A|y][B|y]<A><B>", "[A|y][C|y]<A><C>" };
	for (int step = 0; step < 4; step++) {
		if (step == 1) sg_tv_setr(sg_tv_item(nav, 0), "current", "1");
		if (step == 3) {
			sg_tv_setr(sg_tv_item(nav, 0), "current", "");
			sg_tv_setr(sg_tv_item(nav, 1), "title", "C");
		}
		for (int again = 0; again < 2; again++) {   /* the second render reuses memos */
			sg_tv *ctx = sg_tv_obj();
			sg_tv_set(ctx, "nav", nav);   /* borrowed: kept */
			sg_tv_setr(ctx, "outer", step < 2 ? "x" : "y");
			sg_buf out = {0};
			sg_tpl_render(t, ctx, &out);
			assert_string_equal(out.data, want[step]);
			sg_buf_free(&out);
			sg_tv_free(ctx);
		}
	}
	sg_tv_free_kept(nav);
	sg_tpl_free(t);
	sg_tv_thread_done();
}

/* Heading ids go to Markdown headings only: a page with raw HTML (allowed)
 * may hold "<hN>" tags of its own, which keep theirs. */
static void test_heading_ids(void **state)
{
	(void)state;
	static const struct { const char *src; int allow_html; const char *want; } cases[] = {
		{ "# A\n\n| h |\n|---|\n| \\<h2> |\n\n## A\n\n`<h3>`\n",
		  0, "<h1 id=\"a\">A</h1>\n<table>\n<thead>\n<tr>\n<th>h</th>\n</tr>\n</thead>\n<tbody>\n"
		  "<tr>\n<td>&lt;h2&gt;</td>\n</tr>\n</tbody>\n</table>\n<h2 id=\"a-1\">A</h2>\n"
		  "<p><code>&lt;h3&gt;</code></p>\n" },
		{ "<h2>raw</h2>\n\n## Real\n\nx <h3>y</h3>\n",
		  1, "<h2>raw</h2>\n<h2 id=\"real\">Real</h2>\n<p>x <h3>y</h3></p>\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		sg_mdpage pg = {0};
		sg_diag d = {0};
		assert_int_equal(sg_md_render(&pg, "f.md", "f.md", cases[i].src, strlen(cases[i].src), 1,
		                              cases[i].allow_html, "/", &d), 0);
		assert_string_equal(pg.html.data, cases[i].want);
		sg_md_free(&pg);
	}
	sg_md_thread_done();
}

int main(void)
{
	git_libgit2_init();
	sg_md_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incremental_equals_full),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_link_errors),
		cmocka_unit_test(test_front_matter_errors),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_failed_build_keeps_output),
		cmocka_unit_test(test_theme_override_and_worktree),
		cmocka_unit_test(test_shallow_warning),
		cmocka_unit_test(test_template_memo),
		cmocka_unit_test(test_heading_ids),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
