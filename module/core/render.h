/*
 * render.h — human renderings of operation results.
 */
#ifndef IMHOST_RENDER_H
#define IMHOST_RENDER_H

#include <jansson.h>

/* Plain text for chat and the CLI from op's result (or error) JSON text.
 * Malloc'd, caller frees; NULL only when out of memory. */
char *im_format_text(const char *op, const char *json);

#endif
