-- billing_binding_smoke.lua — the signature functions of imhost_core.so as the
-- billing glue uses them: webhook_verify/webhook_sign and link_sign/link_check.
-- The MAC is checked against openssl(1), an independent implementation.
-- Run: lua5.4 tests/unit/billing_binding_smoke.lua build/plugins/imhost_core.so
-- Prints "N passed, N failed"; exits non-zero on failure.
local so = assert(arg[1], "usage: lua5.4 billing_binding_smoke.lua path/to/imhost_core.so")
local core = assert(package.loadlib(so, "luaopen_imhost_core"))()
local passed, failed = 0, 0
local function check(cond, what)
	if cond then passed = passed + 1 else failed = failed + 1; print("FAIL: " .. what) end
end

local now = 1795000000
local body = '{"id":"evt_1","type":"payment.succeeded","data":{"amount":100}}'
local header = core.webhook_sign("whsec_current", now, body)

-- Independent MAC: openssl over "<t>.<body>".
local tmp = os.tmpname()
local f = assert(io.open(tmp, "wb")); f:write(now .. "." .. body); f:close()
local p = io.popen("openssl dgst -sha256 -hmac whsec_current -r < " .. tmp)
local hex = p and p:read("l"); if p then p:close() end
os.remove(tmp)
hex = hex and hex:match("^(%x+)")
check(hex and header == ("t=%d,v1=%s"):format(now, hex), "webhook_sign equals openssl's HMAC: " .. header)

check(core.webhook_verify(header, body, { "whsec_current" }, now) == "ok", "valid signature")
check(core.webhook_verify(header, body, { "whsec_new", "whsec_current" }, now) == "ok", "rotation: old secret second")
check(core.webhook_verify(header, body .. " ", { "whsec_current" }, now) == "mismatch", "tampered body")
check(core.webhook_verify(header, body, { "whsec_wrong" }, now) == "mismatch", "wrong secret")
check(core.webhook_verify(header, body, { "whsec_current" }, now + 301) == "stale", "301 s late is stale")
check(core.webhook_verify(header, body, { "whsec_current" }, now + 300) == "ok", "300 s late is in tolerance")
check(core.webhook_verify(header, body, { "whsec_current" }, now - 301) == "stale", "from the future")
check(core.webhook_verify(nil, body, { "whsec_current" }, now) == "malformed", "no header")
check(core.webhook_verify("garbage", body, { "whsec_current" }, now) == "malformed", "garbage header")
check(core.webhook_verify(header, body, {}, now) == "mismatch", "no secrets configured")
-- Two v1 values (a processor signing with old and new secret at once).
local other = core.webhook_sign("whsec_new", now, body):match("v1=(%x+)")
check(core.webhook_verify(header .. ",v1=" .. other, body, { "whsec_new" }, now) == "ok", "second v1 matches")
check(not pcall(core.webhook_verify, header, body, { 42 }, now), "non-string secret is an error")
check(not pcall(core.webhook_sign, "", now, body), "empty secret refused")

-- Links: path and expiry are both signed.
local q = core.link_sign("link-secret", "/imhost/statement/7", now + 3600)
local exp, sig = q:match("^exp=(%d+)&sig=(%x+)$")
check(exp and tonumber(exp) == now + 3600 and #sig == 64, "link_sign format: " .. q)
check(core.link_check("link-secret", "/imhost/statement/7", now + 3600, sig, now) == "ok", "link valid")
check(core.link_check("link-secret", "/imhost/statement/7", now + 3600, sig, now + 3600) == "stale", "link expired")
check(core.link_check("link-secret", "/imhost/statement/8", now + 3600, sig, now) == "mismatch", "other path")
check(core.link_check("link-secret", "/imhost/statement/7", now + 7200, sig, now) == "mismatch", "extended expiry")
check(core.link_check("other-secret", "/imhost/statement/7", now + 3600, sig, now) == "mismatch", "other secret")
check(core.link_check("link-secret", "/imhost/statement/7", now + 3600, "zz", now) == "malformed", "bad sig")
check(core.link_check("link-secret", "/imhost/statement/7", now + 3600, nil, now) == "malformed", "no sig")
core.set_clock(now + 10)
check(core.link_check("link-secret", "/imhost/statement/7", now + 3600, sig) == "ok", "default now is the core clock")
core.set_clock(now + 4000)
check(core.link_check("link-secret", "/imhost/statement/7", now + 3600, sig) == "stale", "injected clock past expiry")
core.set_clock()

print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
