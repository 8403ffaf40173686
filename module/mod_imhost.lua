-- mod_imhost: an IM host's client area inside Prosody.
--
-- Glue only: this file reads options, turns Prosody events into plain values for
-- the C core (imhost_core.so), and wires the operations registry to Prosody's four
-- surfaces (imhost_surfaces.lib.lua).  Logic, storage and rendering live in C.
--
-- Load it globally (modules_enabled = { "imhost" }) and on each MUC component whose
-- rooms should be logged.  Options and their defaults are documented in
-- docs/operators.md.

module:set_global();

local json = require "util.json";
local jid_util = require "util.jid";
local promise = require "util.promise";
local usermanager = require "core.usermanager";
local server = require "net.server";

local jid_split, jid_host = jid_util.split, jid_util.host;

-- The C core lives beside this file; Prosody's plugin_paths finds Lua files only.
local core_path = module:get_directory() .. "/imhost_core.so";
local core_open, load_err = package.loadlib(core_path, "luaopen_imhost_core");
if not core_open then
	error("imhost: cannot load the C core " .. core_path .. ": " .. tostring(load_err));
end
local core = core_open();

-- Options are validated when read: a bad value stops the module with a clear error
-- rather than running with a surprise.  (Prosody 0.12 has no ranged getters.)
local function option_number(name, default, min, max)
	local value = module:get_option_number(name, default);
	if value ~= math.floor(value) or value < min or (max and value > max) then
		error(("imhost: %s must be a whole number from %d%s (got %s)"):format(
			name, min, max and (" to " .. max) or "", tostring(value)));
	end
	return value;
end

local function option_enum(name, default, ...)
	local value = module:get_option_string(name, default);
	for _, allowed in ipairs({ default, ... }) do
		if value == allowed then return value; end
	end
	error(("imhost: %s must be one of %s (got %q)"):format(name, table.concat({ default, ... }, ", "), value));
end

-- Global options, read once.  Per-host options are read in module.add_host.
local function database_path()
	local path = module:get_option_string("imhost_database", "imhost.sqlite");
	return require "util.paths".resolve_relative_path(prosody.paths.data, path);
end
local erasure_mode = option_enum("imhost_log_erasure", "delete", "pseudonymize");

local function open_core(sync)
	local db, err = core.open {
		path = database_path();
		sync = sync;
		queue_max = option_number("imhost_queue_max", 65536, 1024);
		batch_max = option_number("imhost_batch_max", 2048, 1);
		flush_ms = option_number("imhost_flush_interval", 200, 10, 1000);
		workers = option_number("imhost_workers", 2, 1, 16);
		erasure = erasure_mode;
	};
	if not db then
		error("imhost: cannot open database " .. database_path() .. ": " .. tostring(err));
	end
	return db;
end

--- Operations: synchronous calls and off-loop calls --------------------------------

-- The registry stays in C; the surfaces decode a declaration when they need it.
-- A decoded copy of all of them was ~110 KB of resident Lua heap, which the
-- collector marks and sweeps again in every cycle while Prosody routes.
local operations = {};
do
	local recent = require "util.cache".new(16); -- HTTP calls and ad-hoc runs repeat a few
	local function tidy(op)
		if op.scope == json.null then op.scope = nil; end -- JSON null: no scope
		return op;
	end
	-- The declaration of one operation (read-only: it may be shared), or nil.
	function operations.get(name)
		if type(name) ~= "string" then return nil; end
		local op = recent:get(name);
		if op == nil then
			local text = core.operation(name);
			if text == nil then return nil; end
			op = tidy(json.decode(text));
			recent:set(name, op);
		end
		return op;
	end
	-- Every declaration, freshly decoded: for listings and the OpenAPI document.
	function operations.all()
		local list = json.decode(core.operations()).operations;
		for _, op in ipairs(list) do tidy(op); end
		return list;
	end
end

