/* test_searchidx.c — standalone tests of the search index writer
 * (src/searchidx.c, src/searchload.c): stemmer, tokenizer, shard layout,
 * determinism, incremental writes, reading an index back and updating it
 * (== a fresh index of the new pages), errors.  Prints "N passed, N failed"; exits 1 on any
 * failure.  Build: see tests/searchidx.sh (also run under ASan+UBSan).
 *
 * With --tokenize it instead prints the terms of stdin, one per line: the
 * parity check in searchidx.sh compares that with theme/search.js. */
#include "../src/searchidx.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)
static void check(int ok, const char *what, const char *file, int line)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
	}
}

/* Pairs produced by Snowball 2.2's own English stemmer (Debian package
 * python3-snowballstemmer), sampled over a 79,050-word vocabulary plus words
 * chosen to exercise each rule; the whole vocabulary agreed. */
static const char *const stems[][2] = {
	{ "addpoints", "addpoint" },
	{ "alo", "alo" },
	{ "applets", "applet" },
	{ "assigninlistcomprehension", "assigninlistcomprehens" },
	{ "autousing", "autous" },
	{ "bbc", "bbc" },
	{ "bisect", "bisect" },
	{ "brrstat", "brrstat" },
	{ "candidatesfrompage", "candidatesfrompag" },
	{ "cfdd", "cfdd" },
	{ "cii", "cii" },
	{ "cncheck", "cncheck" },
	{ "complexfield", "complexfield" },
	{ "coret", "coret" },
	{ "ctanh", "ctanh" },
	{ "datasourceisjdbc", "datasourceisjdbc" },
	{ "definedness", "defined" },
	{ "diaeres", "diaer" },
	{ "dmperm", "dmperm" },
	{ "duota", "duota" },
	{ "einprogress", "einprogress" },
	{ "entitled", "entitl" },
	{ "eventkey", "eventkey" },
	{ "failing", "fail" },
	{ "filecomment", "filecom" },
	{ "florian", "florian" },
	{ "fromarrays", "fromarray" },
	{ "gemfile", "gemfil" },
	{ "getnumericvalue", "getnumericvalu" },
	{ "glgetattriblocation", "glgetattribloc" },
	{ "gslranbetapdf", "gslranbetapdf" },
	{ "handy", "handi" },
	{ "hksamplequery", "hksamplequeri" },
	{ "iaus", "iaus" },
	{ "imd", "imd" },
	{ "inlistcarsintent", "inlistcarsint" },
	{ "invalidscopeerror", "invalidscopeerror" },
	{ "isfinished", "isfinish" },
	{ "ivijega", "ivijega" },
	{ "kaaba", "kaaba" },
	{ "kpelle", "kpell" },
	{ "ldap", "ldap" },
	{ "lineinterpolatepoints", "lineinterpolatepoint" },
	{ "longsize", "longsiz" },
	{ "maintenance", "mainten" },
	{ "mbox", "mbox" },
	{ "midis", "midi" },
	{ "modifycamera", "modifycamera" },
	{ "msvcr", "msvcr" },
	{ "navigation", "navig" },
	{ "ngkue", "ngkue" },
	{ "nonstarter", "nonstart" },
	{ "nsunitacceleration", "nsunitacceler" },
	{ "oink", "oink" },
	{ "organization", "organ" },
	{ "pagercontext", "pagercontext" },
	{ "peer", "peer" },
	{ "placeholding", "placehold" },
	{ "preceding", "preced" },
	{ "provene", "proven" },
	{ "qhwe", "qhwe" },
	{ "rcmp", "rcmp" },
	{ "regexr", "regexr" },
	{ "resolverexception", "resolverexcept" },
	{ "roster", "roster" },
	{ "savegraphcopy", "savegraphcopi" },
	{ "selinux", "selinux" },
	{ "setting", "set" },
	{ "signaled", "signal" },
	{ "sn", "sn" },
	{ "sps", "sps" },
	{ "statuses", "status" },
	{ "studioreference", "studiorefer" },
	{ "swiftnsstringtype", "swiftnsstringtyp" },
	{ "tbvcf", "tbvcf" },
	{ "thin", "thin" },
	{ "tmyrmajorlinecolor", "tmyrmajorlinecolor" },
	{ "trimming", "trim" },
	{ "ubn", "ubn" },
	{ "unclear", "unclear" },
	{ "updateclientmodel", "updateclientmodel" },
	{ "varread", "varread" },
	{ "vinarray", "vinarray" },
	{ "wcsessionuserinfotransfer", "wcsessionuserinfotransf" },
	{ "wordlength", "wordlength" },
	{ "xgn", "xgn" },
	{ "ymus", "ymus" },
};

