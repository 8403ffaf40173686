/*
 * test_logpath.c — runs tests/unit/logpath_smoke.lua with lua5.4: the logging
 * hooks' hot path (module/imhost_logpath.lib.lua's scan() against the code it
 * replaced, db:log_message_args against db:log_message{...}).
 *
 * Needs build/plugins/imhost_core.so (`make module`; $IMHOST_CORE_SO overrides),
 * lua5.4 and Prosody's util/stanza.lua; SKIPPED (not passed) without them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static void test_logpath_smoke(void **state)
{
	const char *so = getenv("IMHOST_CORE_SO") ? getenv("IMHOST_CORE_SO") : "build/plugins/imhost_core.so";
	char cmd[512];
	int st;

	(void)state;
	if (access(so, R_OK) != 0 || access("tests/unit/logpath_smoke.lua", R_OK) != 0 ||
	    access("/usr/lib/prosody/util/stanza.lua", R_OK) != 0 ||
	    system("command -v lua5.4 >/dev/null 2>&1") != 0) {
		print_message("logpath: %s, lua5.4 or Prosody's util/stanza.lua missing\n", so);
		skip();
	}
	/* The interpreter is not built with ASan: keep the sanitizer runtime out. */
	if (snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD lua5.4 tests/unit/logpath_smoke.lua '%s' "
	             "module/imhost_logpath.lib.lua", so) >= (int)sizeof cmd)
		fail_msg("command too long");
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logpath_smoke),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
