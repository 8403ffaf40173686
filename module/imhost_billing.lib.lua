-- imhost_billing: billing on the running server (issue 5).
--
-- The engine is C (module/core/billing*.c, ops billing.*): it decides every amount,
-- number, state and idempotency question.  This file does what only the server can:
--   * the daily billing run (and one at start): billing.run, then billing.overdue,
--     whose actions it performs (XMPP reminders to the customer's owners, overdue
--     suspension of the customer's domains through domains.suspend source=overdue,
--     lifting it; the "restricted" step is enforced in C on account creation
--     (billing_restrict.c) and here on room creation);
--   * HTTP: POST /imhost/webhook/<provider> (Stripe-style signature checked here,
--     with secrets from config, then billing.webhook applies the verified body)
--     and GET /imhost/statement/<customer>/<invoice|all>.<html|csv|txt> behind a
--     signed, expiring link;
--   * "Download statement" over XMPP answers with such a link, not the document;
--   * usage metering: billing.meter (C, off the loop) reads what the server already
--     records (rollups, sessions, accounts, log bytes); the glue only submits it
--     daily and at start, before billing.run (which meters first as well);
--   * module events imhost-invoice-finalized, imhost-payment-received,
--     imhost-invoice-overdue (docs/operators.md).
-- Secrets never pass through operation params: params are audited.

local json = require "util.json";
local st = require "util.stanza";
local id = require "util.id";
local jid_util = require "util.jid";

local M = {};
local module_api, core, call_sync, submit, fire, log;

-- imhost's own calls: the server acting on its own behalf.
local SELF = { actor = "imhost", surface = "shell", roles = { "operator" }, prosody_admin = true };

local config = {}; -- read once in M.init

--- Helpers ---------------------------------------------------------------------------

local function decode(res)
	local ok, v = pcall(json.decode, res.json);
	if not ok or type(v) ~= "table" then return nil, { code = "internal", message = tostring(res.json) }; end
	if not res.ok then return nil, v.error or { code = "internal", message = res.json }; end
	return v;
end

local function core_call(op, params) return decode(call_sync(op, params, SELF)); end

-- Off the event loop; calls back with (result) or (nil, err).
local function core_async(op, params, cb)
	submit(op, params, SELF):next(function (res)
		local v, err = decode(res);
		if not v then log("warn", "imhost billing: %s failed: %s", op, tostring(err.message)); end
		if cb then
			local ok, cb_err = pcall(cb, v, err);
			if not ok then log("error", "imhost billing: after %s: %s", op, tostring(cb_err)); end
		end
	end);
end

local function read_config(m)
	local function number(name, default, min, max)
		local v = m:get_option_number(name, default);
		if v ~= math.floor(v) or v < min or v > max then
			error(("imhost: %s must be a whole number from %d to %d (got %s)"):format(name, min, max, tostring(v)));
		end
		return v;
	end
	local secrets = m:get_option_array("imhost_webhook_secrets", {});
	for i, s in ipairs(secrets) do
		if type(s) ~= "string" or #s < 16 then
			error(("imhost: imhost_webhook_secrets[%d] must be a string of at least 16 characters"):format(i));
		end
	end
	if #secrets > 8 then error("imhost: imhost_webhook_secrets holds at most 8 secrets (current first)"); end
	local link_secret = m:get_option_string("imhost_link_secret");
	if link_secret and #link_secret < 16 then error("imhost: imhost_link_secret must have at least 16 characters"); end
	local provider = m:get_option("imhost_provider", {});
	if type(provider) ~= "table" then error("imhost: imhost_provider must be a table { name=..., address=..., email=..., tax_id=... }"); end
	for _, k in ipairs({ "name", "address", "email", "tax_id" }) do
		if provider[k] ~= nil and type(provider[k]) ~= "string" then error("imhost: imhost_provider." .. k .. " must be a string"); end
	end
	local od = m:get_option("imhost_billing_overdue", {});
	if type(od) ~= "table" then error("imhost: imhost_billing_overdue must be a table of day counts"); end
	local policy = {};
	for k, default in pairs({ remind_before_days = 3, remind_after_days = 1, restrict_after_days = 14, suspend_after_days = 30 }) do
		local v = od[k] == nil and default or od[k];
		if type(v) ~= "number" or v ~= math.floor(v) or v < 0 or v > 365 then
			error("imhost: imhost_billing_overdue." .. k .. " must be a whole number of days (0-365)");
		end
		policy[k] = v;
	end
	return {
		webhook_secrets = secrets;
		link_secret = link_secret;
		link_ttl = number("imhost_statement_link_ttl", 86400, 300, 30 * 86400);
		provider = provider;
		policy = policy;
		payment_url = m:get_option_string("imhost_payment_url");
	};
