-- imhost_httpauth: who is calling the HTTP API (/imhost/api/v1/).
--
-- HTTP Basic with a Prosody account (over TLS, or from loopback), or a bearer
-- token issued by auth.token.  Checking a password is thousands of salted hash
-- rounds: it never runs on the event loop when the host stores SCRAM records
-- (mod_auth_internal_hashed, the default; SHA-1 or SHA-256).  The glue reads the record
-- here and a worker thread hashes (module/core/scram.c via db:scram_check); the
-- verdict comes back through the completion eventfd.  Any other provider, or a
-- legacy plaintext record, is checked by the provider on the loop, as Prosody
-- does for XMPP logins.  Failed Basic attempts are limited per client address.
-- docs/operators.md ("HTTP API authentication") says all this for operators.

local promise = require "util.promise";
local new_cache = require "util.cache".new;
local base64 = require "util.encodings".base64;
local saslprep = require "util.encodings".stringprep.saslprep;
local usermanager = require "core.usermanager";
local storagemanager = require "core.storagemanager";
local config = require "core.configmanager";
local jid_util = require "util.jid";
local sha256 = require "util.hashes".sha256;
local now = require "util.time".now;
local new_ip = require "util.ip".new_ip;
local hex_encode = require "util.hex".encode;

local M = {};
local verify_token, scram_check, max_failures, failure_window;

--- Good credentials, remembered briefly -------------------------------------------

-- HTTP Basic credentials that passed, by a hash of the header value, for
-- BASIC_CACHE_TTL seconds; forgotten whenever any password changes or any
-- account is deleted.  `generation` counts those events: a check that was in
-- flight across one must not put the old password into the fresh cache.
-- LRU-bounded, so that expired entries of clients long gone do not pile up.
local BASIC_CACHE_TTL, BASIC_CACHE_MAX = 60, 1000;
local basic_cache = new_cache(BASIC_CACHE_MAX);
local generation = 0;
local function forget_all() basic_cache = new_cache(BASIC_CACHE_MAX); generation = generation + 1; end
module:hook_global("user-password-changed", forget_all);
module:hook_global("user-deleted", forget_all);

--- Failed attempts per client address ------------------------------------------------

-- address -> { count, first, pending, blocked_until }.  count: failures in the
-- window that began at `first`; pending: checks from there still running (they
-- count against the limit until they succeed, or a client could start
-- hundreds at once before the first failure is known).  LRU-bounded: past
-- FAILURE_TRACK_MAX addresses the least recently active one is forgotten.
local FAILURE_TRACK_MAX = 10000;
local failures = new_cache(FAILURE_TRACK_MAX);

-- The key failures are counted under: an IPv4 address, or an IPv6 address's
-- /64 (one subscriber's network: a client that holds one can take a fresh
-- address from it for every guess).  IPv4-mapped IPv6 counts as its IPv4.
local V4_MAPPED = ("\0"):rep(10) .. "\255\255";
local function failure_key(ip)
	local parsed = ip and ip:find(":", 1, true) and new_ip(ip);
	if not parsed then return ip or "unknown"; end
	local packed = parsed.packed;
	if packed:sub(1, 12) == V4_MAPPED then
		return ("%d.%d.%d.%d"):format(packed:byte(13, 16));
	end
	return hex_encode(packed:sub(1, 8)):gsub("(%x%x%x%x)", "%1:") .. ":/64";
end

local function client_address(request)
	return failure_key(request.ip or (request.conn and request.conn:ip()));
end

-- Seconds until address may try again, or nil when it may now.
local function refused_for(address, t)
	local f = failures:get(address);
	if not f then return nil; end
	if f.blocked_until then
		if t < f.blocked_until then return math.max(1, math.ceil(f.blocked_until - t)); end
		f.blocked_until, f.count, f.first = nil, 0, t;
	end
	if t - f.first >= failure_window then f.count, f.first = 0, t; end
	if f.count + f.pending >= max_failures then
		return 1; -- checks still running may fail: ask again shortly
	end
	return nil;
end

local function check_started(address, t)
	local f = failures:get(address) or { count = 0, first = t, pending = 0 };
	f.pending = f.pending + 1;
	failures:set(address, f);
end

-- A check from address ended (or failed before any check: an unknown host);
-- failed: it counts.  A success clears nothing: an
-- attacker holding one good account could otherwise interleave it to keep
-- guessing another; the failures expire with their window instead.
local function check_ended(address, failed, t)
	local f = failures:get(address) or { count = 0, first = t, pending = 0 };
	f.pending = math.max(0, f.pending - 1);
	if failed then
		if t - f.first >= failure_window then f.count, f.first = 0, t; end
		f.count = f.count + 1;
		if f.count >= max_failures then f.blocked_until = t + failure_window; end
	end
	failures:set(address, f);
end

--- Checking a password ---------------------------------------------------------------

local function is_loopback(request)
	local ip = request.ip or (request.conn and request.conn:ip());
	return ip == "127.0.0.1" or ip == "::1" or (ip and ip:match("^127%.")) ~= nil;
end

