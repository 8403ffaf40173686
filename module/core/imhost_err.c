/*
 * imhost_err.c — the one way the core hands an error message to its caller.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "imhost_err.h"

void im_set_errf(char **err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*err);
	*err = s;
}
