-- binding_smoke.lua — loads the built imhost_core.so into lua5.4 and walks the
-- contract of docs/core-api.md once.  Run:
--   lua5.4 tests/unit/binding_smoke.lua build/plugins/imhost_core.so
-- Prints "N passed, N failed"; exits non-zero on failure.
local so = assert(arg[1], "usage: lua5.4 binding_smoke.lua path/to/imhost_core.so")
local core = assert(package.loadlib(so, "luaopen_imhost_core"))()
local passed, failed = 0, 0
local function check(cond, what)
	if cond then passed = passed + 1 else failed = failed + 1; print("FAIL: " .. what) end
end

local dir = os.tmpname(); os.remove(dir); assert(os.execute("mkdir -p " .. dir))
local path = dir .. "/imhost.sqlite"
local admin = '{"actor":"admin@example.com","roles":["server_admin"],"surface":"http","tz":"UTC"}'
local nobody = '{"actor":"bob@example.com","roles":["user"],"surface":"adhoc","tz":"UTC"}'

check(core.version == "0.1.0", "version")
check(core.operations():find('"logs.search"', 1, true), "operations lists logs.search")
check(core.operation("logs.search"):find('"name":"logs.search"', 1, true), "operation returns one declaration")
check(core.operation("logs.nosuch") == nil, "operation of an unknown name is nil")
check(rawget(_G, "imhost_core") == nil, "no global set")

local db, err = core.open{ path = path, workers = 2, flush_ms = 50 }
check(db ~= nil, "open: " .. tostring(err))
check(math.type(db:fd()) == "integer", "fd is an integer")

core.set_clock(1795000000)
for i = 1, 20 do
	local ok = db:log_message{ ts = 1795000000 - i * 60, domain = "example.com",
		from = "alice@example.com", to = "bob@example.com", kind = "chat",
		stanza_id = "s" .. i, size = 100, body = "hello world number " .. i }
	check(ok == true, "log_message " .. i)
end
check(db:log_session{ ts = 1795000000, domain = "example.com", user = "alice@example.com",
	resource = "phone", client = "test", event = "login" } == true, "log_session")
local bad_ok, bad_err = db:log_message{ domain = "example.com", from = "a@example.com", kind = "bogus" }
check(bad_ok == false and type(bad_err) == "string", "invalid entry refused")
check(db:flush() == true, "flush")

local ok, res = db:call("logs.search", '{"keyword":"hello","user":"bob@example.com","limit":5}', admin)
check(ok == true and res:find('"next_cursor":"', 1, true), "call logs.search: " .. res)
ok, res = db:call("logs.search", '{}', nobody)
check(ok == false and res:find('"forbidden"', 1, true), "user may not search")
check(core.format_text("logs.search", select(2, db:call("logs.search", '{"limit":1}', admin)))
	:find("alice@example.com \u{2192} bob@example.com: hello world number 1", 1, true), "format_text")

-- async: submit, wait for the eventfd via drain polling (no event loop here)
check(db:submit(7, "logs.status", "{}", admin) == true, "submit")
local got
for _ = 1, 200 do
	local list = db:drain()
	for _, c in ipairs(list) do if c.id == 7 then got = c end end
	if got then break end
	os.execute("sleep 0.01")
end
check(got and got.ok == true and got.result:find('"schema_version"', 1, true), "drain returns the completion")

-- a worker task beside the operations: a SCRAM-SHA-1 check against a record
-- Prosody made (util.sasl.scram, "pencil", 4096 rounds); same ids, same drain
local sk, svk = "8f279dda5fe5511c69e4890c2fd47a772f5c26d6", "5cdfcf5896307930d4d49260c9f55a532689471e"
check(db:scram_check(8, "pencil", "QSXCR+Q6sek8bf92", 4096, sk, svk) == true, "scram_check queued")
check(db:scram_check(9, "pencil!", "QSXCR+Q6sek8bf92", 4096, sk, svk) == true, "scram_check queued (wrong)")
check(db:scram_check(10, "pencil", "QSXCR+Q6sek8bf92", 1 << 40, sk, svk) == true, "scram_check queued (huge count)")
-- the same password under password_hash = "SHA-256" (Prosody's record again)
local sk256 = "fe30dbdd79f249916c7ae315b177cf2f389d3cd1ef020e5af9eeefeddc2f648b"
local svk256 = "8d41f17a7e7c5254de3aabd99c79590f2cd006b01f7560c6d25d649fe9046393"
check(db:scram_check(11, "pencil", "QSXCR+Q6sek8bf92", 4096, sk256, svk256, "SHA-256") == true,
	"scram_check queued (SHA-256)")
check(db:scram_check(12, "pencil", "QSXCR+Q6sek8bf92", 4096, sk, svk, "SHA-256") == true,
	"scram_check queued (SHA-1 record as SHA-256)")
check(not pcall(db.scram_check, db, 13, "pencil", "QSXCR+Q6sek8bf92", 4096, sk, svk, "MD5"),
	"scram_check: an unknown hash is an argument error")
local outcomes = {}
for _ = 1, 500 do
	for _, c in ipairs(db:drain()) do outcomes[c.id] = c end
	if outcomes[8] and outcomes[9] and outcomes[10] and outcomes[11] and outcomes[12] then break end
	os.execute("sleep 0.01")
end
check(outcomes[8] and outcomes[8].ok == true and outcomes[8].result == "match", "scram_check: match")
check(outcomes[9] and outcomes[9].ok == false and outcomes[9].result == "mismatch", "scram_check: mismatch")
check(outcomes[10] and outcomes[10].ok == false and outcomes[10].result == "bad_record", "scram_check: huge count refused")
check(outcomes[11] and outcomes[11].ok == true and outcomes[11].result == "match", "scram_check: SHA-256 match")
check(outcomes[12] and outcomes[12].ok == false and outcomes[12].result == "bad_record",
	"scram_check: SHA-1 keys are the wrong length for SHA-256")

ok, res = db:call("auth.token", '{"ttl":3600}', nobody)
local token = res:match('"token":"(%x+)"')
check(ok and token and #token == 64, "auth.token")
check(db:verify_token(token) == "bob@example.com", "verify_token")
core.set_clock(1795000000 + 7200)
check(db:verify_token(token) == nil, "token expired")
core.set_clock(nil)

local st = db:status()
check(st.written >= 20 and st.queue_max == 65536 and st.db_bytes > 0, "status")
db:close()
check(not pcall(db.fd, db), "closed db refuses calls")
os.execute("rm -rf " .. dir)
print(string.format("binding smoke: %d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
