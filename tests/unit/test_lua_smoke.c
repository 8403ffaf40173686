/*
 * test_lua_smoke.c — runs the Lua smoke scripts with lua5.4 against the built
 * imhost_core.so: the binding's contract as the glue sees it (docs/core-api.md).
 *
 *   binding_smoke.lua          open, log, call, submit/drain, tokens, status, close
 *   billing_binding_smoke.lua  webhook and link signatures
 *   logpath_smoke.lua          the logging hooks' hot path (imhost_logpath.lib.lua)
 *
 * The .so is built by `make module` (`make unit` does it first); this test looks
 * for it at $IMHOST_CORE_SO or build/plugins/imhost_core.so and is SKIPPED (not
 * passed) when it, lua5.4 or a script's other needs are missing.
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

/* Runs tests/unit/<script> with the .so and extra (may be ""), when every file
 * in needs (NULL-terminated) is readable. */
static void run_smoke(const char *script, const char *extra, const char *const *needs)
{
	const char *so = getenv("IMHOST_CORE_SO") ? getenv("IMHOST_CORE_SO") : "build/plugins/imhost_core.so";
	char path[256], cmd[1024];
	int st;

	snprintf(path, sizeof path, "tests/unit/%s", script);
	for (; needs && *needs; needs++)
		if (access(*needs, R_OK) != 0) {
			print_message("%s: %s missing\n", script, *needs);
			skip();
		}
	if (access(so, R_OK) != 0 || access(path, R_OK) != 0 ||
	    system("command -v lua5.4 >/dev/null 2>&1") != 0) {
		print_message("%s: %s or lua5.4 missing (run `make module` from the repo root)\n", script, so);
		skip();
	}
	/* The interpreter is not built with ASan: keep the sanitizer runtime out. */
	if (snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD lua5.4 %s '%s' %s", path, so, extra) >= (int)sizeof cmd)
		fail_msg("command too long");
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_binding_contract(void **state)
{
	(void)state;
	run_smoke("binding_smoke.lua", "", NULL);
}

static void test_billing_signatures(void **state)
{
	(void)state;
	run_smoke("billing_binding_smoke.lua", "", NULL);
}

static void test_logging_hot_path(void **state)
{
	static const char *const needs[] = { "/usr/lib/prosody/util/stanza.lua", NULL };

	(void)state;
	run_smoke("logpath_smoke.lua", "module/imhost_logpath.lib.lua", needs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_contract),
		cmocka_unit_test(test_billing_signatures),
		cmocka_unit_test(test_logging_hot_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
