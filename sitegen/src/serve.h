/* serve.h — `sitegen serve`: a local preview.  Builds the working tree,
 * serves the output over HTTP on 127.0.0.1 only, and rebuilds (incrementally)
 * when a file under the repository changes (mtime polling once a second). */
#ifndef SG_SERVE_H
#define SG_SERVE_H

#include "build.h"

/* Runs until interrupted (or for max_seconds when > 0, for tests).
 * Returns an exit code. */
int sg_serve(const sg_build_opts *o, int port, int max_seconds);

#endif