-- The hash of the host's SCRAM records when its provider is
-- mod_auth_internal_hashed and scram.c implements that hash ("SHA-1" or
-- "SHA-256"), else nil.  (usermanager puts the provider itself in
-- hosts[host].users; mod_auth_internal_hashed's `password_hash` option picks
-- the hash.)
local OFF_LOOP_HASHES = { ["SHA-1"] = true, ["SHA-256"] = true };
local function off_loop_hash(host)
	local provider = prosody.hosts[host].users;
	local hash = config.get(host, "password_hash") or "SHA-1";
	if provider ~= nil and rawget(provider, "name") == "internal_hashed" and OFF_LOOP_HASHES[hash] then
		return hash;
	end
end

-- A promise of "match", "mismatch", "bad_record" (a record scram.c refuses:
-- bad hex, no salt, an iteration count out of 1..1,000,000), or "unavailable"
-- or "failed" (the workers' queue is full; libcrypto failed).
local function check_password(username, host, password)
	local hash = off_loop_hash(host);
	if hash then
		-- As the provider does: SASLprep the password, read the account record.
		local prepped = saslprep(password);
		if not prepped then return promise.resolve("mismatch"); end
		local record = storagemanager.open(host, "accounts"):get(username);
		if not record then return promise.resolve("mismatch"); end
		if record.password == nil or record.password == "" then
			local iterations = type(record.iteration_count) == "number" and math.tointeger(record.iteration_count);
			if not (iterations and type(record.salt) == "string" and type(record.stored_key) == "string"
					and type(record.server_key) == "string") then
				return promise.resolve("bad_record");
			end
			module:log("debug", "HTTP Basic: checking %s@%s's password on a worker", username, host);
			return scram_check(prepped, record.salt, iterations, record.stored_key, record.server_key, hash)
				:next(function (res) return res.outcome; end);
		end
		-- A legacy plaintext record: the provider compares it and rewrites it hashed.
	end
	return promise.resolve(usermanager.test_password(username, host, password) and "match" or "mismatch");
end

--- authenticate ---------------------------------------------------------------------

local function refusal(status, code, why, retry_after)
	return { status = status, code = code, why = why, retry_after = retry_after };
end

local function basic(request, value)
	if not request.secure and not is_loopback(request) then
		return promise.resolve(refusal(401, "unauthorized", "HTTP Basic is accepted only over TLS"));
	end
	local address, t = client_address(request), now();
	local wait = refused_for(address, t);
	if wait then
		return promise.resolve(refusal(429, "rate_limited",
			("too many failed logins from this address; retry in %d s"):format(wait), wait));
	end
	local decoded = base64.decode(value) or "";
	local user_jid, password = decoded:match("^([^:]+):(.*)$");
	local username, host = jid_util.split(user_jid or "");
	if not (username and host and prosody.hosts[host] and prosody.hosts[host].type == "local") then
		check_ended(address, true, t);
		return promise.resolve(refusal(401, "unauthorized", "unknown account"));
	end
	local key = sha256(value, true);
	local cached = basic_cache:get(key);
	if cached and cached.expires > os.time() then return promise.resolve({ actor = cached.actor }); end
	local actor, started_in = username .. "@" .. host, generation;
	check_started(address, t);
	return check_password(username, host, password):next(function (outcome)
		if outcome ~= "match" and outcome ~= "mismatch" and outcome ~= "bad_record" then
			check_ended(address, false, now()); -- our trouble, not the client's
			return refusal(503, "unavailable", "busy: try again shortly");
		end
		check_ended(address, outcome ~= "match", now());
		if outcome == "bad_record" then
			module:log("warn", "HTTP Basic for %s refused: its stored credentials are corrupt or beyond imhost's "
				.. "limits (iteration count 1..1000000)", actor);
		end
		if outcome ~= "match" then return refusal(401, "unauthorized", "wrong credentials"); end
		if started_in == generation then
			basic_cache:set(key, { actor = actor, expires = os.time() + BASIC_CACHE_TTL });
		end
		return { actor = actor };
	end);
end

-- Who sent this request.  A promise of { actor = bare JID } or { status, code,
-- why, retry_after }: 401 (no, bad or unchecked credentials), 429 (this address
-- failed too often; retry_after seconds), 503 (the workers are saturated).
function M.authenticate(request)
	local header = request.headers.authorization;
	if not header then return promise.resolve(refusal(401, "unauthorized", "credentials required")); end
	local scheme, value = header:match("^(%S+)%s+(.+)$");
	scheme = scheme and scheme:lower();
	if scheme == "bearer" then
		-- A token is 256 random bits looked up by its hash: nothing to limit.
		local actor = verify_token(value);
		if not actor then return promise.resolve(refusal(401, "unauthorized", "invalid or expired token")); end
		return promise.resolve({ actor = actor });
	elseif scheme == "basic" then
		return basic(request, value);
	end
	return promise.resolve(refusal(401, "unauthorized", "unsupported authorization scheme"));
end

function M.init(deps)
	verify_token, scram_check = deps.verify_token, deps.scram_check;
	max_failures, failure_window = deps.max_failures, deps.failure_window;
end

return M;
