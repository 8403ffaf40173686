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
--   GET /looplag          -> "RESULT samples=N p99_ms=X max_ms=Y over5=K"
--   GET /looplag?reset=1  -> starts a new measurement (and installs the probe
--                            on the first call: it needs a live connection to
--                            reach net.server's shared connection methods)
local now = require "util.time".now;

local buckets, samples, max_ms, over5 = {}, 0, 0, 0;

local function reset()
	buckets, samples, max_ms, over5 = {}, 0, 0, 0;
end

local function record(ms)
	local b = math.floor(ms * 10); -- 0.1 ms buckets
	buckets[b] = (buckets[b] or 0) + 1;
	samples = samples + 1;
	if ms > max_ms then max_ms = ms; end
	if ms >= 5 then over5 = over5 + 1; end
end

-- All connections share one method table (the metatable's __index); wrapping
-- its callbacks once times every connection, present and future.
local function install(conn)
	local mt = conn and getmetatable(conn);
	local methods = mt and mt.__index;
	if type(methods) ~= "table" or methods._bench_looplag then return; end
	methods._bench_looplag = true;
	for _, name in ipairs { "onreadable", "onwritable" } do
		local inner = methods[name];
		methods[name] = function (self, ...)
			local t0 = now();
			local a, b = inner(self, ...);
			record((now() - t0) * 1000);
			return a, b;
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
				reset();
				return "reset\n";
			end
			return ("RESULT samples=%d p99_ms=%.1f max_ms=%.2f over5=%d\n"):format(samples, p99_ms(), max_ms, over5);
		end;
	};
});
