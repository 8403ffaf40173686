-- imhost_surfaces: the four front ends of the operations registry.
--
-- Every operation is declared once, in C (module/core/registry.c).  This file turns
-- each declaration into a `prosodyctl mod_imhost` command, an admin-shell command,
-- an ad-hoc command with a data form, and an HTTP route plus its OpenAPI entry.
-- It never decides who may do what: the C registry checks the caller's roles for
-- every call, on every surface.

local json = require "util.json";
local async = require "util.async";
local dataforms = require "util.dataforms";
local adhoc_util = require "util.adhoc";
local http_util = require "util.http";
local jid_util = require "util.jid";

local M = {};
local core, operations, context_for, submit, call_sync, authenticate, accounts;



-- "tz" is accepted by every operation: the caller's time zone, used by C to read
-- local dates and moved from the parameters into the caller's context.
local function split_tz(params)
	local tz = params.tz;
	params.tz = nil;
	if tz == "" then tz = nil; end
	return params, tz;
end

local function error_of(result_json)
	local ok, decoded = pcall(json.decode, result_json);
	local err = ok and type(decoded) == "table" and decoded.error;
	if type(err) ~= "table" then
		return { code = "internal", message = tostring(result_json) };
	end
	return err;
end

-- Completes an operation after C answered: a live operation ({"live":true,
-- "params":{...}}) is handed to its Lua live handler, whose result replaces C's;
-- then the after-hooks (events, kicks, reminder delivery) run.  res and the
-- return value are { ok = bool, json = text }.
local function complete(opname, params, ctx, res)
	if not res.ok then return res; end
	-- Decode only what a live handler or an after-step reads: results can be
	-- large (a page of search results) and util.json runs on the event loop.
	local op = operations.get(opname);
	if not (op and op.live) and not accounts.has_after(opname) then return res; end
	local ok, answer = pcall(json.decode, res.json);
	if not ok or type(answer) ~= "table" then return res; end
	if answer.live == true then
		res = accounts.run_live(opname, answer, ctx);
		if not res.ok then return res; end
		ok, answer = pcall(json.decode, res.json);
		if not ok then return res; end
	end
	if prosody.process_type == "prosody" then
		accounts.after(opname, params, answer, ctx);
	end
	return res;
end

-- Waits for an off-loop result when inside an async runner (stanza handlers and the
-- admin shell are); otherwise runs the operation synchronously.
local function run(op, params, ctx)
	local res;
	accounts.before(op);
	if async.ready() then
		res = async.wait_for(submit(op, params, ctx));
	else
		res = call_sync(op, params, ctx);
	end
	return complete(op, params, ctx, res);
end

local function has_time_param(op)
	for _, p in ipairs(op.params) do
		if p.type == "time" then return true; end
	end
	return false;
end

--- CLI: prosodyctl mod_imhost <op> key=value ... [--json] --------------------------------

local function print_usage()
	print("usage: prosodyctl mod_imhost <operation> [key=value ...] [--json]");
	print("       prosodyctl mod_imhost help [operation]");
	print("");
	print("Operations:");
	for _, op in ipairs(operations.all()) do
		print(("  %-18s %s"):format(op.name, op.summary));
	end
end

local function print_op_help(op)
	print(("%s — %s"):format(op.name, op.summary));
	print(("permission: %s%s"):format(op.permission, op.write and " (writes)" or ""));
	for _, p in ipairs(op.params) do
		local extra = p.values and (" (" .. table.concat(p.values, "|") .. ")") or "";
		print(("  %s=<%s>%s%s  %s"):format(p.name, p.type, extra, p.required and " required" or "", p.description or ""));
	end
	if has_time_param(op) then
		print("  tz=<zone>  IANA time zone for dates given without one (default UTC)");
	end
end

