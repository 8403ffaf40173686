/*
 * test_billing_binding.c — runs tests/unit/billing_binding_smoke.lua with lua5.4 against the
 * built imhost_core.so (webhook and link signatures as the glue sees them).
 *
 * The .so is built by `make module`; this test looks for it at
 * $IMHOST_CORE_SO or build/plugins/imhost_core.so and is SKIPPED (not passed)
 * when it is missing or lua5.4 is not installed.
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

static void test_lua_smoke(void **state)
{
	const char *so = getenv("IMHOST_CORE_SO") ? getenv("IMHOST_CORE_SO") : "build/plugins/imhost_core.so";
	char cmd[512];
	int st;

	(void)state;
	if (access(so, R_OK) != 0 || access("tests/unit/billing_binding_smoke.lua", R_OK) != 0 ||
	    system("command -v lua5.4 >/dev/null 2>&1") != 0) {
		print_message("binding: %s or lua5.4 missing (run `make module` from the repo root)\n", so);
		skip();
	}
	/* The interpreter is not built with ASan: keep the sanitizer runtime out. */
	snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD lua5.4 tests/unit/billing_binding_smoke.lua '%s'", so);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lua_smoke),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
