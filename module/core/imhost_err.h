/*
 * imhost_err.h — return codes shared by every part of the C core.
 *
 * Functions return IM_OK (0) on success and one of the negative codes below on
 * failure; where a message is useful it comes back through a char **err that the
 * caller frees.
 */
#ifndef IMHOST_ERR_H
#define IMHOST_ERR_H

#define IM_OK        0
#define IM_ERR      -1   /* internal / database error */
#define IM_EFULL    -2   /* bounded queue full: entry dropped and counted */
#define IM_EINVAL   -3   /* input refused */
#define IM_ENOTFOUND -4
#define IM_EBUSY    -5   /* resource locked or in use */

/* Replaces *err (freeing the old message) with a malloc'd printf-style message;
 * does nothing when err is NULL.  *err is NULL afterwards only when out of
 * memory: callers treat that as "no message". */
void im_set_errf(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
