/*
 * desk_sgtok.c — compiles sitegen's search-index text pipeline into the core.
 *
 * The desk must tokenize and stem exactly as the index writer did
 * (docs/search-index.md), so it uses the writer's own code rather than a
 * copy: sg_search_tokenize() and sg_stem() from sitegen/src/searchidx.c.
 * Including the file here keeps the core's Makefile rule (every
 * module/core .c file) unchanged; the writer half of searchidx.c comes along
 * unused.  If the build grows a proper shared object list, replace this file
 * with that.
 */
#include "../../sitegen/src/searchidx.c"
