-- imhost_accounts: hosting accounts on the running server (issue 4).
--
-- The C registry decides everything about an operation: parameters, the caller's
-- roles and scope, the permission, seat limits, suspension, confirmation, audit.
-- A "live" operation then answers {"live":true,"params":{...}} and this file does
-- the part only the running Prosody can do (create an account, kick a session,
-- configure a room), and reports facts back to C with plain operations
-- (users.record, users.reconcile, certs.record).
--
-- It also holds the account hooks: seat limits on every creation path Prosody
-- runs in-process (the auth provider's create_user is wrapped, so in-band
-- registration, invites, web registration and the admin shell are all counted),
-- login refusal for locked users and suspended domains (at SASL, with the reason
-- as the failure text), last activity, reading served TLS certificates, and the
-- daily expiry reminders.
--
-- Nothing slow runs on Prosody's event loop.  Every C call goes to a worker
-- thread (submit) and is either waited for inside an async runner
-- (util.async: stanza handlers, the admin shell, HTTP) or continued in the
-- promise's callback (timers, server-started).  The only synchronous calls left
-- in the server are the two answers Prosody needs at once outside a runner
-- (seat check, login check): a few primary-key/index reads, said at each line.
-- The offline CLI (prosodyctl mod_imhost) calls everything synchronously.

local json = require "util.json";
local jid_util = require "util.jid";
local id = require "util.id";
local st = require "util.stanza";
local usermanager = require "core.usermanager";
local async = require "util.async";
local promise = require "util.promise";

local jid_split, jid_bare, jid_prep = jid_util.split, jid_util.bare, jid_util.prep;

local M = {};
local call_sync, submit, fire, log, module_api;
local services; -- the glue's shared services table (mod_imhost.lua), read at call time

-- The context imhost's own calls run with: the server acting on its own behalf.
local SELF = { actor = "imhost", surface = "shell", roles = { "operator" }, prosody_admin = true };

--- Small helpers ---------------------------------------------------------------------

local function fail(code, message)
	return { ok = false, json = json.encode({ error = { code = code, message = message } }) };
end

local function done(result)
	return { ok = true, json = json.encode(result) };
end

-- {ok, json} -> the decoded result, or nil, error table.
local function decode_result(res)
	local ok, decoded = pcall(json.decode, res.json);
	if not ok or type(decoded) ~= "table" then
		return nil, { code = "internal", message = tostring(res.json) };
	end
	if not res.ok then return nil, decoded.error or { code = "internal", message = res.json }; end
	return decoded;
end

-- May this caller wait for a worker?  Only inside an async runner of the server.
local function can_wait()
	return prosody.process_type == "prosody" and async.ready();
end

-- Calls a C operation as imhost itself and returns its decoded result or nil,
-- error table.  Inside an async runner it waits for a worker thread without
-- blocking the loop; elsewhere (the offline CLI, or the few callers documented
-- as cheap reads) it runs on this thread.
local function core_call(op, params)
	if can_wait() then
		return decode_result(async.wait_for(submit(op, params, SELF)));
	end
	return decode_result(call_sync(op, params, SELF));
end

-- The same as a promise of { value, err }, for callers that cannot wait (timers,
-- server-started): the work runs on a worker, the callback on the loop.  In the
-- offline CLI (no workers drained) it runs synchronously.
local function core_async(op, params)
	if prosody.process_type ~= "prosody" then
		local value, err = decode_result(call_sync(op, params, SELF));
		return promise.resolve({ value = value, err = err });
	end
	return submit(op, params, SELF):next(function (res)
		local value, err = decode_result(res);
		return { value = value, err = err };
	end);
end

-- The same off the event loop, for facts nobody waits for (logins).
local function core_report(op, params)
	submit(op, params, SELF):next(function (res)
		if not res.ok then log("warn", "imhost: %s %s failed: %s", op, json.encode(params), res.json); end
	end);
end

