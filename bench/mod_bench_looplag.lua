-- mod_bench_looplag: how long Prosody's event loop is busy in one go, measured
-- from inside (benchmarks only).  Every I/O callback of net.server (a readable
-- or writable socket, a watched descriptor such as imhost's completions) is
-- timed; a callback that runs long is a stall every other connection waits
-- out.  Garbage-collector steps taken during a callback count in it.
--
-- Why not a repeating timer's lateness: net.server_epoll runs timers only when
-- no descriptor is ready, so under steady I/O (a pinging client) timers fire
-- tens of ms late while pings are answered within a few ms.  That measures
-- timer starvation, not a blocked loop.
--
--   GET /looplag          -> "RESULT samples=N p99_ms=X max_ms=Y over5=K ...
--                            run_max_ms=R run_cpu_ms=C",
--                            then one "SLOW ..." line per callback among the
--                            slowest (its CPU time, which connection, how much
--                            the heap shrank in it, whether a collector cycle
--                            ended)
--   GET /looplag?reset=1  -> starts a new measurement (and installs the probe
--                            on the first call: it needs a live connection to
--                            reach net.server's shared connection methods)
local now = require "util.time".now;

-- This thread's CPU time (bench/lua_thread_clock.c, built beside this file): a
-- SLOW line with much less CPU than wall time waited for a core.  Without it,
-- SLOW lines say cpu_ms=n/a.
local open_clock = package.loadlib(module:get_directory() .. "/bench_thread_clock.so", "luaopen_bench_thread_clock");
local thread_cpu = open_clock and open_clock().cpu or function () return 0 / 0; end

local buckets, samples, max_ms, over5 = {}, 0, 0, 0;
local SLOW_KEPT = 8;
local slowest = {}; -- the SLOW_KEPT longest callbacks, longest first

-- Busy runs: a client's event that arrives just after the loop woke waits for
-- every callback of that wake-up, back to back, not only the longest one.  A
-- run lasts from a poll:wait() that may block returning to the next such call
-- (net.server_epoll asks poll:wait(0) for each further ready descriptor).  Its
-- CPU time tells loop work from waiting for a core.
local run_max_ms, run_cpu_ms, run_t0, run_c0 = 0, 0, nil, nil;

local function reset()
	buckets, samples, max_ms, over5 = {}, 0, 0, 0;
	slowest = {};
	run_max_ms, run_cpu_ms, run_t0 = 0, 0, nil;
end

-- A collector cycle ends when this sentinel's finalizer runs; it plants the
-- next one.  Counting them tells a callback that ran a cycle's atomic phase
-- (not incremental: its length grows with the heap) from one that did not.
local cycles = 0;
local function plant()
	setmetatable({}, { __gc = function () cycles = cycles + 1; plant(); end });
end
plant();

local function record(ms, cpu_ms, label, kb_before, cycles_before)
	local b = math.floor(ms * 10); -- 0.1 ms buckets
	buckets[b] = (buckets[b] or 0) + 1;
	samples = samples + 1;
	if ms > max_ms then max_ms = ms; end
	if ms >= 5 then over5 = over5 + 1; end
	if #slowest == SLOW_KEPT and ms <= slowest[SLOW_KEPT].ms then return; end
	local entry = {
		ms = ms;
		cpu_ms = cpu_ms;
		label = label;
		freed_kb = kb_before - collectgarbage("count");
		cycle_ended = cycles ~= cycles_before;
	};
	local i = #slowest + 1;
	while i > 1 and slowest[i - 1].ms < ms do slowest[i] = slowest[i - 1]; i = i - 1; end
	slowest[i] = entry;
	slowest[SLOW_KEPT + 1] = nil;
end

-- label: what a SLOW line names the callback by (default: its socket's port)
local function timed(inner, label)
	return function (self, ...)
		local kb, cyc, t0, c0 = collectgarbage("count"), cycles, now(), thread_cpu();
		local a, b = inner(self, ...);
		record((now() - t0) * 1000, (thread_cpu() - c0) * 1000, label or self.sockport, kb, cyc);
		return a, b;
	end
end

-- net.server_epoll's table of every watched descriptor, found as an upvalue
-- of its connection methods (bench-only: not an API).
local function epoll_fds(methods)
	for _, f in pairs(methods) do
		if type(f) == "function" then
			for i = 1, 64 do
				local name, value = debug.getupvalue(f, i);
				if not name then break; end
				if name == "fds" and type(value) == "table" then return value; end
			end
		end
	end
end

-- All connections share one method table (the metatable's __index); wrapping
-- its callbacks once times every connection, present and future.  Listening
-- sockets and descriptors watched with server.watchfd (imhost's completions)
-- carry their own callbacks instead: those present now are wrapped one by one.
local function install(conn)
	local mt = conn and getmetatable(conn);
	local methods = mt and mt.__index;
	if type(methods) ~= "table" or methods._bench_looplag then return; end
	methods._bench_looplag = true;
	for _, name in ipairs { "onreadable", "onwritable" } do
		methods[name] = timed(methods[name]);
	end
	for _, watched in pairs(epoll_fds(methods) or {}) do
		for _, name in ipairs { "onreadable", "onwritable" } do
			local own = type(watched) == "table" and rawget(watched, name);
			if type(own) == "function" then
				watched[name] = timed(own, watched.sockport and "accept:" .. watched.sockport or "watched");
			end
		end
	end
end

-- net.server_epoll's poller is an upvalue of its loop; a proxy in its place
-- sees every wait (bench-only: not an API).
local function install_run_timer()
	local loop = require "net.server".loop;
	for i = 1, 64 do
		local name, real = debug.getupvalue(loop, i);
		if not name then return; end
		if name == "poll" then
			if type(real) ~= "userdata" then return; end -- installed already
			local real_wait = real.wait;
			-- Each method's forwarder is made once: poll:set() runs on every
			-- change of a socket's write interest, and must not allocate here.
			local proxy = setmetatable({}, { __index = function (self, k)
				local f = real[k];
				local forward = function (_, ...) return f(real, ...); end;
				rawset(self, k, forward);
				return forward;
			end });
			proxy.wait = function (_, timeout)
				if timeout ~= 0 and run_t0 then
					local ms = (now() - run_t0) * 1000;
					if ms > run_max_ms then run_max_ms, run_cpu_ms = ms, (thread_cpu() - run_c0) * 1000; end
				end
				local fd, r, w = real_wait(real, timeout);
				if timeout ~= 0 then run_t0, run_c0 = now(), thread_cpu(); end
				return fd, r, w;
			end;
			debug.setupvalue(loop, i, proxy);
			return;
		end
	end
end

local function p99_ms()
	local want, seen, top = samples * 0.99, 0, 0;
	for b in pairs(buckets) do if b > top then top = b; end end
	for b = 0, top do
		seen = seen + (buckets[b] or 0);
		if seen >= want then return b / 10; end
	end
	return top / 10;
end

module:depends("http");
module:provides("http", {
	default_path = "/looplag";
	route = {
		["GET /"] = function (event)
			if (event.request.url.query or ""):match("reset=1") then
				install(event.request.conn);
				install_run_timer();
				reset();
				return "reset\n";
			end
			local out = { ("RESULT samples=%d p99_ms=%.1f max_ms=%.2f over5=%d cycles=%d heap_kb=%.0f run_max_ms=%.2f run_cpu_ms=%.2f\n"):format(
				samples, p99_ms(), max_ms, over5, cycles, collectgarbage("count"), run_max_ms, run_cpu_ms) };
			for _, e in ipairs(slowest) do
				local cpu = e.cpu_ms == e.cpu_ms and ("%.2f"):format(e.cpu_ms) or "n/a"; -- NaN: no clock
				out[#out + 1] = ("SLOW ms=%.2f cpu_ms=%s on=%s freed_kb=%.0f cycle_ended=%s\n"):format(
					e.ms, cpu, tostring(e.label), e.freed_kb, tostring(e.cycle_ended));
			end
			return table.concat(out);
		end;
	};
});
