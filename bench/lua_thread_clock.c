/* lua_thread_clock — the CPU time of the calling thread, for Lua (benchmarks
 * only: bench/mod_bench_looplag.lua loads it beside itself).
 *
 *   local clock = package.loadlib(dir .. "/bench_thread_clock.so", "luaopen_bench_thread_clock")()
 *   clock.cpu() -> seconds of CPU this thread has used (CLOCK_THREAD_CPUTIME_ID)
 *
 * A callback whose wall time is long but whose CPU time is short was not
 * working: its thread waited for a core.  That tells the loop's own work
 * from the machine's scheduling. */
#include <lauxlib.h>
#include <lua.h>
#include <time.h>

int luaopen_bench_thread_clock(lua_State *L);

static int thread_cpu(lua_State *L)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return luaL_error(L, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

int luaopen_bench_thread_clock(lua_State *L)
{
	lua_newtable(L);
	lua_pushcfunction(L, thread_cpu);
	lua_setfield(L, -2, "cpu");
	return 1;
}