-- A fact a later check depends on (an account created or deleted counts against
-- the seats): inside a runner it is waited for, so that the next seat check on
-- another worker sees it; elsewhere it is reported off the loop.
local function core_record(op, params)
	if not can_wait() then return core_report(op, params); end
	local _, err = core_call(op, params);
	if err then log("warn", "imhost: %s %s failed: %s", op, json.encode(params), tostring(err.message)); end
end

local function local_host(host)
	local h = host and prosody.hosts[host];
	return h and h.type == "local" and h or nil;
end

-- The MUC component that serves a domain's channels: option imhost_muc_host on the
-- VirtualHost, else "rooms.<domain>", else any muc component "<x>.<domain>".
local function muc_of(domain)
	local configured = module_api:context(domain):get_option_string("imhost_muc_host");
	local candidates = { "rooms." .. domain, "conference." .. domain, "muc." .. domain };
	if configured then table.insert(candidates, 1, configured); end
	for _, h in ipairs(candidates) do
		local hs = prosody.hosts[h];
		if hs and hs.modules.muc then return hs.modules.muc, h; end
	end
	return nil;
end

local function room_of(room_jid)
	local _, host = jid_split(room_jid);
	local hs = host and prosody.hosts[host];
	local muc = hs and hs.modules.muc;
	if not muc then return nil, nil, "no MUC service at " .. tostring(host); end
	return muc.get_room_from_jid(room_jid), muc;
end

local function sessions_of(username, host)
	local h = local_host(host);
	local user = h and h.sessions[username];
	local list = {};
	if user then
		for resource, session in pairs(user.sessions) do
			list[#list + 1] = { resource = resource, ip = session.ip,
				since = session.conntime, secure = session.secure and true or false,
				client = session.resource and session.resource:match("^(%a[%w%-_ ]*)[%.%-]") or nil };
		end
		table.sort(list, function (a, b) return a.resource < b.resource; end);
	end
	return list;
end