end

--- Signed statement links ---------------------------------------------------------------

local FORMAT_EXT = { html = "html", csv = "csv", text = "txt" };
local EXT_FORMAT = { html = "html", csv = "csv", txt = "text" };
local CONTENT_TYPE = { html = "text/html; charset=utf-8", csv = "text/csv; charset=utf-8",
	text = "text/plain; charset=utf-8" };

-- The path that is signed and served: /imhost/statement/<customer>/<invoice|all>.<ext>
local function statement_path(customer, invoice, format)
	return ("/imhost/statement/%d/%s.%s"):format(customer, invoice and tostring(invoice) or "all", FORMAT_EXT[format]);
end

-- A signed link for host's HTTP service, valid config.link_ttl seconds; nil, why.
function M.statement_link(host, customer, invoice, format)
	if not config.link_secret then return nil, "statement links need imhost_link_secret in the config"; end
	local path = statement_path(customer, invoice, format);
	local expires = core.now() + config.link_ttl;
	local query = core.link_sign(config.link_secret, path, expires);
	local base = module_api:context(host):http_url("imhost_statement", "/imhost/statement");
	-- base ends in /imhost/statement; path starts with it.
	return base .. path:sub(#"/imhost/statement" + 1) .. "?" .. query, expires;
end

-- The provider's details for billing.statement (the op takes them as params).
local function with_provider(params)
	local p = {};
	for k, v in pairs(params) do p[k] = v; end
	p.provider_name = p.provider_name or config.provider.name;
	p.provider_address = p.provider_address or config.provider.address;
	p.provider_tax_id = p.provider_tax_id or config.provider.tax_id;
	return p;
end

local function handle_statement(event, path)
	local request, response = event.request, event.response;
	response.headers.cache_control = "no-store";
	response.headers.x_content_type_options = "nosniff";
	local customer, which, ext = (path or ""):match("^(%d+)/(%w+)%.(%a+)$");
	local format = EXT_FORMAT[ext or ""];
	if not customer or not format or (which ~= "all" and not which:match("^%d+$"))
	  or (which == "all") ~= (format == "csv") then
		return 404;
	end
	if not config.link_secret then return 404; end
	local q = request.url.query and require "util.http".formdecode(request.url.query);
	local expires = type(q) == "table" and tonumber(q.exp);
	local sig = type(q) == "table" and q.sig;
	if not expires or expires ~= math.floor(expires) or type(sig) ~= "string" then return 403; end
	local verdict = core.link_check(config.link_secret, "/imhost/statement/" .. path, expires, sig);
	if verdict == "stale" then
		response.headers.content_type = "text/plain; charset=utf-8";
		response.status_code = 410;
		return "This link has expired. Ask for a new one with \"Download statement\".\n";
	elseif verdict ~= "ok" then
		return 403;
	end
	local params = with_provider({ customer = tonumber(customer), format = format,
		invoice = which ~= "all" and tonumber(which) or nil });
	return submit("billing.statement", params, SELF):next(function (res)
		local v = decode(res);
		if not v then response.status_code = res.ok and 500 or 404; return ""; end
		response.headers.content_type = CONTENT_TYPE[format];
		if format == "csv" then
			response.headers.content_disposition = ('attachment; filename="statement-%s.csv"'):format(customer);
		end
		response.status_code = 200;
		return v.content;
	end);
end

--- Webhooks from payment processors --------------------------------------------------------

local status_of_outcome = { ok = 200 };

local function handle_webhook(event, provider)
	local request, response = event.request, event.response;
	response.headers.content_type = "application/json";
	local function answer(code, outcome)
		response.status_code = code;
		return json.encode({ outcome = outcome });
	end
	if not provider or not provider:match("^[%w_-]+$") or #provider > 32 then return answer(404, "unknown provider"); end
	if #config.webhook_secrets == 0 then return answer(503, "webhooks are not configured"); end
	local body = request.body or "";
	local verdict = core.webhook_verify(request.headers.imhost_signature, body, config.webhook_secrets);
	if verdict ~= "ok" then
		-- 400: the processor must not retry a forged or stale delivery as is.
		log("warn", "imhost billing: webhook from %s refused (%s) from %s", provider, verdict, tostring(request.ip));
		return answer(400, verdict);
	end
	return submit("billing.webhook", { provider = provider, body = body }, SELF):next(function (res)
		local v, err = decode(res);
		if not v then
			-- unavailable (a refund before its payment): 503 so the processor redelivers.
			local code = err.code == "unavailable" and 503 or err.code == "invalid" and 400 or 500;
			return answer(code, err.message or err.code);
		end
		if v.outcome ~= "duplicate" then
			local ok, decoded = pcall(json.decode, body);
			local data = ok and type(decoded) == "table" and type(decoded.data) == "table" and decoded.data or {};
			if ok and type(decoded) == "table" and decoded.type == "payment.succeeded" then
				M.payment_received({ customer = tonumber(data.customer), amount = data.amount,
					currency = data.currency, reference = data.ref, provider = provider });
			end
		end
		return answer(status_of_outcome.ok, v.outcome);
	end);
end

--- Overdue: perform what billing.overdue returns -------------------------------------------

local function customer_of(customer)
	local c = core_call("customers.show", { customer = customer });
	if not c then return { owners = {}, domains = {} }; end
	local owners, domains = {}, {};
	for _, m in ipairs(c.members or {}) do
		if m.role == "owner" then owners[#owners + 1] = m.jid; end
	end
	for _, d in ipairs(c.domains or {}) do domains[#domains + 1] = d.domain or d.name or d; end
	return { name = c.name, owners = owners, domains = domains };
end

local function send_chat(to, text)
	local host = select(2, jid_util.split(to));
	local from = prosody.hosts[host] and prosody.hosts[host].type == "local" and host or nil;
	if not from then
		for h, hs in pairs(prosody.hosts) do if hs.type == "local" and hs.modules.imhost then from = h; break; end end
	end
	if not from then return; end
	module_api:context(from):send(st.message({ from = from, to = to, type = "chat", id = id.short() }):text_tag("body", text));
end

local restricted_cache = {}; -- domain -> { value, until_t }

local function on_overdue_action(a)
	local who = customer_of(a.customer);
	local acts = {};
	for _, name in ipairs(a.actions or {}) do acts[name] = true; end
	local due = tonumber(a.oldest_due);
	local due_text = due and os.date("!%Y-%m-%d", due) or "?";
	if acts.remind_before then
		for _, to in ipairs(who.owners) do
			send_chat(to, ("Reminder: an invoice is due on %s. Say \"Billing overview\" to your server for details."):format(due_text));
		end
	end
	if acts.remind_after then
		for _, to in ipairs(who.owners) do
			send_chat(to, ("Your invoice due on %s is unpaid. Please pay it to avoid restrictions: see \"Payment methods\"."):format(due_text));
		end
		fire("imhost-invoice-overdue", { customer = a.customer, oldest_due = due, state = a.state });
	end
	if acts.restrict then
		for _, to in ipairs(who.owners) do
			send_chat(to, "Because of unpaid invoices, new users and rooms cannot be created until payment.");
		end
	end
	if acts.suspend then
		for _, domain in ipairs(who.domains) do
			local r, err = M.run_op("domains.suspend", { domain = domain, source = "overdue", reason = "overdue" });
			if not r then log("error", "imhost billing: suspending %s: %s", domain, tostring(err and err.message)); end
		end
		for _, to in ipairs(who.owners) do
			send_chat(to, "Your domains are suspended because of unpaid invoices. A payment lifts this at once.");
		end
	end
	if acts.lift then
		for _, domain in ipairs(who.domains) do
			M.run_op("domains.unsuspend", { domain = domain, source = "overdue" });
		end
	end
	restricted_cache = {};
	log("info", "imhost billing: customer %s %s -> %s (%s)", tostring(a.customer), tostring(a.from), tostring(a.state),
		table.concat(a.actions or {}, ","));
end

function M.evaluate_overdue(cb)
	core_async("billing.overdue", config.policy, function (r)
		for _, a in ipairs(r and (r.customers or r.actions) or {}) do on_overdue_action(a); end
		if cb then cb(r); end
	end);
end

--- Payments and finalized invoices: events ---------------------------------------------------

function M.payment_received(p)
	fire("imhost-payment-received", p);
	M.evaluate_overdue(); -- a payment lifts restriction and overdue suspension at once
end

-- Open invoices already announced (ids); seeded before the first run so that a
-- restart does not announce old invoices again.
local announced;

-- Pages of ANNOUNCE_PAGE open invoices in id order: decoding all 10,000 of a
-- month's run at once stalled the event loop ~0.4 s (bench "billing").  Small
-- pages, because the collector's work lands in the callback that allocates:
-- 200-invoice pages took 5-11 ms each (a whole collection cycle apiece), 20 take
-- under 4 ms, and the loop serves others between pages.
local ANNOUNCE_PAGE = 20;

local function announce_finalized(cb)
	local fresh = announced == nil;
	announced = announced or {};
	local function page(after)
		core_async("billing.report_open", { after_id = after, limit = ANNOUNCE_PAGE }, function (r)
			local rows = r and r.rows or {};
			local last = after;
			for _, inv in ipairs(rows) do
				last = inv.id;
				if not announced[inv.id] then
					announced[inv.id] = true;
					if not fresh then
						fire("imhost-invoice-finalized", { invoice = inv.id, number = inv.number, customer = inv.customer,
							currency = inv.currency, balance = inv.balance, due = inv.due });
					end
				end
			end
			if #rows == ANNOUNCE_PAGE then return page(last); end
			if cb then cb(); end
		end);
	end
	page(0);
end

-- The billing run as the server does it: run, announce, then overdue.
function M.run(cb)
	local function go()
		core_async("billing.run", {}, function (r, err)
			if r then log("info", "imhost billing: run drafted %d, finalized %d, skipped %d", r.drafted or 0, r.finalized or 0, r.skipped or 0); end
			announce_finalized(function ()
				M.evaluate_overdue(function () if cb then cb(r, err); end end);
			end);
		end);
	end
	if announced == nil then announce_finalized(go) else go() end
end

--- Results of operations on every surface ------------------------------------------------------

-- Before the call: billing.statement gets the provider's details from config.
function M.params_for(opname, params)
	if opname == "billing.statement" then return with_provider(params); end
	return params;
end

-- After a successful call on the server (any surface).  May replace the result:
-- returns the new JSON text and false when that is an error — "Download
-- statement" over XMPP gives a link instead of the document.
function M.after(opname, params, result, ctx)
	if prosody.process_type ~= "prosody" then return nil; end
	if opname == "billing.payment" and not result.duplicate then
		M.payment_received({ customer = tonumber(params.customer), amount = tonumber(params.amount),
			currency = params.currency, reference = params.reference, payment = result.payment });
	elseif opname == "billing.run" then
		announce_finalized(function () M.evaluate_overdue(); end);
	elseif opname == "billing.overdue" then
		for _, a in ipairs(result.customers or {}) do on_overdue_action(a); end
	elseif opname == "billing.invoice_set" and params.action == "finalize" then
		fire("imhost-invoice-finalized", { invoice = result.id or tonumber(params.invoice), number = result.number,
			customer = result.customer });
	elseif opname == "billing.statement" and ctx and ctx.surface == "adhoc" then
		local host = select(2, jid_util.split(ctx.actor or "")) or "";
		local fmt = params.format or "html";
		local link, expires = M.statement_link(host, tonumber(params.customer), params.invoice and tonumber(params.invoice), fmt);
		if not link then return json.encode({ error = { code = "unavailable", message = expires } }), false; end
		return json.encode({ format = fmt, link = link, expires = expires,
			note = ("Open the link to download; it expires at %s UTC."):format(os.date("!%Y-%m-%d %H:%M", expires)) });
	end
	return nil;
end

--- Restriction: no new rooms while restricted --------------------------------------------------

local function restricted(domain)
	local e = restricted_cache[domain];
	local now = os.time();
	if e and e.until_t > now then return e.value; end
	local s = core_call("domains.status", { domain = domain });
	local value = false;
	if s and s.customer and s.customer ~= json.null then
		local o = core_call("billing.overview", { customer = s.customer });
		value = o and (o.overdue_state == "restricted" or o.overdue_state == "suspended") or false;
	end
	restricted_cache[domain] = { value = value, until_t = now + 30 };
	return value;
end

-- A MUC component "rooms.example.com" belongs to the VirtualHost "example.com".
local function parent_of(host)
	local parent = host:match("^[^.]+%.(.+)$");
	if parent and prosody.hosts[parent] and prosody.hosts[parent].type == "local" then return parent; end
	return host;
end

function M.add_muc_host(host_module)
	host_module:hook("muc-room-pre-create", function (event)
		local domain = parent_of(host_module.host);
		if restricted(domain) then
			event.origin.send(st.error_reply(event.stanza, "cancel", "not-allowed",
				"New rooms are restricted because of unpaid invoices"));
			return true;
		end
	end, 50);
end

--- Usage metering -----------------------------------------------------------------------------

-- billing.meter runs in C on a worker thread: it meters every whole UTC hour not yet
-- metered from rollup_hour, log_session, account and log_message (billing.h,
-- "Metering").  Nothing here counts on the event loop.
local function meter(cb)
	core_async("billing.meter", {}, function (r)
		if r and r["until"] ~= r.from then
			log("debug", "imhost billing: metered %s..%s", os.date("!%Y-%m-%dT%H:%MZ", r.from),
				os.date("!%Y-%m-%dT%H:%MZ", r["until"]));
		end
		if cb then cb(r); end
	end);
end

--- HTTP routes and lifecycle -----------------------------------------------------------------------

function M.add_host(host_module)
	host_module:depends("http");
	host_module:provides("http", {
		name = "imhost_webhook";
		default_path = "/imhost/webhook";
		cors = { enabled = false };
		route = { ["POST /*"] = handle_webhook };
	});
	host_module:provides("http", {
		name = "imhost_statement";
		default_path = "/imhost/statement";
		cors = { enabled = false };
		route = { ["GET /*"] = handle_statement };
	});
end

function M.start()
	meter(function () M.run(); end);
end

function M.daily()
	meter(function () M.run(); end);
end

-- Wraps a surface's call function (submit: returns a promise; call_sync: returns
-- {ok, json}) so that every surface gets the provider's details on statements and
-- the server's reactions to billing results (see M.after).
function M.wrap(fn)
	return function (op, params, ctx)
		params = M.params_for(op, params);
		local function post(res)
			-- Only billing operations have after-steps: don't decode (on the event
			-- loop) what nobody reads.
			if not res.ok or op:sub(1, 8) ~= "billing." then return res; end
			local ok, answer = pcall(json.decode, res.json);
			if not ok or type(answer) ~= "table" then return res; end
			local called, replaced, replaced_ok = pcall(M.after, op, params, answer, ctx);
			if not called then
				log("error", "imhost billing: after %s: %s", op, tostring(replaced));
			elseif replaced then
				return { ok = replaced_ok ~= false, json = replaced };
			end
			return res;
		end
		local r = fn(op, params, ctx);
		if type(r) == "table" and r.next then return r:next(post); end
		return post(r);
	end;
end

function M.init(deps)
	module_api, core = deps.module, deps.core;
	call_sync, submit, fire = deps.call_sync, deps.submit, deps.fire;
	-- Suspensions go through the accounts glue's after-hook (kicks sessions, fires
	-- imhost-domain-(un)suspended) as they do from any other surface.
	M.run_op = function (op, params)
		local r, err = core_call(op, params);
		if r and deps.accounts then deps.accounts.after(op, params, r, SELF); end
		return r, err;
	end;
	log = function (...) return module_api:log(...); end;
	config = read_config(module_api);
end

return M;