function M.cli(arg)
	local opname = arg[1];
	if not opname or opname == "help" or opname == "--help" or opname == "-h" then
		local op = arg[2] and operations.get(arg[2]);
		if op then print_op_help(op) else print_usage() end
		return opname and 0 or 2;
	end
	local op = operations.get(opname);
	if not op then
		io.stderr:write("imhost: unknown operation '", opname, "' (try: prosodyctl mod_imhost help)\n");
		return 2;
	end
	local params, as_json = {}, false;
	for i = 2, #arg do
		local a = arg[i];
		if a == "--json" then
			as_json = true;
		elseif a == "--help" then
			print_op_help(op);
			return 0;
		else
			local k, v = a:match("^([%w_]+)=(.*)$");
			if not k then
				io.stderr:write("imhost: expected key=value, got '", a, "'\n");
				return 2;
			end
			params[k] = v;
		end
	end
	local tz;
	params, tz = split_tz(params);
	local ctx = context_for("prosodyctl", "cli", tz);
	if accounts.server_only[op.name] then
		io.stderr:write("imhost: ", op.name, " needs the running server: use prosodyctl shell imhost ",
			(op.name:gsub("%.", "_")), "\n");
		return 1;
	end
	local res = complete(op.name, params, ctx, call_sync(op.name, params, ctx));
	if not res.ok then
		io.stderr:write("imhost: ", error_of(res.json).message or "failed", "\n");
		if as_json then print(res.json); end
		return 1;
	end
	print(as_json and res.json or core.format_text(op.name, res.json));
	return 0;
end

--- Admin shell: prosodyctl shell imhost <op_with_underscores> key=value ... -------------

-- The command for one operation, made when the shell first names it: a closure
-- per operation, resident whether anyone opens the shell or not, is heap the
-- collector walks in every cycle.
local function shell_command(opname)
	return function (self, ...) -- luacheck: ignore 212/self
		local params = {};
		for _, a in ipairs({ ... }) do
			local k, v = tostring(a):match("^([%w_]+)=(.*)$");
			if not k then return nil, "expected key=value, got '" .. tostring(a) .. "'"; end
			params[k] = v;
		end
		local tz;
		params, tz = split_tz(params);
		local res = run(opname, params, context_for("admin-shell", "shell", tz));
		if not res.ok then return nil, error_of(res.json).message; end
		return true, core.format_text(opname, res.json);
	end;
end

local function shell_name(op) return (op.name:gsub("%.", "_")); end