-- Closes every session of a user (or one resource); returns how many were closed.
local function kick(username, host, resource, text)
	local h = local_host(host);
	local user = h and h.sessions[username];
	local n = 0;
	if not user then return 0; end
	local victims = {};
	for res, session in pairs(user.sessions) do
		if not resource or res == resource then victims[#victims + 1] = session; end
	end
	for _, session in ipairs(victims) do
		session:close({ condition = "policy-violation", text = text });
		n = n + 1;
	end
	return n;
end

--- Live handlers: one per live operation, (params, answer, ctx) -> {ok, json} ---------

local live = {};

live["users.list"] = function (p, answer)
	-- C answers with the users it knows (last login, client, locked); add who is
	-- online now from the session table.
	local items = answer.items or answer.users or {};
	for _, u in ipairs(items) do
		local username, host = jid_split(u.user or u.jid);
		local sessions = username and sessions_of(username, host) or {};
		u.online = #sessions > 0;
		u.sessions = #sessions;
	end
	answer.live, answer.params = nil, nil;
	answer.domain = answer.domain or p.domain;
	return done(answer);
end

live["users.create"] = function (p, answer)
	local username, host = jid_split(p.user);
	if not local_host(host) then return fail("not_found", host .. " is not a domain of this server"); end
	if usermanager.user_exists(username, host) then return fail("conflict", p.user .. " already exists"); end
	local invites = prosody.hosts[host].modules.invites;
	local result = { user = p.user, seats_left = answer.seats_left };
	if p.invite and p.invite ~= "false" then
		-- The person registers the account themselves through the invite.
		if not invites then return fail("unavailable", "invites need mod_invites on " .. host); end
		local invite = invites.create_account(username);
		if not invite then return fail("internal", "could not create the invite"); end
		result.invite, result.landing_page, result.expires = invite.uri, invite.landing_page, invite.expires;
		return done(result);
	end
	-- A random password nobody sees; the person sets their own through the link.
	local ok, err = usermanager.create_user(username, id.long() .. id.long(), host);
	if not ok then return fail(tostring(err):match("seat") and "conflict" or "internal", tostring(err)); end
	if not rawget(prosody.hosts[host].users, "imhost_wrapped") then -- offline: no wrapper reported it
		core_call("users.record", { user = p.user, event = "created" });
	end
	if invites then
		local reset = invites.create_account_reset(username);
		result.reset_link = reset and (reset.landing_page or reset.uri);
	else
		result.note = "load mod_invites for a reset link; until then set a password with prosodyctl passwd";
	end
	return done(result);
end

live["users.delete"] = function (p)
	local username, host = jid_split(p.user);
	if not local_host(host) then return fail("not_found", host .. " is not a domain of this server"); end
	if not usermanager.user_exists(username, host) then return fail("not_found", p.user .. " does not exist"); end
	kick(username, host, nil, "Your account has been deleted");
	local ok, err = usermanager.delete_user(username, host);
	if not ok then return fail("internal", tostring(err)); end
	if not rawget(prosody.hosts[host].users, "imhost_wrapped") then
		core_call("users.record", { user = p.user, event = "deleted" });
	end
	return done({ user = p.user, deleted = true });
end

live["users.reset_password"] = function (p)
	local username, host = jid_split(p.user);
	if not local_host(host) then return fail("not_found", host .. " is not a domain of this server"); end
	if not usermanager.user_exists(username, host) then return fail("not_found", p.user .. " does not exist"); end
	local invites = prosody.hosts[host].modules.invites;
	if not invites then return fail("unavailable", "reset links need mod_invites on " .. host); end
	local reset = invites.create_account_reset(username);
	if not reset then return fail("internal", "could not create the reset link"); end
	return done({ user = p.user, reset_link = reset.landing_page or reset.uri, uri = reset.uri, expires = reset.expires });
end

live["users.sessions"] = function (p)
	local username, host = jid_split(p.user);
	return done({ user = p.user, sessions = sessions_of(username, host) });
end

live["users.kick"] = function (p)
	local username, host = jid_split(p.user);
	local n = kick(username, host, p.resource, "Disconnected by an administrator");
	return done({ user = p.user, kicked = n });
end

-- users.lock: C stores the lock; the glue closes the sessions, whose next login
-- is then refused at SASL with the reason.
live["users.lock"] = function (p, answer)
	local username, host = jid_split(p.user);
	local n = kick(username, host, nil, "Your account has been locked" .. (p.reason and (": " .. p.reason) or ""));
	answer.live, answer.params = nil, nil;
	answer.user, answer.locked, answer.kicked = p.user, true, n;
	return done(answer);
end

--- Channels ----------------------------------------------------------------------------

local function bool(v)
	if v == nil or v == json.null then return nil; end
	return v == true or v == "true" or v == "1" or v == 1;
end

local function room_info(room)
	local occupants = {};
	for nick in room:each_occupant() do occupants[#occupants + 1] = select(3, jid_split(nick)); end
	table.sort(occupants);
	return {
		room = room.jid, name = room:get_name(), description = room:get_description(),
		persistent = room:get_persistent() and true or false,
		members_only = room:get_members_only() and true or false,
		moderated = room:get_moderated() and true or false,
		password_protected = room:get_password() ~= nil,
		max_occupants = room._data.imhost_max_occupants,
		public_logging = room._data.archiving and true or false,
		occupants = occupants,
		last_activity = room._data.imhost_last_activity,
	};
end

-- Applies the settings present in p (absent ones stay as they are).
local function configure(room, p)
	if p.name then room:set_name(p.name); end
	if p.description then room:set_description(p.description); end
	if bool(p.persistent) ~= nil then room:set_persistent(bool(p.persistent)); end
	if bool(p.members_only) ~= nil then room:set_members_only(bool(p.members_only)); end
	if bool(p.moderated) ~= nil then room:set_moderated(bool(p.moderated)); end
	if p.password then room:set_password(p.password ~= "" and p.password or nil); end
	if p.max_occupants then room._data.imhost_max_occupants = tonumber(p.max_occupants); end
	-- mod_muc_mam reads _data.archiving; without it the flag is kept for when it loads.
	if bool(p.public_logging) ~= nil then room._data.archiving = bool(p.public_logging); end
	room:save(true);
end

live["channels.list"] = function (p)
	local muc, muc_host = muc_of(p.domain);
	if not muc then return fail("not_found", "no MUC component for " .. p.domain); end
	local rooms = {};
	for room in muc.all_rooms() do rooms[#rooms + 1] = room_info(room); end
	table.sort(rooms, function (a, b) return a.room < b.room; end);
	return done({ domain = p.domain, service = muc_host, rooms = rooms });
end

live["channels.create"] = function (p)
	local room, muc, why = room_of(p.room);
	if not muc then return fail("not_found", why); end
	if room then return fail("conflict", p.room .. " already exists"); end
	room = muc.create_room(p.room);
	if not room then return fail("internal", "could not create " .. p.room); end
	configure(room, p);
	return done(room_info(room));
end

live["channels.configure"] = function (p)
	local room, muc, why = room_of(p.room);
	if not muc then return fail("not_found", why); end
	if not room then return fail("not_found", p.room .. " does not exist"); end
	configure(room, p);
	return done(room_info(room));
end

live["channels.set_affiliation"] = function (p)
	local room, muc, why = room_of(p.room);
	if not muc then return fail("not_found", why); end
	if not room then return fail("not_found", p.room .. " does not exist"); end
	local ok, err_type, err_cond = room:set_affiliation(true, jid_bare(p.jid), p.affiliation ~= "none" and p.affiliation or nil);
	if not ok then return fail("invalid", ("%s %s"):format(tostring(err_type), tostring(err_cond))); end
	return done({ room = p.room, jid = p.jid, affiliation = p.affiliation });
end

live["channels.destroy"] = function (p)
	local room, muc, why = room_of(p.room);
	if not muc then return fail("not_found", why); end
	if not room then return fail("not_found", p.room .. " does not exist"); end
	local redirect = p.redirect and p.redirect ~= "" and p.redirect or nil;
	room:destroy(redirect, p.reason);
	return done({ room = p.room, destroyed = true, redirect = redirect });
end

live["channels.cleanup"] = function (p, _, ctx)
	local muc = muc_of(p.domain);
	if not muc then return fail("not_found", "no MUC component for " .. p.domain); end
	local now = ctx.now or os.time();
	local cutoff = now - (tonumber(p.idle_days) or 30) * 86400;
	local dry = bool(p.dry_run) ~= false;
	local unused = {};
	for room in muc.all_rooms() do
		local last = room._data.imhost_last_activity or room.created or 0;
		if not room:has_occupant() and last < cutoff then unused[#unused + 1] = room; end
	end
	local names = {};
	for _, room in ipairs(unused) do
		names[#names + 1] = room.jid;
		if not dry then room:destroy(nil, "Removed: unused for " .. p.idle_days .. " days"); end
	end
	table.sort(names);
	return done({ domain = p.domain, rooms = names, destroyed = not dry });
end

-- Operations the offline CLI refuses: their effect needs the running server
-- (reminders.run records reminders as sent; only the server can deliver them).
M.server_only = { ["reminders.run"] = true };

-- Which live operations work offline (prosodyctl mod_imhost, no server running).
local offline_ok = { ["users.create"] = true, ["users.delete"] = true, ["users.list"] = true };

-- Runs the live part of op after C answered `answer` (decoded).  ctx is the
-- caller's context.  Returns {ok, json}.
function M.run_live(opname, answer, ctx)
	local handler = live[opname];
	if not handler then
		return fail("internal", opname .. " is live but has no live handler in the glue");
	end
	local p = type(answer.params) == "table" and answer.params or {};
	if prosody.process_type ~= "prosody" then
		if not offline_ok[opname] then
			return fail("unavailable", ("%s needs the running server: use prosodyctl shell imhost %s ...")
				:format(opname, (opname:gsub("%.", "_"))));
		end
		local host = p.domain or select(2, jid_split(p.user or ""));
		if not host or not prosody.hosts[host] then return fail("not_found", "no such host " .. tostring(host)); end
		require "core.storagemanager".initialize_host(host);
		if not prosody.hosts[host].users or prosody.hosts[host].users.name == "null" then
			usermanager.initialize_host(host);
		end
	end
	local ok, res = pcall(handler, p, answer, ctx);
	if not ok then
		log("error", "imhost: live %s failed: %s", opname, tostring(res));
		return fail("internal", opname .. " failed on the server");
	end
	return res;
end

--- After a successful (non-live) operation: events and live side effects -------------

local after = {};

-- Suspended-domain and locked-user answers are cached for the SASL path; any
-- operation that changes them clears the cache.
local may_login_cache = {}; -- jid -> { value = false | reason, until_t = epoch }
local LOGIN_CACHE_TTL = 30;

after["domains.suspend"] = function (p, result)
	local domain = result.domain or p.domain;
	may_login_cache = {};
	local h = local_host(domain);
	if h then
		for username in pairs(h.sessions) do
			kick(username, domain, nil, "This service is suspended: " .. tostring(result.reason or p.reason or ""));
		end
	end
	fire("imhost-domain-suspended", { domain = domain, reason = result.reason or p.reason, result = result });
end

-- A newly attached domain: count the accounts it already has.
local reconcile;
after["domains.attach"] = function (p, result) reconcile(result.domain or p.domain); end

after["domains.unsuspend"] = function (p, result)
	may_login_cache = {};
	fire("imhost-domain-unsuspended", { domain = result.domain or p.domain, result = result });
end

after["users.unlock"] = function () may_login_cache = {}; end
after["users.lock"] = function (p, result)
	may_login_cache = {};
	if not result.kicked then -- C did not hand it to the live handler: kick here
		local username, host = jid_split(result.user or p.user or "");
		if username then kick(username, host, nil, "Your account has been locked"); end
	end
end

-- Before an operation runs on the server: reminders.run first reads the served
-- certificates, so that it never acts on a stale expiry or fingerprint.
local check_all_certs;
function M.before(opname)
	if opname == "reminders.run" and prosody.process_type == "prosody" then check_all_certs(); end
end

-- Whether M.after has anything to do for an operation: callers skip decoding
-- results nobody reads (a search result is large; util.json runs on the loop).
function M.has_after(opname)
	return after[opname] ~= nil;
end

function M.after(opname, params, result, ctx)
	local f = after[opname];
	if f then
		local ok, err = pcall(f, params or {}, result or {}, ctx);
		if not ok then log("error", "imhost: after %s: %s", opname, tostring(err)); end
	end
end

--- Hooks on each VirtualHost ----------------------------------------------------------

-- May user@host be created now (seat limit, suspension)?  true, or nil, reason.
-- Domains no customer owns have no limit.
local function may_create(username, host)
	-- Outside a runner (a provider call from a timer or another module's code)
	-- the answer is needed now: on this thread, a handful of primary-key and
	-- index reads (domain, account, seats counted on account(domain), billing
	-- restriction), no write.
	local answer, err = core_call("users.may_create", { user = username .. "@" .. host });
	if not answer then
		if err.code == "not_found" then return true; end
		log("warn", "imhost: seat check for %s@%s failed (%s); refusing", username, host, tostring(err.message));
		return nil, "the seat check failed: " .. tostring(err.message);
	end
	if answer.allowed == false then
		return nil, type(answer.reason) == "string" and answer.reason or "account creation refused";
	end
	return true;
end

-- nil, reason when user@host may not log in (locked, or the domain suspended).
local function login_refusal(username, host)
	local key = username .. "@" .. host;
	local entry = may_login_cache[key];
	if entry and entry.until_t > os.time() then return entry.value or nil; end
	-- SASL and resource binding run in the session's runner: a worker answers.
	-- Outside one, on this thread: two primary-key reads (account, domain), and
	-- the answer is cached for LOGIN_CACHE_TTL seconds.
	local answer, err = core_call("users.may_login", { user = key });
	if not answer then
		if err.code ~= "not_found" then log("warn", "imhost: users.may_login %s: %s", key, err.message); end
		return nil; -- never lock everybody out because of an imhost fault
	end
	local reason = false;
	if not answer.allowed then
		reason = type(answer.reason) == "string" and answer.reason or "Your account is not allowed to log in";
	end
	-- Kept briefly: changes made outside this process (prosodyctl while the
	-- server runs, another billing path) are seen within LOGIN_CACHE_TTL seconds.
	may_login_cache[key] = { value = reason, until_t = os.time() + LOGIN_CACHE_TTL };
	return reason or nil;
end

-- Wraps a SASL handler so that a successful authentication of a refused account
-- turns into <failure><account-disabled/><text>reason</text></failure>.
local function wrap_sasl(handler, host)
	local process, clean_clone = handler.process, handler.clean_clone;
	handler.process = function (self, message)
		local status, ret, text = process(self, message);
		if status == "success" and self.username then
			local reason = login_refusal(self.username, host);
			if reason then return "failure", "account-disabled", reason; end
		end
		return status, ret, text;
	end;
	handler.clean_clone = function (self) return wrap_sasl(clean_clone(self), host); end;
	return handler;
end

-- Wraps the host's auth provider once: seats on create, facts back to C.
local function wrap_provider(host)
	local provider = prosody.hosts[host].users;
	-- rawget: the provider's metatable (the null provider) answers any missing key.
	if not provider or rawget(provider, "imhost_wrapped") or provider.name == "null" then return; end
	local create, delete, sasl = provider.create_user, provider.delete_user, provider.get_sasl_handler;
	provider.create_user = function (username, password) -- luacheck: ignore 122
		if not rawget(provider, "imhost_reconciling") and not usermanager.user_exists(username, host) then
			local ok, why = may_create(username, host);
			if not ok then return nil, why; end
		end
		local ok, err = create(username, password);
		if ok then
			local jid = username .. "@" .. host;
			core_record("users.record", { user = jid, event = "created" });
			may_login_cache[jid] = nil;
			fire("imhost-user-created", { username = username, host = host, jid = jid });
		end
		return ok, err;
	end;
	provider.delete_user = function (username) -- luacheck: ignore 122
		local ok, err = delete(username);
		if ok then
			local jid = username .. "@" .. host;
			core_record("users.record", { user = jid, event = "deleted" });
			fire("imhost-user-deleted", { username = username, host = host, jid = jid });
		end
		return ok, err;
	end;
	provider.get_sasl_handler = function (...) -- luacheck: ignore 122
		return wrap_sasl(sasl(...), host);
	end;
	provider.imhost_wrapped = true; -- luacheck: ignore 122
end

function M.add_host(host_module)
	local host = host_module.host;
	wrap_provider(host);
	host_module:hook("item-added/auth-provider", function () wrap_provider(host); end, -100);

	-- In-band registration: refuse early with a clear error (the provider wrap
	-- would refuse too, but with a generic error condition).
	host_module:hook("user-registering", function (event)
		if usermanager.user_exists(event.username, host) then return; end
		local ok, why = may_create(event.username, host);
		if not ok then
			event.allowed = false;
			event.error = { type = "cancel", condition = "resource-constraint", text = why };
			event.reason = why;
		end
	end, 100);

	-- A session that got past SASL (e.g. authenticated before a suspension) is
	-- still refused at resource binding, with the reason.
	host_module:hook("pre-resource-bind", function (event)
		local session = event.session;
		local reason = session.username and login_refusal(session.username, host);
		if reason then
			event.error = { type = "auth", condition = "not-authorized", text = reason };
			return false;
		end
	end, 100);

	host_module:hook("resource-bind", function (event)
		local session = event.session;
		core_report("users.record", { user = session.username .. "@" .. host, event = "login",
			client = session.resource and session.resource:match("^(%a[%w%-_ ]*)[%.%-]") or nil });
	end);
end

-- On a MUC component: keep last activity and the max_occupants setting.
function M.add_muc_host(host_module)
	host_module:hook("muc-occupant-groupchat", function (event)
		event.room._data.imhost_last_activity = os.time();
	end, -20);
	host_module:hook("muc-occupant-pre-join", function (event)
		local room = event.room;
		local max = room._data.imhost_max_occupants;
		if not max then return; end
		local n = 0;
		for _ in room:each_occupant() do n = n + 1; end
		if n >= max then
			event.origin.send(st.error_reply(event.stanza, "cancel", "service-unavailable",
				"This channel is full (" .. max .. " occupants)"));
			return true;
		end
	end, 20);
end

--- At start: reconcile accounts, read certificates, send due reminders ----------------

-- Reports host's account list to C (on a worker); returns a promise resolved when
-- C has applied it.
function reconcile(host)
	local h = local_host(host);
	if not h or not h.users or h.users.name == "null" then return promise.resolve(); end
	local list = {};
	for username in usermanager.users(host) do list[#list + 1] = username .. "@" .. host; end
	return core_async("users.reconcile", { domain = host, users = table.concat(list, " ") }):next(function (r)
		if not r.value then
			if r.err.code ~= "not_found" then log("warn", "imhost: users.reconcile %s: %s", host, r.err.message); end
			return;
		end
		log("debug", "imhost: reconciled %d accounts on %s", #list, host);
		-- Accounts imhost knew that are gone (prosodyctl deluser while the server
		-- was down): announce them and let the owner of personal data erase it.
		for _, jid in ipairs(r.value.removed or {}) do
			local username = jid_split(jid);
			fire("imhost-user-deleted", { username = username, host = host, jid = jid, offline = true });
			if services.on_account_missing then services.on_account_missing(jid); end
		end
	end);
end

local months = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 };
-- "Dec  7 11:27:26 2026 GMT" (OpenSSL's ASN1 time text) -> its fields, or nil.
local function time_fields(openssl_time)
	local mon, day, h, m, s, year = tostring(openssl_time):match("^(%a%a%a)%s+(%d+)%s+(%d+):(%d+):(%d+)%s+(%d+)");
	if not mon or not months[mon] then return nil; end
	return { year = tonumber(year), month = months[mon], day = tonumber(day),
		hour = tonumber(h), min = tonumber(m), sec = tonumber(s), isdst = false };
end

local function iso_of(t)
	return ("%04d-%02d-%02dT%02d:%02d:%02d"):format(t.year, t.month, t.day, t.hour, t.min, t.sec);
end

-- The certificate file Prosody serves for host: its `ssl` option, else what
-- certmanager finds in the certificates directory.
local function cert_path(host)
	local ssl = module_api:context(host):get_option("ssl");
	if type(ssl) == "table" and ssl.certificate then return ssl.certificate; end
	local ok, found = pcall(function () return require "core.certmanager".find_host_cert(host); end);
	return ok and found and found.certificate or nil;
end

-- Reads host's served certificate (a small local file) and returns the
-- certs.record parameters; a missing or unreadable file is logged and reported
-- as an error, never fatal.
local function cert_report(host)
	local path = cert_path(host);
	local problem, cert;
	if not path then
		problem = "no certificate configured or found";
	else
		local f, err = io.open(path, "r");
		if not f then
			problem = "cannot read " .. path .. ": " .. tostring(err);
		else
			local pem = f:read("a");
			f:close();
			local ok, loaded = pcall(require "ssl.x509".load, pem);
			if not ok or not loaded then problem = "not a PEM certificate: " .. path; else cert = loaded; end
		end
	end
	if problem then
		log("warn", "imhost: TLS certificate of %s: %s", host, problem);
		return { domain = host, error = problem };
	end
	local after_t, before_t = time_fields(cert:notafter()), time_fields(cert:notbefore());
	if not after_t or not before_t then
		return { domain = host, error = "unreadable validity dates in " .. path };
	end
	-- Both read as local time by os.time: the difference is the lifetime either way.
	local lifetime = os.time(after_t) - os.time(before_t);
	return { domain = host, not_after = iso_of(after_t),
		fingerprint = cert:digest("sha256"), lifetime = lifetime > 0 and lifetime or nil };
end

local function cert_recorded(host, value, err)
	if not value and err.code ~= "not_found" then
		log("warn", "imhost: certs.record %s: %s", host, err.message);
	end
end

-- The JIDs a reminder goes to: the customer's owners and the staff, once each.
local function recipients_of(reminder)
	local to, seen = {}, {};
	for _, list in ipairs({ reminder.owners, reminder.staff }) do
		for _, jid in ipairs(type(list) == "table" and list or {}) do
			if not seen[jid] then seen[jid] = true; to[#to + 1] = jid; end
		end
	end
	return to;
end

-- Delivers what reminders.run returned (C has already recorded each as sent).
local function deliver_reminders(res)
	for _, r in ipairs(res.reminders or res.due or {}) do
		local from = local_host(r.object) and r.object or nil;
		for _, to in ipairs(recipients_of(r)) do
			local from_host = from or select(2, jid_split(to));
			if local_host(from_host) then
				module_api:context(from_host):send(st.message({ from = from_host, to = to, type = "chat", id = id.short() })
					:text_tag("body", r.text or r.message or json.encode(r)));
			end
		end
		fire("imhost-expiry-reminder", { reminder = r });
		log("info", "imhost: reminder %s %s %s sent", tostring(r.kind), tostring(r.object or r.domain), tostring(r.threshold));
	end
end

-- reminders.run from any surface (the daily job, or an operator) delivers.
after["reminders.run"] = function (_, result) deliver_reminders(result); end

local function imhost_hosts()
	local list = {};
	for host, h in pairs(prosody.hosts) do
		if h.type == "local" and h.modules.imhost then list[#list + 1] = host; end
	end
	return list;
end

-- Before reminders.run from a surface (M.before): records every certificate
-- first; inside a runner each waits for a worker, else (never in practice: the
-- surfaces run in runners) on this thread.
function check_all_certs()
	for _, host in ipairs(imhost_hosts()) do
		cert_recorded(host, core_call("certs.record", cert_report(host)));
	end
end

-- Everything the daily job does, also run at start, off the loop: all
-- certificates recorded, then reminders.run (so it never reads a stale expiry),
-- then delivery on the loop.  Returns a promise.
function M.daily()
	local records = {};
	for _, host in ipairs(imhost_hosts()) do
		records[#records + 1] = core_async("certs.record", cert_report(host)):next(function (r)
			cert_recorded(host, r.value, r.err);
		end);
	end
	return promise.all(records):next(function ()
		return core_async("reminders.run", {});
	end):next(function (r)
		if not r.value then
			log("warn", "imhost: reminders.run: %s", r.err.message);
			return;
		end
		deliver_reminders(r.value);
	end):catch(function (err)
		log("error", "imhost: daily accounts job: %s", tostring(err));
	end);
end

-- At start: every host's accounts reconciled (on workers), then the daily job.
function M.start()
	local reconciled = {};
	for _, host in ipairs(imhost_hosts()) do
		local users = local_host(host).users;
		if users then users.imhost_reconciling = true; end
		local ok, p = pcall(reconcile, host);
		if users then users.imhost_reconciling = nil; end
		if not ok then
			log("error", "imhost: reconcile %s: %s", host, tostring(p));
		else
			reconciled[#reconciled + 1] = p:catch(function (err)
				log("error", "imhost: reconcile %s: %s", host, tostring(err));
			end);
		end
	end
	return promise.all(reconciled):next(function () return M.daily(); end);
end

function M.init(deps)
	services = deps;
	call_sync, submit, fire, module_api = deps.call_sync, deps.submit, deps.fire, deps.module;
	log = function (...) return module_api:log(...); end;
	M.jid_prep = jid_prep;
end

return M;
