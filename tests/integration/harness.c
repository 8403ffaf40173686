/* harness.c — checks, JSON, and driving the environment from a test.
 * The XMPP side is in harness_xmpp.c, HTTP in harness_http.c. */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed, failed;

int h_check(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passed++;
		fputs("ok   - ", stdout);
	} else {
		failed++;
		printf("FAIL - %s:%d: ", file, line);
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return ok;
}

void h_note(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

int h_finish(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	fflush(stdout);
	return failed == 0 && passed > 0 ? 0 : 1;
}

json_t *h_json(const char *text)
{
	json_error_t e;
	json_t *j;

	if (text == NULL)
		return NULL;
	j = json_loads(text, JSON_DECODE_ANY, &e);
	if (j == NULL)
		h_note("invalid JSON (%s at %d): %.200s", e.text, e.position, text);
	return j;
}

const char *h_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr, "harness: %s is not set; run me through tests/integration/run.sh\n",
			name);
		exit(2);
	}
	return v;
}

/* Reads all of fd into a NUL-terminated heap buffer. */
static char *slurp(FILE *f)
{
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap), *nb;

	if (buf == NULL)
		return NULL;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	return buf;
}

char *h_run(int *status, char **err, const char *fmt, ...)
{
	char cmd[8192], errfile[] = "/tmp/h_run_err.XXXXXX", *full = NULL, *out;
	va_list ap;
	FILE *p;
	int fd, rc;

	*status = -1;
	if (err != NULL)
		*err = NULL;
	va_start(ap, fmt);
	rc = vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (rc < 0 || (size_t)rc >= sizeof cmd)
		return NULL;
	fd = mkstemp(errfile);
	if (fd < 0)
		return NULL;
	close(fd);
	if (asprintf(&full, "( %s ) 2>%s", cmd, errfile) < 0) {
		unlink(errfile);
		return NULL;
	}
	fflush(NULL);
	p = popen(full, "r");
	free(full);
	if (p == NULL) {
		unlink(errfile);
		return NULL;
	}
	out = slurp(p);
	rc = pclose(p);
	*status = (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
	if (err != NULL) {
		FILE *e = fopen(errfile, "r");

		if (e != NULL) {
			*err = slurp(e);
			fclose(e);
		}
	}
	unlink(errfile);
	return out;
}

int h_envctl(const char *fmt, ...)
{
	char args[2048], cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	if (rc < 0 || (size_t)rc >= sizeof args)
		return -1;
	rc = snprintf(cmd, sizeof cmd, "sh %s/tests/integration/envctl.sh %s",
		      h_env("IMHOST_REPO"), args);
	if (rc < 0 || (size_t)rc >= sizeof cmd)
		return -1;
	fflush(NULL);
	rc = system(cmd);
	return (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
}
