/* harness_http.c — a tiny HTTP/1.1 client for the loopback server.
 * One request per connection ("Connection: close"), so the response ends at
 * EOF; Content-Length and chunked bodies are both understood. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_TIMEOUT_MS 20000
#define HTTP_MAX (64u << 20)	/* refuse absurd responses */

static int send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until EOF; NUL-terminates.  -1 on error/timeout/oversize. */
static int recv_all(int fd, char **out, size_t *outlen)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap), *nb;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t r;

	if (buf == NULL)
		return -1;
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= HTTP_MAX || (nb = realloc(buf, cap * 2)) == NULL)
				goto fail;
			buf = nb;
			cap *= 2;
		}
		if (poll(&pfd, 1, HTTP_TIMEOUT_MS) <= 0)
			goto fail;
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	free(buf);
	return -1;
}

/* Decodes a chunked body in place; returns the new length. */
static size_t dechunk(char *b, size_t len)
{
	size_t in = 0, out = 0, n;
	char *end;

	while (in < len) {
		n = strtoul(b + in, &end, 16);
		if (end == b + in)
			break;
		in = (size_t)(end - b);
		end = strstr(b + in, "\r\n");
		if (end == NULL || n == 0)
			break;
		in = (size_t)(end - b) + 2;
		if (n > len - in)
			n = len - in;
		memmove(b + out, b + in, n);
		out += n;
		in += n + 2;
	}
	b[out] = '\0';
	return out;
}

int h_http(const char *method, const char *path, const char *host,
	   const char *const *headers, const char *body, h_http_response *out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char *req = NULL, *raw = NULL, *hdr_end, *p;
	size_t rawlen = 0, reqlen = 0, blen = body ? strlen(body) : 0;
	FILE *m;
	int fd = -1, rc = -1;

	memset(out, 0, sizeof *out);
	sa.sin_port = htons((unsigned short)atoi(h_env("ENV_HTTP_PORT")));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	m = open_memstream(&req, &reqlen);
	if (m == NULL)
		return -1;
	fprintf(m, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, host);
	for (; headers && *headers; headers++)
		fprintf(m, "%s\r\n", *headers);
	if (body)
		fprintf(m, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
	fputs("\r\n", m);
	if (body)
		fwrite(body, 1, blen, m);
	if (fclose(m) != 0)
		goto out;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		goto out;
	if (send_all(fd, req, reqlen) != 0 || recv_all(fd, &raw, &rawlen) != 0)
		goto out;
	if (sscanf(raw, "HTTP/1.%*d %d", &out->status) != 1)
		goto out;
	hdr_end = strstr(raw, "\r\n\r\n");
	if (hdr_end == NULL)
		goto out;
	*hdr_end = '\0';
	p = hdr_end + 4;
	out->len = rawlen - (size_t)(p - raw);
	/* header names are case-insensitive; the headers end at hdr_end (now NUL) */
	for (char *h = strstr(raw, "\r\n"); h; h = strstr(h + 2, "\r\n")) {
		char *eol = strstr(h + 2, "\r\n"), *v = h + 2 + 18;

		if (strncasecmp(h + 2, "Transfer-Encoding:", 18) != 0)
			continue;
		if (eol)
			*eol = '\0';
		if (strstr(v, "chunked"))
			out->len = dechunk(p, out->len);
		if (eol)
			*eol = '\r';
		break;
	}
	out->body = malloc(out->len + 1);
	out->headers = strdup(strstr(raw, "\r\n") ? strstr(raw, "\r\n") + 2 : "");
	if (out->body == NULL || out->headers == NULL)
		goto out;
	memcpy(out->body, p, out->len);
	out->body[out->len] = '\0';
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(req);
	free(raw);
	if (rc != 0) {
		free(out->body);
		free(out->headers);
		memset(out, 0, sizeof *out);
	}
	return rc;
}

void h_http_clear(h_http_response *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof *r);
}

char *h_http_header(const h_http_response *r, const char *name)
{
	size_t n = strlen(name);
	const char *line = r->headers;

	while (line && *line) {
		const char *eol = strstr(line, "\r\n");
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		if (len > n && line[n] == ':' && strncasecmp(line, name, n) == 0) {
			const char *v = line + n + 1, *end = line + len;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return strndup(v, (size_t)(end - v));
		}
		line = eol ? eol + 2 : NULL;
	}
	return NULL;
}

static char *base64(const unsigned char *in, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = tab[in[i] >> 2];
		*o++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*o++ = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*o++ = tab[in[i + 2] & 63];
	}
	if (i < n) {
		*o++ = tab[in[i] >> 2];
		if (i + 1 < n) {
			*o++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
			*o++ = tab[(in[i + 1] & 15) << 2];
		} else {
			*o++ = tab[(in[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

char *h_basic_auth(const char *user, const char *pass)
{
	char *plain = NULL, *b64, *out = NULL;
	int n = asprintf(&plain, "%s:%s", user, pass);

	if (n < 0)
		return NULL;
	b64 = base64((const unsigned char *)plain, (size_t)n);
	free(plain);
	if (b64 == NULL || asprintf(&out, "Authorization: Basic %s", b64) < 0)
		out = NULL;
	free(b64);
	return out;
}

char *h_urlencode(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
			*o++ = (char)ch;
		else
			o += sprintf(o, "%%%02X", ch);
	}
	*o = '\0';
	return out;
}
