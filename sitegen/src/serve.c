/* serve.c — see serve.h.  One thread, one connection at a time: a preview
 * for one editor, not a web server.  Only GET/HEAD of files inside the
 * output folder; paths with ".." or NUL are refused. */
#include "serve.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

/* Hash of (path, size, mtime) of every file under dir, skipping .git and
 * the output and staging folders. */
static uint64_t tree_sig(const char *dir, const char *skip, uint64_t h)
{
	DIR *d = opendir(dir);
	if (!d) return h;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "node_modules")) continue;
		char *p = sg_path_join(dir, e->d_name);
		struct stat st;
		if (strncmp(p, skip, strlen(skip)) != 0 && lstat(p, &st) == 0) {
			h = sg_hash_str(h, p);
			h = sg_hash(h, &st.st_size, sizeof st.st_size);
			h = sg_hash(h, &st.st_mtim, sizeof st.st_mtim);
			if (S_ISDIR(st.st_mode)) h = tree_sig(p, skip, h);
		}
		free(p);
	}
	closedir(d);
	return h;
}

static const char *mime(const char *path)
{
	static const char *const map[][2] = {
		{ ".html", "text/html; charset=utf-8" }, { ".css", "text/css" },
		{ ".js", "text/javascript" }, { ".json", "application/json" },
		{ ".xml", "application/xml" }, { ".txt", "text/plain; charset=utf-8" },
		{ ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".svg", "image/svg+xml" },
		{ ".webp", "image/webp" }, { ".gif", "image/gif" } };
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (sg_ends_with(path, map[i][0])) return map[i][1];
	return "application/octet-stream";
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0) { if (w < 0 && errno == EINTR) continue; return; }
		p += w, n -= (size_t)w;
	}
}

static void respond(int fd, int code, const char *type, const char *body, size_t len, int head)
{
	char hdr[256];
	const char *msg = code == 200 ? "OK" : code == 404 ? "Not Found" : code == 405 ? "Method Not Allowed" : "Bad Request";
	int n = snprintf(hdr, sizeof hdr, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Cache-Control: no-store\r\nConnection: close\r\n\r\n", code, msg, type, len);
	send_all(fd, hdr, (size_t)n);
	if (!head) send_all(fd, body, len);
}

static void handle(int fd, const char *out, const char *base)
{
	char req[4096];
	size_t n = 0;
	struct pollfd pfd = { fd, POLLIN, 0 };
	while (n < sizeof req - 1 && poll(&pfd, 1, 2000) > 0) {
		ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
		if (r <= 0) break;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n")) break;
	}
	req[n] = '\0';
	char method[8], target[2048];
	if (sscanf(req, "%7s %2047s", method, target) != 2) { respond(fd, 400, "text/plain", "bad request\n", 12, 0); return; }
	int head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET")) { respond(fd, 405, "text/plain", "GET only\n", 9, 0); return; }
	target[strcspn(target, "?#")] = '\0';
	/* Decode %XX; refuse anything that could leave the output folder. */
	char path[2048];
	size_t k = 0;
	for (const char *p = target; *p && k < sizeof path - 1; p++) {
		unsigned v;
		if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1) { path[k++] = (char)v; p += 2; }
		else path[k++] = *p;
	}
	path[k] = '\0';
	size_t bl = strlen(base);
	const char *rel = !strncmp(path, base, bl) ? path + bl : (!strcmp(path, "/") || bl <= 1) ? path : NULL;
	if (!rel || strstr(path, "..") || memchr(path, '\0', k)) rel = NULL;
	char *file = NULL, *data = NULL;
	size_t len = 0;
	if (rel) {
		while (*rel == '/') rel++;
		file = sg_path_join(out, rel);
		struct stat st;
		if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
			char *f2 = sg_path_join(file, "index.html");
			free(file);
			file = f2;
		}
	}
	if (file && sg_read_file(file, &data, &len) == 0) {
		respond(fd, 200, mime(file), data, len, head);
	} else {
		char *nf = sg_path_join(out, "404.html");
		if (sg_read_file(nf, &data, &len) == 0) respond(fd, 404, "text/html; charset=utf-8", data, len, head);
		else respond(fd, 404, "text/plain", "not found\n", 10, head);
		free(nf);
	}
	free(data);
	free(file);
}

static int rebuild(const sg_build_opts *o)
{
	sg_build_stats st;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int code = sg_build(o, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (code == 0) fprintf(stderr, "sitegen serve: built %zu pages (%zu rendered) in %.0f ms\n", st.pages, st.rendered, ms);
	else fprintf(stderr, "sitegen serve: build failed (exit %d); still serving the previous output\n", code);
	return code;
}

int sg_serve(const sg_build_opts *o, int port, int max_seconds)
{
	const char *out = o->out ? o->out : "_site";
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) { perror("sitegen serve: socket"); return SG_EXIT_IO; }
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);   /* loopback only, by design */
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0) {
		fprintf(stderr, "sitegen serve: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
		close(fd);
		return SG_EXIT_IO;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	char *skip = sg_path_join(o->repo ? o->repo : ".", out);
	/* Output paths given relative to the cwd and the repo may differ; also
	 * skip the plain name so a relative out dir is never watched. */
	uint64_t sig = tree_sig(o->repo ? o->repo : ".", out[0] == '/' ? out : skip, SG_HASH_SEED);
	rebuild(o);
	sg_build_opts ob = *o;
	/* main.c builds a served site for http://127.0.0.1:PORT/ unless told
	 * otherwise; requests are matched against that path prefix. */
	char *base = NULL;
	if (o->base_url && o->base_url[0] == '/') base = sg_xstrdup(o->base_url);
	else if (o->base_url && strstr(o->base_url, "://") && strchr(strstr(o->base_url, "://") + 3, '/'))
		base = sg_xstrdup(strchr(strstr(o->base_url, "://") + 3, '/'));
	else base = sg_xstrdup("/");
	fprintf(stderr, "sitegen serve: http://127.0.0.1:%d%s (Ctrl-C to stop)\n", port, base);
	time_t start = time(NULL), last = start;
	while (!stop && (max_seconds <= 0 || time(NULL) - start < max_seconds)) {
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, 250);
		if (r > 0) {
			int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) { handle(c, out, base); close(c); }
		}
		if (time(NULL) != last) {
			last = time(NULL);
			uint64_t now = tree_sig(o->repo ? o->repo : ".", out[0] == '/' ? out : skip, SG_HASH_SEED);
			if (now != sig) { sig = now; rebuild(&ob); }
		}
	}
	free(base);
	free(skip);
	close(fd);
	return SG_EXIT_OK;
}