local db; -- the open core (set in the server process, or by the CLI)
local pending = {}; -- id -> function (completion): settles that job's promise
local next_id = 0;

-- Queues a job on a worker thread under a fresh id: start(id) queues it (true,
-- or nil, err).  Returns a promise of finish(completion), or of refused(err)
-- when the queue would not take it.
local function on_worker(start, finish, refused)
	return promise.new(function (resolve)
		next_id = next_id + 1;
		local id = next_id;
		local ok, err = start(id);
		if not ok then
			resolve(refused(err));
			return;
		end
		pending[id] = function (done) resolve(finish(done)); end;
	end);
end

-- Runs an operation on a worker thread; returns a promise of { ok, json = text }.
local function submit(op, params, ctx)
	return on_worker(function (id) return db:submit(id, op, json.encode(params), json.encode(ctx)); end,
		function (done) return { ok = done.ok, json = done.result }; end,
		function (err)
			return { ok = false, json = json.encode({ error = { code = "unavailable", message = tostring(err) } }) };
		end);
end

-- Checks a SASLprepped password against a SCRAM record (hash: "SHA-1" or
-- "SHA-256") on a worker thread (module/core/scram.h).  Not an operation: on no
-- surface, never audited.  A promise of { outcome = "match" | "mismatch" |
-- "bad_record" | "failed" | "unavailable" }.
local function scram_check(password, salt, iterations, stored_key, server_key, hash)
	return on_worker(function (id)
			return db:scram_check(id, password, salt, iterations, stored_key, server_key, hash);
		end,
		function (done) return { outcome = done.result }; end,
		function () return { outcome = "unavailable" }; end);
end

local function drain_completions()
	for _, done in ipairs(db:drain()) do
		local finish = pending[done.id];
		if finish then
			pending[done.id] = nil;
			finish(done);
		end
	end
end

local function call_sync(op, params, ctx)
	local ok, result = db:call(op, json.encode(params), json.encode(ctx));
	return { ok = ok, json = result };
end

--- Who is asking: the context every operation is called with -----------------------

-- Global roles as the glue knows them: the operator on the command line and the
-- shell, a Prosody admin as server admin, anyone else a plain user.  Staff and
-- customer roles live in imhost's own tables; the C registry resolves them per
-- call and per domain, so they are never taken from here.
local function context_for(actor, surface, tz)
	local roles;
	if surface == "cli" or surface == "shell" then
		roles = { "operator" };
	elseif usermanager.is_admin(actor, jid_host(actor)) or usermanager.is_admin(actor) then
		roles = { "server_admin" };
	else
		roles = { "user" };
	end
	return { actor = actor, roles = roles, surface = surface, tz = tz,
		prosody_admin = roles[1] == "server_admin" or roles[1] == "operator" };
end

-- What every part of the glue is given: the module, the core, and three ways to
-- reach the registry (late-bound: db is opened below, or by the CLI).
local services = {
	module = module; core = core; context_for = context_for;
	call_sync = function (...) return call_sync(...); end;
	submit = function (...) return submit(...); end;
	fire = function (name, data) return module:fire_event(name, data); end;
};

local accounts = module:require("imhost_accounts");
accounts.init(services);
services.accounts = accounts;

-- Test-only: imhost_test_clock = <epoch> fixes the core's clock at start and adds
-- the admin-shell command `imhost:test_set_clock(epoch)`.  Never set it in
-- production: every expiry, reminder and token then runs on the fixed time.
local test_clock = module:get_option_number("imhost_test_clock");
local extra_shell;
if test_clock then
	core.set_clock(math.floor(test_clock));
	module:log(prosody.process_type == "prosody" and "warn" or "debug", "imhost_test_clock is set: the clock is fixed at %d (tests only)", test_clock);
	extra_shell = {
		test_set_clock = function (_, epoch)
			local t = tonumber(epoch);
			if not t then return nil, "usage: imhost:test_set_clock(epoch)"; end
			core.set_clock(math.floor(t));
			return true, "clock set to " .. math.floor(t);
		end;
	};
