-- logpath_smoke.lua — the logging hooks' hot path (module/imhost_logpath.lib.lua
-- and db:log_message_args) against the code it replaced and the table form.
--   lua5.4 tests/unit/logpath_smoke.lua build/plugins/imhost_core.so module/imhost_logpath.lib.lua
-- Needs Prosody's util.stanza (/usr/lib/prosody).  Prints "N passed, N failed";
-- exits non-zero on failure.
local so = assert(arg[1], "usage: logpath_smoke.lua imhost_core.so imhost_logpath.lib.lua")
local lib = assert(arg[2], "usage: logpath_smoke.lua imhost_core.so imhost_logpath.lib.lua")
package.path = "/usr/lib/prosody/?.lua;" .. package.path
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath
local st = require "util.stanza"
local core = assert(package.loadlib(so, "luaopen_imhost_core"))()
local scan = assert(loadfile(lib))().scan
local passed, failed = 0, 0
local function check(cond, what)
	if cond then passed = passed + 1 else failed = failed + 1; print("FAIL: " .. what) end
end

-- The code scan() replaced (mod_imhost.lua before the hot-path rewrite): the
-- reference its answers must equal.
local encryption_namespaces = {
	["eu.siacs.conversations.axolotl"] = "omemo"; ["urn:xmpp:omemo:2"] = "omemo";
	["urn:xmpp:openpgp:0"] = "openpgp"; ["jabber:x:encrypted"] = "openpgp";
};
local function reference(stanza)
	local body = stanza:get_child_text("body");
	for _, child in ipairs(stanza.tags) do
		local scheme = encryption_namespaces[child.attr.xmlns];
		if scheme then return body, scheme; end
	end
	if body and body:sub(1, 4) == "?OTR" then return body, "otr"; end
	if stanza:get_child("encryption", "urn:xmpp:eme:0") then return body, "encrypted"; end
	return body, nil;
end

local function msg(attr) return st.message(attr or { to = "bob@example.com", type = "chat", id = "x1" }); end
local cases = {
	plain = msg():tag("body"):text("hello"):up(),
	empty_body = msg():tag("body"):up(),
	no_body = msg():tag("active", { xmlns = "http://jabber.org/protocol/chatstates" }):up(),
	receipt = msg():tag("received", { xmlns = "urn:xmpp:receipts", id = "a" }):up(),
	two_bodies = msg():tag("body"):text("first"):up():tag("body"):text("second"):up(),
	foreign_body = msg():tag("body", { xmlns = "urn:example:other" }):text("not mine"):up(),
	foreign_then_own = msg():tag("body", { xmlns = "urn:example:other" }):text("x"):up()
		:tag("body"):text("own"):up(),
	body_with_child = msg():tag("body"):text("a"):tag("b"):up():up(),
	split_text = msg():tag("body"):text("two "):text("text nodes"):up(),
	omemo = msg():tag("body"):text("I sent you an OMEMO message"):up()
		:tag("encrypted", { xmlns = "eu.siacs.conversations.axolotl" }):up(),
	omemo2_first = msg():tag("encrypted", { xmlns = "urn:xmpp:omemo:2" }):up():tag("body"):text("fb"):up(),
	openpgp = msg():tag("x", { xmlns = "jabber:x:encrypted" }):text("----"):up():tag("body"):text("fb"):up(),
	pgp_then_omemo = msg():tag("openpgp", { xmlns = "urn:xmpp:openpgp:0" }):up()
		:tag("encrypted", { xmlns = "eu.siacs.conversations.axolotl" }):up(),
	otr = msg():tag("body"):text("?OTRv3 data"):up(),
	otr_like = msg():tag("body"):text("?OT"):up(),
	question = msg():tag("body"):text("?what"):up(),
	eme = msg():tag("body"):text("fallback"):up()
		:tag("encryption", { xmlns = "urn:xmpp:eme:0", namespace = "urn:example" }):up(),
	eme_no_body = msg():tag("encryption", { xmlns = "urn:xmpp:eme:0" }):up(),
	eme_wrong_ns = msg():tag("body"):text("b"):up():tag("encryption", { xmlns = "urn:example" }):up(),
	stanza_ns = st.message({ xmlns = "jabber:client", to = "b@example.com" })
		:tag("body", { xmlns = "jabber:client" }):text("ns body"):up(),
}
for name, stanza in pairs(cases) do
	local b1, e1 = reference(stanza);
	local b2, e2 = scan(stanza);
	check(b1 == b2 and e1 == e2, ("scan(%s) = %s/%s, want %s/%s"):format(name,
		tostring(b2), tostring(e2), tostring(b1), tostring(e1)));