static void test_stemmer(void)
{
	for (size_t i = 0; i < sizeof stems / sizeof stems[0]; i++) {
		char w[80];
		size_t n = strlen(stems[i][0]);
		memcpy(w, stems[i][0], n);
		n = sg_stem(w, n);
		int ok = n == strlen(stems[i][1]) && !memcmp(w, stems[i][1], n);
		if (!ok)
			fprintf(stderr, "stem(%s) = %.*s, want %s\n", stems[i][0], (int)n, w, stems[i][1]);
		CHECK(ok);
	}
	char d[] = "ipv6";
	CHECK(sg_stem(d, 4) == 4 && !memcmp(d, "ipv6", 4));
}

typedef struct {
	char s[1024];
} terms_t;

static void collect(const char *t, size_t n, void *ctx)
{
	terms_t *o = ctx;
	size_t l = strlen(o->s);
	if (l + n + 2 < sizeof o->s) {
		if (l)
			o->s[l++] = ' ';
		memcpy(o->s + l, t, n);
		o->s[l + n] = '\0';
	}
}

static int tok_is(const char *text, const char *want)
{
	terms_t o = { "" };
	sg_search_tokenize(text, collect, &o);
	if (strcmp(o.s, want))
		fprintf(stderr, "tokenize(\"%s\") = \"%s\", want \"%s\"\n", text, o.s, want);
	return !strcmp(o.s, want);
}

static void test_tokenizer(void)
{
	CHECK(tok_is("Renewing your INVOICES", "renew invoic"));
	CHECK(tok_is("Café — Ærø Straße", "cafe aero strass"));
	CHECK(tok_is("the customer's domain, don't wait", "custom domain dont wait"));
	CHECK(tok_is("customer\xE2\x80\x99s 2024 TLS1.3", "custom 2024 tls1 3"));
	CHECK(tok_is("bad\xff\xfe" "bytes", "bad byte"));
	CHECK(tok_is("e\xCC\x81" "t\xC3\xA9", "ete"));
	CHECK(tok_is("\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xCE\xA3\xCE\xBF\xCF\x82",
	             "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xCF\x83\xCE\xBF\xCF\x83"));
	char lng[200];
	memset(lng, 'x', 150);
	strcpy(lng + 150, " ok");
	CHECK(tok_is(lng, "ok"));
	CHECK(tok_is("", ""));
	CHECK(tok_is(NULL, ""));
	CHECK(tok_is("'s 's'", "s s")); /* leading apostrophes are separators */
}

