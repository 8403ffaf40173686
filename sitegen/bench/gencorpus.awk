# gencorpus.awk — deterministic help-site corpus as a `git fast-import` stream.
# 10,000 articles (~3.5 KB) in 200 sections, added 5 per commit (2,000
# commits), then 1,000 one-article edit commits; two authors, fixed dates.
# Usage: awk -v ARTICLES=10000 -v SECTIONS=200 -f gencorpus.awk | git fast-import
# Own Park-Miller generator: identical output under mawk and gawk.
function rnd(n) { seed = (seed * 16807) % 2147483647; return seed % n }
function word() { r = rnd(1000); return r < 600 ? W[1 + rnd(60)] : r < 900 ? W[61 + rnd(NW - 60)] : syl[1 + rnd(NS)] syl[1 + rnd(NS)] syl[1 + rnd(NS)] }
function sentence(n,   s, i) { s = word(); s = toupper(substr(s, 1, 1)) substr(s, 2); for (i = 1; i < n; i++) s = s " " word(); return s "." }
function para(   p, i, n) { n = 5 + rnd(3); p = ""; for (i = 0; i < n; i++) p = p (i ? " " : "") sentence(8 + rnd(10)); return p }
function sec(i) { return sprintf("sec-%03d", i) }
function art(a) { return sprintf("%s/art-%05d.md", sec(a % SECTIONS), a) }
function article(a, ver,   t, s, k, other) {
	seed = a * 7919 + 17
	t = "---\ntitle: \"Article " a ": " word() " " word() "\"\ndescription: \"" sentence(10) "\"\nweight: " rnd(100) "\ntags: [\"" W[1 + rnd(20)] "\", \"" W[21 + rnd(20)] "\"]\n---\n\n"
	t = t para() "\n\n"
	for (k = 1; k <= 4; k++) {
		t = t "## " word() " " word() " " k "\n\n" para() "\n\n"
		if (k == 2) t = t "- " sentence(6) "\n- " sentence(6) "\n- " sentence(6) "\n\n| Plan | Price | Notes |\n|---|---|---|\n| " word() " | " rnd(100) " EUR | " word() " |\n| " word() " | " rnd(100) " EUR | " word() " |\n\n"
		if (k == 3) { other = rnd(ARTICLES); if (other >= a) other = a > 0 ? rnd(a) : -1
			if (other >= 0) t = t "See [a related article](../" art(other) ") and [" word() "](https://example.org/" word() ").\n\n" }
	}
	if (ver > 0) t = t "> [!NOTE]\n> Revision " ver ": " sentence(12) "\n"
	return t
}
function blob(path, text) { printf "M 100644 inline %s\ndata %d\n%s\n", path, length(text), text }
function commit(msg,   au) {
	au = (ncommit % 3 == 0) ? "Bea Editor <bea@example.org>" : "Al Author <al@example.org>"
	ncommit++
	printf "commit refs/heads/main\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\ndata %d\n%s\n", ncommit, au, T0 + ncommit * 600, au, T0 + ncommit * 600, length(msg), msg
	if (ncommit > 1) printf "from :%d\n", ncommit - 1
}
BEGIN {
	if (!ARTICLES) ARTICLES = 10000; if (!SECTIONS) SECTIONS = 200; if (!EDITS) EDITS = 1000
	T0 = 1700000000
	NW = split("invoice billing domain renew account support ticket payment settlement service user channel log dashboard certificate customer plan price tax refund card bank transfer due date statement history download overdue reminder contact email phone address update method cycle monthly yearly period balance credit debit receipt order quote contract renewal expiry registrar dns record server host message chat room member admin role access password security login session report export limit quota storage backup restore migration upgrade downgrade cancel trial discount coupon currency euro dollar amount total subtotal line item description quantity unit vat reverse charge company name number reference bill provider network federation client mobile desktop web app notification push archive search filter sort page view list detail status open closed pending resolved priority urgent normal low escalate agent reply attachment file upload size format pdf csv json", W, " ")
	NS = split("ka lo mi ne su ta ri po ve ba du fe gi ho ju", syl, " ")
	commit("Site skeleton")
	blob("sitegen.yaml", "title: Bench help center\nbase_url: https://help.example.org/\n")
	blob("content/_index.md", "---\ntitle: Bench help center\n---\n\nWelcome.\n")
	for (s = 0; s < SECTIONS; s++) blob("content/" sec(s) "/_index.md", "---\ntitle: \"Section " s "\"\nweight: " s "\n---\n\nArticles of section " s ".\n")
	for (a = 0; a < ARTICLES; a += 5) {
		commit("Add articles " a "-" (a + 4))
		for (b = a; b < a + 5 && b < ARTICLES; b++) blob("content/" art(b), article(b, 0))
	}
	for (e = 1; e <= EDITS; e++) {
		x = (e * 7907) % ARTICLES
		commit("Edit article " x)
		blob("content/" art(x), article(x, e))
	}
}
