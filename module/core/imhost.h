/*
 * imhost.h — the C core's public header: everything the Lua binding, the tests
 * and the benches use, in one place.
 *
 * Components (each header says who owns what):
 *   clock.h      im_now / im_clock_set: the one injectable clock
 *   tz.h         IANA zones: local time <-> UTC
 *   store.h      opening and migrating the database
 *   logwriter.h  the log hot path: bounded queue + writer thread
 *   logmaint.h   erasure, retention, export
 *   params.h     parameter declarations, coercion, errors
 *   registry.h   operations, permissions, the call path, tokens
 *   logsearch.h  logs.search;  trends.h  logs.trends
 *   workers.h    thread pool + completion eventfd
 *   render.h     text renderings;  sha256.h
 *   scram.h      SCRAM-SHA-1 password checks (libcrypto), run as worker tasks
 * Return codes: imhost_err.h.
 */
#ifndef IMHOST_H
#define IMHOST_H

#define IMHOST_VERSION "0.1.0"

#include "imhost_err.h"
#include "clock.h"
#include "tz.h"
#include "sha256.h"
#include "store.h"
#include "logwriter.h"
#include "logmaint.h"
#include "params.h"
#include "registry.h"
#include "logsearch.h"
#include "trends.h"
#include "workers.h"
#include "scram.h"
#include "render.h"
#include "accounts.h"
#include "reminders.h"

#endif
