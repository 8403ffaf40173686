-- mod_bench_looplag: measures Prosody's event-loop lag from inside the process
-- (benchmarks only).  A 2 ms repeating timer records how late each tick fires.
-- Open question (see the session notes): under load the lateness reaches tens of
-- ms while a pinging client's round trips stay under ~7 ms, so net.server's
-- timers seem to yield to pending I/O: read it as timer lateness, not as the
-- longest time the loop was blocked.
--   GET /looplag          -> "RESULT samples=N p99_ms=X max_ms=Y"
--   GET /looplag?reset=1  -> starts a new measurement
local now = require "util.time".now;

local INTERVAL = 0.002;
local buckets, samples, max_lag, expected = {}, 0, 0, nil;

local function reset()
	buckets, samples, max_lag, expected = {}, 0, 0, nil;
end

module:add_timer(INTERVAL, function ()
	local t = now();
	if expected then
		local lag = math.max(0, t - expected);
		local b = math.floor(lag * 10000); -- 0.1 ms buckets
		buckets[b] = (buckets[b] or 0) + 1;
		samples = samples + 1;
		if lag > max_lag then max_lag = lag; end
	end
	expected = t + INTERVAL;
	return INTERVAL;
end);

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
			if (event.request.url.query or ""):match("reset=1") then reset(); return "reset\n"; end
			return ("RESULT samples=%d p99_ms=%.1f max_ms=%.2f\n"):format(samples, p99_ms(), max_lag * 1000);
		end;
	};
});
