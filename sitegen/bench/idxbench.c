/* idxbench.c — times sitegen's search index writer alone on a corpus.
 * Reads Markdown file paths (relative to the content root) on stdin; title
 * from front matter, "#" lines as headings, the rest as text (markup left
 * in: a rough stand-in for the renderer's plain text).
 * Usage: idxbench CONTENT_DIR OUT_DIR < list */
#include "../src/searchidx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fputs("usage: idxbench CONTENT_DIR OUT_DIR < list\n", stderr);
		return 2;
	}
	sg_search *s = sg_search_new();
	char rel[4096], path[8192], line[65536];
	size_t pages = 0;
	double t0 = now();
	while (fgets(rel, sizeof rel, stdin)) {
		rel[strcspn(rel, "\n")] = '\0';
		snprintf(path, sizeof path, "%s/%s", argv[1], rel);
		FILE *f = fopen(path, "r");
		if (!f) {
			perror(path);
			return 1;
		}
		size_t hl = 0, tl = 0, hc = 4096, tc = 8192;
		char *head = calloc(1, hc), *text = calloc(1, tc), title[512] = "";
		int fm = 0;
		if (!head || !text)
			return 1;
		while (fgets(line, sizeof line, f)) {
			size_t n = strlen(line);
			if (!strcmp(line, "---\n")) {
				fm++;
				continue;
			}
			if (fm == 1) {
				if (!strncmp(line, "title: ", 7))
					snprintf(title, sizeof title, "%.*s", (int)(n - 8), line + 7);
				continue;
			}
			char **dst = line[0] == '#' ? &head : &text;
			size_t *dl = line[0] == '#' ? &hl : &tl, *dc = line[0] == '#' ? &hc : &tc;
			while (*dl + n + 1 > *dc) {
				*dc *= 2;
				*dst = realloc(*dst, *dc);
				if (!*dst)
					return 1;
			}
			memcpy(*dst + *dl, line, n + 1);
			*dl += n;
		}
		fclose(f);
		char url[4200];
		size_t rl = strlen(rel);
		snprintf(url, sizeof url, "/%.*s/", (int)(rl > 3 ? rl - 3 : rl), rel);
		sg_search_add(s, url, title, "Section", head, text);
		free(head);
		free(text);
		pages++;
	}
	double t1 = now();
	char *err = NULL;
	if (sg_search_write(s, argv[2], &err)) {
		fprintf(stderr, "idxbench: %s\n", err);
		free(err);
		return 1;
	}
	double t2 = now();
	printf("search index: %zu pages, add %.3f s, write %.3f s\n", pages, t1 - t0, t2 - t1);
	sg_search_free(s);
	return 0;
}