/* ---- index files ---------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = NULL;
	size_t n = 0, cap = 0, r;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(b, cap);
			if (!nb) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = nb;
		}
		r = fread(b + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	fclose(f);
	b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

static char *pathf(const char *dir, const char *rel)
{
	char *p = NULL;
	if (asprintf(&p, "%s/search/%s", dir, rel) < 0)
		abort();
	return p;
}

static int file_has(const char *dir, const char *rel, const char *needle)
{
	char *p = pathf(dir, rel), *b = slurp(p, NULL);
	int ok = b && strstr(b, needle);
	free(p);
	free(b);
	return ok;
}

static int file_exists(const char *dir, const char *rel)
{
	char *p = pathf(dir, rel);
	struct stat st;
	int ok = stat(p, &st) == 0;
	free(p);
	return ok;
}

static ino_t inode(const char *dir, const char *rel)
{
	char *p = pathf(dir, rel);
	struct stat st;
	ino_t i = stat(p, &st) == 0 ? st.st_ino : 0;
	free(p);
	return i;
}

/* Concatenation of every file under <dir>/search, sorted by name. */
static void tree_digest(const char *dir, const char *sub, char **acc, size_t *alen)
{
	char *p = pathf(dir, sub);
	struct dirent **ents;
	int n = scandir(p, &ents, NULL, alphasort);
	free(p);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		if (nm[0] != '.') {
			char *rel = NULL, *full;
			if (asprintf(&rel, "%s%s%s", sub, *sub ? "/" : "", nm) < 0)
				abort();
			full = pathf(dir, rel);
			struct stat st;
			if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
				tree_digest(dir, rel, acc, alen);
			} else {
				size_t l = 0;
				char *b = slurp(full, &l);
				size_t add = strlen(rel) + 1 + l;
				*acc = realloc(*acc, *alen + add + 1);
				if (!*acc)
					abort();
				memcpy(*acc + *alen, rel, strlen(rel) + 1);
				if (b)
					memcpy(*acc + *alen + strlen(rel) + 1, b, l);
				*alen += add;
				free(b);
			}
			free(full);
			free(rel);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

static char *mktmp(void)
{
	char *t = strdup("/tmp/sg-searchidx-XXXXXX");
	if (!t || !mkdtemp(t))
		abort();
	return t;
}

static void rm_rf(const char *dir)
{
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf '%s'", dir) < 0)
		abort();
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
	free(cmd);
}

static const char *const P[][5] = {
	{ "/billing/invoices/", "Getting to know your invoice", "Billing",
	  "Due dates\nLine items", "Each invoice lists line items. Pay before the due date." },
	{ "/billing/settlement/", "Settlement methods", "Billing",
	  "Card\nBank transfer", "We accept cards and bank transfers. Refunds take 5 days." },
	{ "/support/tickets/", "Submitting a \"support\" ticket", "Support",
	  "Priority", "Open a ticket from the dashboard.\x01 Renewals are billed yearly." },
	{ "/domains/renew/", "Renewing your domain", "Domains",
	  "TLS certificates", "Renewal happens thirty days before expiry; invoices follow." },
};

static sg_search *build(int reverse)
{
	sg_search *s = sg_search_new();
	size_t n = sizeof P / sizeof P[0];
	for (size_t k = 0; k < n; k++) {
		size_t i = reverse ? n - 1 - k : k;
		sg_search_add(s, P[i][0], P[i][1], P[i][2], P[i][3], P[i][4]);
	}
	return s;
}

static void test_small_index(void)
{
	char *d1 = mktmp(), *d2 = mktmp(), *err = NULL;
	sg_search *a = build(0), *b = build(1);
	CHECK(sg_search_write(a, d1, &err) == 0 && err == NULL);
	CHECK(sg_search_write(b, d2, &err) == 0 && err == NULL);

	CHECK(file_has(d1, "meta.json", "{\"format\":1,\"stemmer\":\"porter2\",\"pages\":4,\"page_chunk\":16,\"shards\":["));
	/* Page ids follow URL order: /billing/invoices/ 0, /billing/settlement/ 1,
	 * /domains/renew/ 2, /support/tickets/ 3. */
	CHECK(file_has(d1, "p/0.json", "[[\"/billing/invoices/\",\"Getting to know your invoice\",\"Billing\","));
	CHECK(file_has(d1, "p/0.json", "[\"/support/tickets/\",\"Submitting a \\\"support\\\" ticket\",\"Support\",\"Open a ticket from the dashboard. Renewals"));
	/* "invoic": title+body of page 0 (v = 1<<2|1 = 5), body of page 2 (4). */
	CHECK(file_has(d1, "t/i.json", "\"invoic\":[0,5,2,4]"));
	/* "renew": heading? no; title of page 2 (v=1|4=5), body of page 3 (4). */
	CHECK(file_has(d1, "t/r.json", "\"renew\":[2,5,1,4]"));
	CHECK(file_has(d1, "t/c.json", "\"certif\":[2,2]"));
	CHECK(!file_has(d1, "t/t.json", "\"the\""));

	/* Same pages, other order: byte-identical tree. */
	char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	tree_digest(d1, "", &x, &xl);
	tree_digest(d2, "", &y, &yl);
	CHECK(xl > 0 && xl == yl && !memcmp(x, y, xl));
	free(x);
	free(y);

	/* Rewrite unchanged: files untouched (same inode, no rename). */
	ino_t meta_i = inode(d1, "meta.json"), r_i = inode(d1, "t/r.json");
	sg_search *c = build(0);
	CHECK(sg_search_write(c, d1, &err) == 0);
	CHECK(inode(d1, "meta.json") == meta_i && inode(d1, "t/r.json") == r_i);

	/* Add a page: the shards it touches change, stale files go. */
	sg_search_add(c, "/billing/zz-overdue/", "Overdue invoices", "Billing", "", "Quartz xylophone.");
	CHECK(sg_search_write(c, d1, &err) == 0);
	CHECK(file_has(d1, "t/q.json", "\"quartz\":[2,4]"));
	/* ids shift: invoic is now in 0 (title+body), 2 (title), 3 (body). */
	CHECK(file_has(d1, "t/i.json", "\"invoic\":[0,5,2,1,1,4]"));
	CHECK(file_has(d1, "meta.json", "\"pages\":5,"));
	sg_search *e = sg_search_new();
	sg_search_add(e, "/only/", "Only", "", "", "zebra");
	CHECK(sg_search_write(e, d1, &err) == 0);
	CHECK(!file_exists(d1, "t/q.json") && file_exists(d1, "t/z.json"));
	CHECK(!file_exists(d1, "t/r.json"));

	/* Duplicate URL. */
	sg_search_add(e, "/only/", "Again", "", "", "");
	CHECK(sg_search_write(e, d1, &err) == -1 && err && strstr(err, "/only/"));
	free(err);
	err = NULL;

	/* Unwritable output directory. */
	sg_search *f = build(0);
	CHECK(sg_search_write(f, "/proc/sg-no-such-dir", &err) == -1 && err != NULL);
	free(err);

	sg_search_free(a);
	sg_search_free(b);
	sg_search_free(c);
	sg_search_free(e);
	sg_search_free(f);
	sg_search_free(NULL);
	rm_rf(d1);
	rm_rf(d2);
	free(d1);
	free(d2);
}

/* Deterministic pseudo-words; enough pages that shards must split. */
static unsigned rng = 12345;
static unsigned next(void) { return rng = rng * 1103515245u + 12345u; }

static void test_sharding(void)
{
	char *d = mktmp(), *err = NULL;
	sg_search *s = sg_search_new();
	static char text[20000];
	for (int pg = 0; pg < 600; pg++) {
		size_t n = 0;
		for (int w = 0; w < 300; w++) {
			int len = 3 + (int)(next() >> 16) % 6;
			text[n++] = 'q';
			for (int c = 1; c < len; c++)
				text[n++] = "aeioubcdfghklmnprst"[(next() >> 16) % 19];
			text[n++] = ' ';
		}
		text[n] = '\0';
		char url[32];
		snprintf(url, sizeof url, "/p/%04d/", pg);
		sg_search_add(s, url, "Page", "S", "", text);
	}
	CHECK(sg_search_write(s, d, &err) == 0);
	/* Everything starts with q: the "q" shard must have been split. */
	CHECK(!file_exists(d, "t/q.json"));
	CHECK(file_has(d, "meta.json", "\"qa\""));

	/* Every shard obeys SHARD_MAX (24000) unless it holds a single term, and
	 * every term sits in the shard of its longest listed prefix. */
	char *mp = pathf(d, "meta.json"), *meta = slurp(mp, NULL);
	free(mp);
	char *p = meta ? strstr(meta, "\"shards\":[") : NULL;
	if (p)
		p += strlen("\"shards\":"); /* at '[' */
	int shards = 0, big = 0, misplaced = 0;
	while (p && (p = strchr(p + 1, '"')) && p[1] != ']') {
		char key[32];
		char *q = strchr(p + 1, '"');
		if (!q || q - p - 1 >= (int)sizeof key)
			break;
		memcpy(key, p + 1, (size_t)(q - p - 1));
		key[q - p - 1] = '\0';
		p = q;
		shards++;
		char rel[64];
		snprintf(rel, sizeof rel, "t/%s.json", key);
		char *fp = pathf(d, rel);
		size_t len = 0;
		char *body = slurp(fp, &len);
		free(fp);
		if (!body) {
			fprintf(stderr, "shard %s: no file\n", key);
			misplaced++;
			continue;
		}
		int terms = 0;
		for (char *t = body; (t = strstr(t, "\":[")); t++)
			terms++;
		if (len > 24002 && terms > 1)
			big++;
		/* each term starts with key, and no longer key is its prefix */
		for (char *t = body + 1; *t == '"'; ) {
			char *te = strchr(t + 1, '"');
			size_t tl = (size_t)(te - t - 1);
			if (strncmp(t + 1, key, strlen(key))) {
				fprintf(stderr, "term %.*s in shard %s\n", (int)tl, t + 1, key);
				misplaced++;
			}
			for (size_t l = strlen(key) + 1; l <= tl && l <= 6; l++) {
				char longer[16];
				memcpy(longer, t + 1, l);
				longer[l] = '\0';
				char pat[24];
				snprintf(pat, sizeof pat, "\"%s\"", longer);
				if (strstr(meta, pat)) {
					fprintf(stderr, "term %.*s in shard %s, but %s exists\n", (int)tl, t + 1, key, longer);
					misplaced++;
				}
			}
			t = strchr(te, ']');
			t = t ? t + 2 : te;
			if (t[-1] != ',')
				break;
		}
		free(body);
	}
	CHECK(shards > 10);
	CHECK(big == 0);
	CHECK(misplaced == 0);
	free(meta);
	sg_search_free(s);
	rm_rf(d);
	free(d);
}

/* --- incremental: sg_search_load + keep/add + sg_search_write_kept -------- */

/* Text of generated page k in version v: pseudo-words, some shared. */
static void gen_text(char *text, int k, int v)
{
	unsigned r = (unsigned)(k * 7919 + v * 104729 + 1);
	size_t n = 0;
	for (int w = 0; w < 120; w++) {
		r = r * 1103515245u + 12345u;
		int len = 3 + (int)(r >> 16) % 5;
		for (int c = 0; c < len; c++) {
			r = r * 1103515245u + 12345u;
			text[n++] = "aeioubcdfghklmnprstw"[(r >> 16) % 20];
		}
		text[n++] = ' ';
	}
	text[n] = '\0';
}

static void gen_add(sg_search *s, int k, int v, const char *section)
{
	char url[32], title[32], text[2000];
	snprintf(url, sizeof url, "/p/%04d/", k);
	snprintf(title, sizeof title, "Page %d%s", k, v ? " revised" : "");
	gen_text(text, k, v);
	sg_search_add(s, url, title, section, "Heading", text);
}

/* Copies the kept files ("search/x") from the old index dir into stage, so
 * stage holds what the live index will hold after the build commits. */
static void apply_kept(const char *old, const char *stage, char **kept, size_t nk)
{
	for (size_t i = 0; i < nk; i++) {
		char *from = pathf(old, kept[i] + 7), *to = pathf(stage, kept[i] + 7);
		size_t len = 0;
		char *b = slurp(from, &len);
		FILE *f = fopen(to, "wb");
		CHECK(b && f && fwrite(b, 1, len, f) == len);
		if (f)
			fclose(f);
		free(b);
		free(from);
		free(to);
		free(kept[i]);
	}
	free(kept);
}

static int same_tree(const char *a, const char *b)
{
	char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	tree_digest(a, "", &x, &xl);
	tree_digest(b, "", &y, &yl);
	int same = xl > 0 && xl == yl && !memcmp(x, y, xl);
	free(x);
	free(y);
	return same;
}

/* One incremental step: load old, let `change` update it, write the changes
 * into a fresh stage, apply the kept files; compare with a from-scratch
 * index written by `fresh`.  Returns the number of files written. */
static size_t step(const char *old, const char *stage, const char *full,
                   void (*change)(sg_search *), void (*fresh)(sg_search *))
{
	char *err = NULL, **kept = NULL;
	size_t nk = 0;
	sg_search *l = sg_search_load(old, &err);
	CHECK(l != NULL && err == NULL);
	if (!l)
		return 0;
	change(l);
	CHECK(sg_search_write_kept(l, stage, &kept, &nk, &err) == 0 && err == NULL);
	sg_search_free(l);
	size_t files = 0;   /* written: files in the stage before kept ones join */
	for (int d = 0; d < 2; d++) {
		char *p = pathf(stage, d ? "p" : "t");
		struct dirent **ents;
		int n = scandir(p, &ents, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			files += ents[i]->d_name[0] != '.';
			free(ents[i]);
		}
		if (n >= 0)
			free(ents);
		free(p);
	}
	files += file_exists(stage, "meta.json");
	apply_kept(old, stage, kept, nk);
	sg_search *f = sg_search_new();
	fresh(f);
	CHECK(sg_search_write(f, full, &err) == 0);
	sg_search_free(f);
	CHECK(same_tree(stage, full));
	return files;
}

static void v0(sg_search *s)
{
	for (int k = 0; k < 200; k++)
		gen_add(s, k, 0, "S");
}

/* Edit: page 57's text, page 58's title (both re-added); page 60's
 * section retitled (kept with the new section); the rest kept. */
static void edit_change(sg_search *s)
{
	for (int k = 0; k < 200; k++) {
		char url[32];
		snprintf(url, sizeof url, "/p/%04d/", k);
		if (k == 57 || k == 58) {
			gen_add(s, k, k == 57 ? 1 : 0, "S");
			continue;
		}
		char title[32];
		snprintf(title, sizeof title, "Page %d", k);
		CHECK(sg_search_keep(s, url, title, k == 60 ? "S2" : "S") == 0);
	}
	CHECK(sg_search_keep(s, "/nowhere/", "x", "y") == -1);
}

static void edit_fresh(sg_search *s)
{
	for (int k = 0; k < 200; k++) {
		if (k == 58) {
			char text[2000];
			gen_text(text, k, 0);
			sg_search_add(s, "/p/0058/", "Page 58", "S", "Heading", text);
			continue;
		}
		gen_add(s, k, k == 57, k == 60 ? "S2" : "S");
	}
}

static void nothing_change(sg_search *s)
{
	for (int k = 0; k < 200; k++) {
		char url[32], title[32];
		snprintf(url, sizeof url, "/p/%04d/", k);
		snprintf(title, sizeof title, "Page %d", k);
		CHECK(sg_search_keep(s, url, title, "S") == 0);
	}
}

static void shift_change(sg_search *s)
{
	for (int k = 0; k < 200; k++) {
		char url[32], title[32];
		snprintf(url, sizeof url, "/p/%04d/", k);
		snprintf(title, sizeof title, "Page %d", k);
		if (k != 10)
			CHECK(sg_search_keep(s, url, title, "S") == 0);
	}
	sg_search_add(s, "/p/0005a/", "Inserted", "S", "", "zyzzyva quokka");
}

static void shift_fresh(sg_search *s)
{
	for (int k = 0; k < 200; k++)
		if (k != 10)
			gen_add(s, k, 0, "S");
	sg_search_add(s, "/p/0005a/", "Inserted", "S", "", "zyzzyva quokka");
}

static void test_incremental_load(void)
{
	char *old = mktmp(), *err = NULL;
	sg_search *a = sg_search_new();
	v0(a);
	CHECK(sg_search_write(a, old, &err) == 0);
	sg_search_free(a);

	/* Nothing changed: every file kept, none written. */
	char *st = mktmp(), *full = mktmp();
	CHECK(step(old, st, full, nothing_change, v0) == 0);
	rm_rf(st), rm_rf(full), free(st), free(full);

	/* An edit writes only the shards and chunks it touches. */
	st = mktmp(), full = mktmp();
	size_t w = step(old, st, full, edit_change, edit_fresh);
	CHECK(w > 0 && w < 40);   /* of ~150 files: meta, 2 chunks, some shards */
	rm_rf(st), rm_rf(full), free(st), free(full);

	/* A deletion (page 10 not kept) and an insertion move page ids. */
	st = mktmp(), full = mktmp();
	CHECK(step(old, st, full, shift_change, shift_fresh) > 0);
	rm_rf(st), rm_rf(full), free(st), free(full);

	/* Postings naming a page the loaded index does not have (or values
	 * past a posting's 10 bits) fail the write when ids move: decoded,
	 * they would index past the page table. */
	for (int bad = 0; bad < 2; bad++) {
		char *cp = mktmp(), *cmd = NULL;
		sg_search *w0 = sg_search_new();
		v0(w0);
		CHECK(sg_search_write(w0, cp, &err) == 0);
		sg_search_free(w0);
		/* The first shard's first posting array gets a bad posting first. */
		CHECK(asprintf(&cmd, "f=$(find '%s' -path '*/t/*' -type f -name '*.json' | sort | head -n 1) && "
		               "grep -q ':\\[' \"$f\" && sed -i 's/:\\[/:[%s/' \"$f\"", cp,
		               bad ? "0,5000," : "999999,4,") > 0);
		int done = system(cmd) == 0;
		free(cmd);
		CHECK(done);
		sg_search *l = sg_search_load(cp, &err);
		CHECK(l != NULL);
		if (l) {
			shift_change(l);
			char **kept = NULL;
			size_t nk = 0;
			char *st2 = mktmp();
			CHECK(sg_search_write_kept(l, st2, &kept, &nk, &err) != 0 && err != NULL);
			free(err);
			err = NULL;
			free(kept);
			sg_search_free(l);
			rm_rf(st2), free(st2);
		}
		rm_rf(cp), free(cp);
	}

	/* No index: NULL without error.  A damaged one: NULL with an error. */
	char *none = mktmp();
	CHECK(sg_search_load(none, &err) == NULL && err == NULL);
	char *p = pathf(old, "p/0.json");
	FILE *f = fopen(p, "wb");
	CHECK(f && fputs("[[\"/p/0000/\",\"oops\"", f) >= 0);
	if (f)
		fclose(f);
	free(p);
	CHECK(sg_search_load(old, &err) == NULL && err != NULL);
	free(err);
	rm_rf(none), free(none);
	rm_rf(old), free(old);
}

static void print_term(const char *t, size_t n, void *ctx)
{
	(void)ctx;
	printf("%.*s\n", (int)n, t);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--tokenize")) {
		size_t len = 0;
		char *in = slurp("/dev/stdin", &len);
		if (!in)
			return 2;
		sg_search_tokenize(in, print_term, NULL);
		free(in);
		return 0;
	}
	test_stemmer();
	test_tokenizer();
	test_small_index();
	test_sharding();
	test_incremental_load();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