end
check(select(1, scan(cases.plain)) == "hello" and select(2, scan(cases.omemo)) == "omemo",
	"scan: spot values");

-- db:log_message_args against db:log_message{...}.
local dir = os.tmpname(); os.remove(dir); assert(os.execute("mkdir -p " .. dir))
local admin = '{"actor":"admin@example.com","roles":["server_admin"],"surface":"http","tz":"UTC"}'
local db = assert(core.open{ path = dir .. "/imhost.sqlite", workers = 1, flush_ms = 50 })
local T = 1795000000
core.set_clock(T)
check(db:log_message_args("example.com", "alice@example.com/phone", "bob@example.com/laptop", nil,
	"chat", "id1", 11, "zebra apple", nil, T - 60) == true, "args: chat with full JIDs")
check(db:log_message_args("example.com", "carol@example.com/x", nil, "room@rooms.example.com",
	"groupchat", nil, 9, "zebra pear", nil) == true, "args: groupchat, ts from the core clock")
check(db:log_message_args("example.com", "dave@example.com", "bob@example.com", nil, "chat",
	"id3", 26, nil, "omemo", T - 30) == true, "args: encrypted, no body")
check(db:log_message{ ts = T - 10, domain = "example.com", from = "erin@example.com",
	to = "bob@example.com", kind = "chat", size = 11, body = "zebra table" } == true, "table form")
local ok, err = db:log_message_args("example.com", "alice@example.com", nil, nil, "bogus", nil, 1, "x")
check(ok == false and err == "invalid entry", "args: unknown kind refused: " .. tostring(err))
ok, err = db:log_message_args(nil, "alice@example.com", nil, nil, "chat", nil, 1, "x")
check(ok == false and err == "invalid entry", "args: missing domain refused")
ok, err = db:log_message_args("example.com", "a@example.com", nil, nil, "chat", nil, -1, "x")
check(ok == false and err == "invalid entry", "args: negative size refused")
check(not pcall(db.log_message_args, db, "example.com", 42, nil, nil, "chat"), "args: number as JID raises")
check(not pcall(db.log_message_args, db, "example.com", "a@example.com", nil, nil, "chat", nil, 1.5),
	"args: fractional size raises")
check(not pcall(db.log_message_args, db, "example.com", "a@example.com", nil, nil, "chat", nil, 1, {}),
	"args: table as body raises")
check(db:flush() == true, "flush")

local res
ok, res = db:call("logs.search", '{"keyword":"zebra","limit":10}', admin)
check(ok == true, "search: " .. tostring(res))
res = res or ""
check(not res:find("/phone", 1, true) and not res:find("/laptop", 1, true) and not res:find("/x", 1, true),
	"resources are cut: " .. res)
check(res:find('"alice@example.com"', 1, true) and res:find('"bob@example.com"', 1, true), "bare sender and recipient stored")
check(res:find("zebra apple", 1, true) and res:find("zebra pear", 1, true) and res:find("zebra table", 1, true),
	"both forms searchable")
check(res:find('"room@rooms.example.com"', 1, true), "room stored")
ok, res = db:call("logs.search", '{"user":"dave@example.com","limit":10}', admin)
check(ok == true and res:find('"omemo"', 1, true) and res:find('"size":26', 1, true), "encrypted entry: " .. tostring(res))
db:close()
os.execute("rm -rf " .. dir)

print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