end

-- Billing on the server (imhost_billing.lib.lua): webhooks, signed statement links,
-- the daily run and overdue actions, usage metering.
local billing = module:require("imhost_billing");
billing.init(services);

-- The support desk (imhost_desk.lib.lua; its address is mod_imhost_desk): delivers
-- every desk.* result's notifications, from whichever surface ran it.
local desk = module:require("imhost_desk");
desk.init(services);

-- Who calls the HTTP API (imhost_httpauth.lib.lua): passwords are checked on
-- the workers; failed HTTP Basic attempts are limited per client address.
local httpauth = module:require("imhost_httpauth");
httpauth.init {
	verify_token = function (token) return db and db:verify_token(token); end;
	scram_check = scram_check;
	max_failures = option_number("imhost_http_auth_max_failures", 5, 1, 10000);
	failure_window = option_number("imhost_http_auth_failure_window", 60, 1, 86400);
};

local surfaces = module:require("imhost_surfaces");
surfaces.init {
	accounts = accounts;
	extra_shell = extra_shell;
	core = core;
	operations = operations;
	context_for = context_for;
	submit = desk.wrap(billing.wrap(function (...) return submit(...); end));
	call_sync = desk.wrap(billing.wrap(function (...) return call_sync(...); end));
	authenticate = httpauth.authenticate;
};

--- prosodyctl mod_imhost <op> ... : offline, against the database ----------------------

function module.command(arg)
	db = open_core(true);
	local code = surfaces.cli(arg);
	db:close();
	db = nil;
	return code;
end

if prosody.process_type ~= "prosody" then
	return; -- prosodyctl: nothing below runs outside the server
end

--- The server process -------------------------------------------------------------

db = open_core(module:get_option_boolean("imhost_log_sync", false));

local watch = server.watchfd(db:fd(), drain_completions);
module:shared("/*/imhost/core").desk = desk; -- for mod_imhost_desk components

-- Metrics: gauges read from the writer's counters at each stats collection.
local metric_queue = module:metric("gauge", "queue_depth", "", "Log entries waiting for the writer thread");
local metric_batch = module:metric("gauge", "batch_size", "", "Entries in the last committed batch");
local metric_flush = module:metric("gauge", "flush_latency", "seconds", "Duration of the last batch commit");
local metric_dropped = module:metric("gauge", "dropped_entries", "", "Log entries dropped because the queue was full (since start)");
local metric_written = module:metric("gauge", "written_entries", "", "Log entries committed (since start)");
local metric_dbsize = module:metric("gauge", "database_size", "bytes", "Size of the imhost database");
local metric_degraded = module:metric("gauge", "degraded", "", "1 while the database cannot be written");
local was_degraded = false;

local function update_metrics()
	local s = db:status();
	metric_queue:with_labels():set(s.queue_depth);
	metric_batch:with_labels():set(s.batch_size);
	metric_flush:with_labels():set((s.flush_ms or 0) / 1000);
	metric_dropped:with_labels():set(s.dropped);
	metric_written:with_labels():set(s.written);
	metric_dbsize:with_labels():set(s.db_bytes);
	metric_degraded:with_labels():set(s.degraded and 1 or 0);
	if s.degraded ~= was_degraded then
		was_degraded = s.degraded;
		if s.degraded then
			module:log("error", "Interaction log degraded (database not writable): %s; routing continues, entries are queued", s.last_error);
		else
			module:log("info", "Interaction log recovered: the database is writable again");
		end
		module:fire_event(s.degraded and "imhost-degraded" or "imhost-recovered", { status = s });
	end
end
module:hook_global("stats-update", update_metrics);
module:add_timer(5, function () update_metrics(); return 5; end);

--- Logging hooks, per host -------------------------------------------------------------