local function install_shell_commands()
	local shell_section = setmetatable({}, { __index = function (section, key)
		for _, op in ipairs(operations.all()) do
			if shell_name(op) == key then
				local fn = shell_command(op.name);
				rawset(section, key, fn);
				return fn;
			end
		end
	end });
	for name, fn in pairs(M.extra_shell or {}) do shell_section[name] = fn; end
	function shell_section:help() -- luacheck: ignore 212/self
		local lines = { "imhost operations (key=value arguments):" };
		for _, op in ipairs(operations.all()) do
			lines[#lines + 1] = ("  imhost:%s(...)  %s"):format(shell_name(op), op.summary);
		end
		return true, table.concat(lines, "\n");
	end
	module:shared("/*/admin_shell/env").imhost = shell_section;
end

--- Ad-hoc commands (XEP-0050), one per operation ----------------------------------------

local function form_for(op)
	local layout = {
		title = op.summary;
		instructions = op.description or op.summary;
	};
	for _, p in ipairs(op.params) do
		local field = { name = p.name, label = p.label or p.name, desc = p.description, required = p.required };
		if p.type == "enum" then
			field.type = "list-single";
			field.options = {};
			for _, v in ipairs(p.values) do field.options[#field.options + 1] = { label = v, value = v, default = v == p.default }; end
		elseif p.type == "bool" then
			field.type = "boolean";
		else
			field.type = "text-single";
		end
		layout[#layout + 1] = field;
	end
	if has_time_param(op) then
		layout[#layout + 1] = { name = "tz", type = "text-single", label = "Time zone",
			desc = "IANA time zone for dates, e.g. Europe/Berlin (default UTC)" };
	end
	return dataforms.new(layout);
end

local result_form = dataforms.new {
	title = "Result";
	{ name = "result", type = "text-multi", label = "Result" };
	{ name = "json", type = "hidden" };
};

-- Every command shares one handler, which builds the operation's own (its data
-- form and callback) at first use: built up front, they were ~60 KB of the
-- server's Lua heap, used or not.
local NODE_PREFIX = "imhost/";

local function build_adhoc_handler(op)
	return adhoc_util.new_simple_form(form_for(op), function (fields, form_err, data)
		if form_err then
			local problems = {};
			for name, msg in pairs(form_err) do problems[#problems + 1] = name .. ": " .. msg; end
			return { status = "completed", error = { message = table.concat(problems, "; ") } };
		end
		local params = {};
		for k, v in pairs(fields) do
			if v ~= "" then params[k] = type(v) == "boolean" and (v and "true" or "false") or v; end
		end
		local tz;
		params, tz = split_tz(params);
		local res = run(op.name, params, context_for(jid_util.bare(data.from), "adhoc", tz));
		if not res.ok then
			return { status = "completed", error = { message = error_of(res.json).message } };
		end
		return { status = "completed", result = { layout = result_form,
			values = { result = core.format_text(op.name, res.json), json = res.json } } };
	end);
end

local adhoc_handlers = {}; -- node -> the operation's handler, once used
local function adhoc_dispatch(command, data, state)
	local handler = adhoc_handlers[command.node];
	if not handler then
		local op = operations.get(command.node:sub(#NODE_PREFIX + 1));
		if not op then return { status = "completed", error = { message = "no such operation" } }; end
		handler = build_adhoc_handler(op);
		adhoc_handlers[command.node] = handler;
	end
	return handler(command, data, state);
end

local adhoc_commands = {};
local function build_adhoc_commands()
	local adhoc_new = module:require("adhoc").new;
	for _, op in ipairs(operations.all()) do
		adhoc_commands[#adhoc_commands + 1] = adhoc_new(op.summary, NODE_PREFIX .. op.name, adhoc_dispatch, "local_user");
	end
end

--- HTTP API: /imhost/api/v1/<op with . as /> and its OpenAPI document -----------------

local status_of = { invalid = 400, unauthorized = 401, forbidden = 403, not_found = 404,
	conflict = 409, unavailable = 503, internal = 500 };

local function openapi_document(base_url)
	local paths = {};
	for _, op in ipairs(operations.all()) do
		local parameters, properties, required = {}, {}, {};
		local function schema_of(p)
			local s = ({ int = { type = "integer" }, bool = { type = "boolean" } })[p.type] or { type = "string" };
			if p.type == "enum" then s.enum = p.values; end
			if p.type == "time" then s.description = "epoch seconds, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] or -7d/-12h"; end
			if p.min then s.minimum = p.min; end
			if p.max and p.type == "int" then s.maximum = p.max; end
			if p.max and p.type ~= "int" then s.maxLength = p.max; end
			return s;
		end
		local all = {};
		for _, p in ipairs(op.params) do all[#all + 1] = p; end
		if has_time_param(op) then
			all[#all + 1] = { name = "tz", type = "string", description = "IANA time zone for dates" };
		end
		for _, p in ipairs(all) do
			if op.write then
				properties[p.name] = schema_of(p);
				properties[p.name].description = properties[p.name].description or p.description;
				if p.required then required[#required + 1] = p.name; end
			else
				parameters[#parameters + 1] = { name = p.name, ["in"] = "query", required = p.required or false,
					description = p.description, schema = schema_of(p) };
			end
		end
		local error_schema = { ["$ref"] = "#/components/schemas/Error" };
		local errors = { description = "Error", content = { ["application/json"] = { schema = error_schema } } };
		local item = {
			operationId = op.name; summary = op.summary;
			description = "Requires permission `" .. op.permission .. "`"
				.. (op.scope and (" (customer roles count on the customer owning `" .. op.scope .. "`)") or "") .. ".";
			["x-imhost-permission"] = op.permission;
			["x-imhost-scope"] = op.scope or nil;
			["x-imhost-live"] = op.live or nil;
			responses = {
				["200"] = { description = "Result", content = { ["application/json"] = { schema = { type = "object" } } } };
				["400"] = errors; ["401"] = errors; ["403"] = errors;
				["429"] = { description = "Too many failed HTTP Basic logins from this address (see Retry-After)",
					headers = { ["Retry-After"] = { schema = { type = "integer" } } },
					content = { ["application/json"] = { schema = error_schema } } };
			};
		};
		if #parameters > 0 then item.parameters = parameters; end
		if op.write then
			local schema = { type = "object", properties = properties };
			if #required > 0 then schema.required = required; end
			if next(properties) == nil then schema.properties = json.null; end
			item.requestBody = { required = false, content = { ["application/json"] = { schema = schema } } };
		end
		paths["/" .. op.name:gsub("%.", "/")] = { [op.write and "post" or "get"] = item };
	end
	return json.encode {
		openapi = "3.0.3";
		info = { title = "imhost API", version = core.version,
			description = "Generated from imhost's operations registry: the same operations as "
				.. "prosodyctl mod_imhost, the admin shell and the ad-hoc commands." };
		servers = { { url = base_url } };
		paths = paths;
		components = {
			securitySchemes = { basic = { type = "http", scheme = "basic" }, bearer = { type = "http", scheme = "bearer" } };
			schemas = { Error = { type = "object", properties = { error = { type = "object", properties = {
				code = { type = "string" }, message = { type = "string" }, param = { type = "string" } } } } } };
		};
		security = { { basic = {} }, { bearer = {} } };
	};
end

local function respond(response, code, body)
	response.status_code = code;
	response.headers.content_type = "application/json";
	response.headers.cache_control = "no-store";
	return body;
end

local function error_body(code, message)
	return json.encode({ error = { code = code, message = message } });
end

-- Runs op for an authenticated actor and answers with its result.
local function run_api_op(op, request, response, actor)
	local params;
	if op.write then
		local body = request.body or "";
		if body:match("^%s*$") then
			params = {};
		else
			local ok, decoded = pcall(json.decode, body);
			if not ok or type(decoded) ~= "table" then
				return respond(response, 400, error_body("invalid", "the request body must be a JSON object"));
			end
			params = decoded;
		end
	else
		-- formdecode returns a string for a query without '=', and the pairs also as
		-- an array part: keep only the named values.
		local decoded = request.url.query and http_util.formdecode(request.url.query);
		params = {};
		if type(decoded) == "table" then
			for k, v in pairs(decoded) do
				if type(k) == "string" then params[k] = v; end
			end
		end
	end
	local tz;
	params, tz = split_tz(params);
	local ctx = context_for(actor, "http", tz);
	accounts.before(op.name);
	return submit(op.name, params, ctx):next(function (res)
		res = complete(op.name, params, ctx, res);
		if res.ok then return respond(response, 200, res.json); end
		return respond(response, status_of[error_of(res.json).code] or 500, res.json);
	end);
end

local function handle_api(host_module, event, path)
	local request, response = event.request, event.response;
	if path == "openapi.json" and request.method == "GET" then
		local base = host_module:http_url("imhost_api", "/imhost/api/v1");
		return respond(response, 200, openapi_document(base));
	end
	local op = operations.get((path or ""):gsub("/", "."));
	if not op then
		return respond(response, 404, error_body("not_found", "no such operation: " .. tostring(path)));
	end
	local want_method = op.write and "POST" or "GET";
	if request.method ~= want_method then
		response.headers.allow = want_method;
		return respond(response, 405, error_body("invalid", op.name .. " takes " .. want_method));
	end
	-- Authentication may wait for a worker (imhost_httpauth.lib.lua): the
	-- operation runs once it has answered.
	return authenticate(request):next(function (who)
		if who.actor then return run_api_op(op, request, response, who.actor); end
		if who.retry_after then
			response.headers.retry_after = tostring(who.retry_after);
		elseif who.status == 401 then
			response.headers.www_authenticate = 'Basic realm="imhost", Bearer';
		end
		return respond(response, who.status, error_body(who.code, who.why));
	end);
end

function M.add_host(host_module)
	local function handler(event, path) return handle_api(host_module, event, path); end
	host_module:depends("adhoc");
	for _, cmd in ipairs(adhoc_commands) do
		host_module:provides("adhoc", cmd);
	end
	host_module:depends("http");
	host_module:provides("http", {
		name = "imhost_api";
		default_path = "/imhost/api/v1";
		cors = { enabled = false };
		route = {
			["GET /*"] = handler;
			["POST /*"] = handler;
		};
	});
end

function M.init(deps)
	core, operations = deps.core, deps.operations;
	context_for, submit, call_sync = deps.context_for, deps.submit, deps.call_sync;
	authenticate, accounts = deps.authenticate, deps.accounts;
	M.extra_shell = deps.extra_shell;
	if prosody.process_type == "prosody" then
		install_shell_commands();
		build_adhoc_commands();
	end
end

return M;