-- Per-message work (body, encryption scheme: one pass) lives in
-- imhost_logpath.lib.lua.  The hooks pass positional arguments to the core (no
-- table per message) and full JIDs where they have them: the core keeps the bare
-- part, so no jid_bare() string is built per message.
local scan_message = module:require("imhost_logpath").scan;

-- Prosody's session resource often names the client ("Conversations.xY3z", "gajim.AB12").
local function client_of(resource)
	return resource and resource:match("^(%a[%w%-_ ]*)[%.%-]") or nil;
end

local function parent_domain(host)
	-- A MUC component "rooms.example.com" belongs to the VirtualHost "example.com".
	local parent = host:match("^[^.]+%.(.+)$");
	if parent and prosody.hosts[parent] and prosody.hosts[parent].type == "local" then
		return parent;
	end
	return host;
end

function module.add_host(host_module)
	local host = host_module.host;
	local log_bodies = host_module:get_option_boolean("imhost_log_bodies", false);
	local is_muc = host_module:get_option_string("component_module") == "muc";

	if is_muc then
		-- Hosts activate in no fixed order: find the parent VirtualHost at first use.
		local domain;
		host_module:hook("muc-occupant-groupchat", function (event)
			domain = domain or parent_domain(host);
			local stanza = event.stanza;
			local body, encrypted = scan_message(stanza);
			if not body and not encrypted then return; end
			db:log_message_args(domain, event.from, nil, event.room.jid, "groupchat",
				stanza.attr.id, body and #body or 0,
				(log_bodies and not encrypted) and body or nil, encrypted);
		end, -10); -- after the role checks (priority 50) have refused what is refused
	else
		-- What local users send (pre-message fires only for local sessions' stanzas).
		local function on_sent(event)
			local stanza = event.stanza;
			local kind = stanza.attr.type or "normal";
			if kind == "groupchat" or kind == "error" then return; end -- rooms log at the MUC
			local body, encrypted = scan_message(stanza);
			if not body and not encrypted then return; end -- chat states, receipts, ...
			-- A local session's full JID (the router stamped it as 'from').
			local origin = event.origin;
			local from = origin.full_jid or (origin.username and (origin.username .. "@" .. host)) or stanza.attr.from;
			db:log_message_args(host, from, stanza.attr.to, nil, kind, stanza.attr.id,
				body and #body or 0, (log_bodies and not encrypted) and body or nil, encrypted);
		end
		-- What remote servers deliver to local users (a local sender was logged above).
		local function on_received(event)
			if event.origin.type ~= "s2sin" then return; end
			local stanza = event.stanza;
			local kind = stanza.attr.type or "normal";
			if kind == "groupchat" or kind == "error" then return; end
			local body, encrypted = scan_message(stanza);
			if not body and not encrypted then return; end
			db:log_message_args(host, stanza.attr.from, stanza.attr.to, nil, kind, stanza.attr.id,
				body and #body or 0, (log_bodies and not encrypted) and body or nil, encrypted);
		end
		host_module:hook("pre-message/bare", on_sent, 1);
		host_module:hook("pre-message/full", on_sent, 1);
		host_module:hook("pre-message/host", on_sent, 1);
		host_module:hook("message/bare", on_received, 1);
		host_module:hook("message/full", on_received, 1);

		host_module:hook("resource-bind", function (event)
			local session = event.session;
			db:log_session { domain = host; user = session.username .. "@" .. host;
				resource = session.resource; client = client_of(session.resource); event = "login" };
		end);
		host_module:hook("resource-unbind", function (event)
			local session = event.session;
			if not session.resource then return; end
			db:log_session { domain = host; user = session.username .. "@" .. host;
				resource = session.resource; client = client_of(session.resource); event = "logout" };
		end);

		surfaces.add_host(host_module);
		accounts.add_host(host_module);
		billing.add_host(host_module);
	end
	if is_muc then accounts.add_muc_host(host_module); billing.add_muc_host(host_module); end
end

--- Privacy: erase a deleted user's entries -------------------------------------------

local function erase_user(user_jid, why)
	submit("logs.erase", { user = user_jid }, context_for("imhost", "shell")):next(function (res)
		if res.ok then
			module:log("info", "Erased interaction log of %s (%s): %s", user_jid, why, res.json);
		else
			module:log("error", "Could not erase interaction log of %s: %s", user_jid, res.json);
		end
	end);
	-- The desk keeps the tickets but not the person (desk_erase.c); same mode.
	submit("desk.erase", { user = user_jid }, context_for("imhost", "shell")):next(function (res)
		module:log(res.ok and "info" or "error", "Desk erasure of %s (%s): %s", user_jid, why, res.json);
	end);
end

module:hook_global("user-deleted", function (event)
	erase_user(event.username .. "@" .. event.host, "account deleted");
end);

-- Accounts that vanished while the server was down, as found by the accounts
-- reconciliation at start (also users who never wrote a logged message).
services.on_account_missing = function (user_jid)
	erase_user(user_jid, "account missing at start");
end;

-- Accounts deleted while the server was down (prosodyctl deluser) fire no event:
-- compare the users the log knows with the users that exist, once at start.
local function reconcile_deleted_users()
	for host, host_session in pairs(prosody.hosts) do
		if host_session.type == "local" and host_session.modules.imhost then
			submit("logs.users", { domain = host }, context_for("imhost", "shell")):next(function (res)
				if not res.ok then return; end
				for _, user_jid in ipairs(json.decode(res.json).users or {}) do
					local username, user_host = jid_split(user_jid);
					if user_host == host and username and not usermanager.user_exists(username, host) then
						erase_user(user_jid, "account missing at start");
					end
				end
			end);
		end
	end
end
module:hook_global("server-started", reconcile_deleted_users);
if prosody.start_time and prosody.lock_globals then -- module (re)loaded into a running server
	module:add_timer(0, reconcile_deleted_users);
end

--- Retention: a daily job per host, in small chunks on a worker thread --------------

local function parse_days(value)
	if type(value) == "number" then return value; end
	if type(value) == "string" then
		local n, unit = value:match("^(%d+)%s*([dwy]?)$");
		if n then return tonumber(n) * ({ [""] = 1, d = 1, w = 7, y = 365 })[unit]; end
	end
	return nil;
end

local function apply_retention()
	for host, host_session in pairs(prosody.hosts) do
		if host_session.modules.imhost and host_session.type == "local" then
			local raw = module:context(host):get_option("imhost_log_retention", 30);
			local days = parse_days(raw);
			if not days then
				module:log("error", "imhost_log_retention on %s must be a number of days (got %q); keeping 30", host, tostring(raw));
				days = 30;
			end
			submit("logs.retention", { domain = host, days = days }, context_for("imhost", "shell")):next(function (res)
				module:log(res.ok and "debug" or "error", "Retention on %s (%d days): %s", host, days, res.json);
			end);
		end
	end
end
module:daily("imhost log retention", apply_retention);

--- Accounts: reconcile seats, read certificates, send reminders: at start and daily ---

module:hook_global("server-started", function () accounts.start(); end);
if prosody.start_time and prosody.lock_globals then -- module (re)loaded into a running server
	module:add_timer(0, function () accounts.start(); end);
end
module:daily("imhost expiry reminders", function () accounts.daily(); end);

--- Billing: the invoice run and overdue handling, at start and daily ---------------------

module:hook_global("server-started", function () billing.start(); end);
if prosody.start_time and prosody.lock_globals then
	module:add_timer(0, function () billing.start(); end);
end
module:daily("imhost billing run", function () billing.daily(); end);

--- Shutdown: flush what is queued ----------------------------------------------------

local function shutdown()
	if not db then return; end
	watch:close();
	db:flush();
	db:close();
	db = nil;
end
module:hook_global("server-stopping", function () db:flush(); end);
module.unload = shutdown;
