-- imhost_desk: the support desk on the running server (issue 6's glue).
--
-- The C core decides everything (desk.* operations, ops_desk.c and desk*.c):
-- tickets, transitions, rate limits, idempotency, and who hears about what
-- (im_desk_notify, the one delivery path that filters internal notes).  This
-- file only moves messages:
--   * a chat message to a desk address (mod_imhost_desk, a component) from a
--     customer -> desk.incoming, off the event loop; the desk answers from its
--     own address;
--   * a command ("#N ...", "!...") or a reply in a ticket's thread from a
--     technician (staff role technician, or a Prosody admin: anyone the core
--     grants desk.work) -> the chat commands below; plain text is a request
--     whoever sends it;
--   * every desk.* write result, from any surface, is delivered here: its
--     "notify" list goes out as chat messages from the desk's address (and
--     customer ones by e-mail when configured), and the module events
--     imhost-ticket-created / imhost-ticket-updated fire.
--
-- Technician chat commands (to the desk's address):
--   #N text              public reply on ticket N (relayed to the customer)
--   text in the thread   a reply to a notification (XEP-0201 thread
--                        "imhost-desk-N") is a public reply on ticket N
--   !note #N text        internal note (in a thread: !note text)
--   !claim #N  !status #N <status>  !priority #N <prio>  !merge #N #M
--   !canned #N <name>    send a canned reply   !view #N   !queue [view]   !help
-- A resent stanza (same id) stores one reply: the stanza id is the key.

local json = require "util.json";
local jid_util = require "util.jid";
local st = require "util.stanza";
local id = require "util.id";

local jid_bare, jid_host = jid_util.bare, jid_util.host;

local M = {};
local call_sync, submit, fire, log, module_api, context_for;

-- The server acting on its own behalf (desk.incoming needs "internal").
local SELF = { actor = "imhost", surface = "shell", roles = { "operator" }, prosody_admin = true };

local desk_hosts = {};   -- component hosts that run mod_imhost_desk, in load order
local desk_set = {};
local sendmail;          -- imhost_desk_sendmail, or nil
local THREAD = "imhost-desk-";

local function decode(res)
	local ok, v = pcall(json.decode, res.json or "");
	if ok and type(v) == "table" then return v; end
	return { error = { code = "internal", message = tostring(res.json) } };
end

-- The desk address a message to `to` comes from: the desk component under the
-- recipient's domain (support.a.test for x@a.test) if there is one, else the
-- first desk loaded.
local function desk_for(to)
	local host = jid_host(to) or "";
	for _, d in ipairs(desk_hosts) do
		if d:sub(-#host - 1) == "." .. host then return d; end
	end
	return desk_hosts[1];
end

local function send_chat(from, to, text, thread, stanza_id)
	local m = st.message({ from = from, to = to, type = "chat", id = stanza_id or id.short() })
		:text_tag("body", text);
	if thread then m:text_tag("thread", thread); end
	module_api:context(from):send(m);
end

-- E-mail through a sendmail-compatible command (-t reads the recipients from
-- the headers).  The address goes in the headers only, never on a command line;
-- addresses with line breaks are refused (header injection).  The command runs in
-- the background (our pipe passed on fd 3: sh gives a background job /dev/null
-- as its input) and the message is
-- cut below the pipe's 64 KiB buffer, so neither the write nor the close can
-- block Prosody's event loop on a slow mailer.
local MAIL_MAX = 60000;
local function send_mail(addr, ticket, text)
	if not sendmail or type(addr) ~= "string" or addr == "" or addr:find("[\r\n]") or not addr:find("@") then
		return;
	end
	local p = io.popen("exec 3<&0; (" .. sendmail .. ") <&3 3<&- &", "w");
	if not p then log("warn", "imhost desk: cannot run %s", sendmail); return; end
	local mail = ("To: %s\nSubject: Support ticket #%d\nContent-Type: text/plain; charset=utf-8\n\n%s\n")
		:format(addr, ticket, text);
	p:write(mail:sub(1, MAIL_MAX));
	p:close();
end

-- Delivers a desk write result: notifications, then the module event.
function M.deliver(result)
	if type(result) ~= "table" then return; end
	for _, n in ipairs(type(result.notify) == "table" and result.notify or {}) do
		local from = desk_for(n.to) or jid_host(n.to);
		if from and not desk_set[jid_bare(n.to)] and not desk_set[n.to] then
			send_chat(from, n.to, n.text, THREAD .. tostring(n.ticket),
				("desk-%d-%s"):format(n.event or 0, id.short()));
			if n.audience == "customer" and n.email then send_mail(n.email, n.ticket, n.text); end
		end
	end
	if result.event_id and result.event_id ~= json.null and not result.duplicate then
		local name = result.event == "created" and "imhost-ticket-created" or "imhost-ticket-updated";
		fire(name, { ticket = result.ticket, event_id = result.event_id, action = result.action,
			notify = result.notify });
	end
end

-- Wraps the surfaces' submit/call_sync: every desk.* write result is delivered,
-- whichever surface (ad-hoc, HTTP, shell, CLI) ran it; staff.set drops the
-- technician cache.
local tech_cache = {};
function M.wrap(fn)
	return function (op, params, ctx)
		local function post(res)
			if op == "staff.set" then tech_cache = {}; end
			if res.ok and op:sub(1, 5) == "desk." and prosody.process_type == "prosody" then
				local ok, err = pcall(M.deliver, decode(res));
				if not ok then log("error", "imhost desk: delivering %s: %s", op, tostring(err)); end
			end
			return res;
		end
		local r = fn(op, params, ctx);
		if type(r) == "table" and r.next then return r:next(post); end
		return post(r);
	end;
end

--- Chat with the desk ---------------------------------------------------------------

-- Is `who` (bare JID) someone the core lets work the desk?  Cached for a
-- minute (staff.set clears it); the probe is a read (desk.queue).
local function is_technician(who, ctx)
	local c = tech_cache[who];
	if c and c.expires > os.time() then return require "util.promise".resolve(c.yes); end
	return submit("desk.queue", { view = "mine", limit = 1 }, ctx):next(function (res)
		local yes = res.ok == true;
		tech_cache[who] = { yes = yes, expires = os.time() + 60 };
		return yes;
	end);
end

local HELP = "Desk commands: #N text (reply to ticket N), !note #N text (internal note), "
	.. "!claim #N, !status #N new|open|waiting|resolved|closed, !priority #N low|normal|high|urgent, "
	.. "!merge #N #M (N into M), !canned #N name, !view #N, !queue [unassigned|mine|overdue|all]. "
	.. "Replying in a ticket notification's thread replies to that ticket.";

local function fmt_list(r)
	local lines = {};
	for _, t in ipairs(r.tickets or {}) do
		lines[#lines + 1] = ("#%d [%s/%s] %s — %s%s"):format(t.number, t.status, t.priority,
			tostring(t.subject), t.assignee ~= json.null and tostring(t.assignee) or "unassigned",
			t.overdue == true and " (overdue)" or "");
	end
	return #lines > 0 and table.concat(lines, "\n") or "No tickets.";
end

local function fmt_view(r)
	local t = r.ticket or r;
	local lines = { ("#%s %s [%s, %s, %s] from %s"):format(tostring(t.number), tostring(t.subject),
		tostring(t.status), tostring(t.priority), tostring(t.category), tostring(t.requester)) };
	for _, p in ipairs(r.thread or t.thread or {}) do
		lines[#lines + 1] = ("%s %s: %s"):format(p.kind == "note" and "[note]" or "", tostring(p.author), tostring(p.body));
	end
	return table.concat(lines, "\n");
end

-- A technician's message: (op, params, formatter) or nil, help text.
local function parse_staff(body, thread_ticket, key)
	local cmd, rest = body:match("^!(%a+)%s*(.-)%s*$");
	if not cmd then
		local n, text = body:match("^#(%d+)[%s:]*(.-)%s*$");
		if n and text ~= "" then return "desk.reply", { ticket = tonumber(n), message = text, key = key }; end
		if thread_ticket and body:match("%S") then
			return "desk.reply", { ticket = thread_ticket, message = body, key = key };
		end
		return nil, HELP;
	end
	cmd = cmd:lower();
	local n, arg = rest:match("^#(%d+)[%s:]*(.-)$");
	n = tonumber(n) or thread_ticket;
	arg = arg or rest;
	if cmd == "queue" then
		return "desk.queue", { view = rest ~= "" and rest or "unassigned" }, fmt_list;
	elseif not n then
		return nil, "Name the ticket: !" .. cmd .. " #N ...";
	elseif cmd == "note" and arg ~= "" then
		return "desk.note", { ticket = n, message = arg, key = key };
	elseif cmd == "claim" then
		return "desk.claim", { ticket = n };
	elseif cmd == "status" then
		return "desk.status", { ticket = n, status = arg };
	elseif cmd == "priority" then
		return "desk.priority", { ticket = n, priority = arg };
	elseif cmd == "merge" then
		return "desk.merge", { ticket = n, into = tonumber(arg:match("^#?(%d+)")) };
	elseif cmd == "canned" then
		return "desk.canned_reply", { ticket = n, canned = arg, key = key };
	elseif cmd == "view" then
		return "desk.view", { ticket = n }, fmt_view;
	end
	return nil, HELP;
end

local function staff_message(desk, from_full, body, thread, key, ctx)
	local thread_ticket = thread and tonumber(thread:match("^imhost%-desk%-(%d+)$"));
	local op, params, fmt = parse_staff(body, thread_ticket, key);
	if not op then send_chat(desk, from_full, params); return; end
	if op == "desk.canned_reply" then op = "desk.reply"; end
	submit(op, params, ctx):next(function (res)
		local r = decode(res);
		local text;
		if not res.ok then
			text = "Refused: " .. tostring(r.error and r.error.message or res.json);
		elseif fmt then
			text = fmt(r);
		else
			local ok, err = pcall(M.deliver, r);
			if not ok then log("error", "imhost desk: delivering %s: %s", op, tostring(err)); end
			text = ("Ticket #%s: %s%s."):format(tostring(r.ticket), op:sub(6),
				r.duplicate and " (already stored: resent message)" or " done");
		end
		send_chat(desk, from_full, text, params.ticket and (THREAD .. params.ticket) or thread);
	end);
end

local function customer_message(desk, from_full, who, body, stanza_id)
	submit("desk.incoming", { from = who, body = body, stanza_id = stanza_id }, SELF):next(function (res)
		local r = decode(res);
		if not res.ok then
			log("warn", "imhost desk: desk.incoming from %s: %s", who, res.json);
			send_chat(desk, from_full, "The support desk could not take your message just now; please try again in a minute.");
			return;
		end
		if type(r.reply) == "string" then
			send_chat(desk, from_full, r.reply, r.ticket ~= json.null and (THREAD .. tostring(r.ticket)) or nil);
		end
		local ok, err = pcall(M.deliver, r);
		if not ok then log("error", "imhost desk: delivering incoming: %s", tostring(err)); end
	end);
end

-- A message stanza to a desk address.  Returns true when it was handled.
function M.on_message(desk, stanza)
	local kind = stanza.attr.type or "normal";
	if kind ~= "chat" and kind ~= "normal" then return; end   -- errors, groupchat, headline: never answered
	local body = stanza:get_child_text("body");
	if not body then return true; end                         -- chat states, receipts
	local from_full = stanza.attr.from;
	local who = from_full and jid_bare(from_full);
	if not who or desk_set[who] or desk_set[jid_host(who)] then return true; end   -- no loops between desks
	local ctx = context_for(who, "adhoc");
	local thread = stanza:get_child_text("thread");
	-- Only a command ("#N ...", "!...") or a reply in a ticket's thread can be a
	-- technician's: plain text is a request, whoever sends it (technicians may
	-- open tickets too), and costs no staff lookup.
	if not (body:match("^%s*[#!]") or (thread and thread:match("^imhost%-desk%-%d+$"))) then
		customer_message(desk, from_full, who, body, stanza.attr.id);
		return true;
	end
	is_technician(who, ctx):next(function (yes)
		if yes then
			staff_message(desk, from_full, body, thread, stanza.attr.id, ctx);
		else
			customer_message(desk, from_full, who, body, stanza.attr.id);
		end
	end);
	return true;
end

-- A desk component came up: remember its address and tell the core (desk_jids:
-- never notified; index_dir: suggestions).
function M.add_desk(host, host_module)
	if not desk_set[host] then
		desk_set[host] = true;
		desk_hosts[#desk_hosts + 1] = host;
	end
	local index = host_module:get_option_string("imhost_desk_index");
	local site_url = host_module:get_option_string("imhost_desk_site_url");
	sendmail = host_module:get_option_string("imhost_desk_sendmail", sendmail);
	local settings = { desk_jids = table.concat(desk_hosts, " ") };
	if index then settings.index_dir = index:gsub("/search/?$", ""); end
	if site_url then settings.site_url = site_url; end
	-- At start-up the loop serves nobody yet: configure on this thread, and a
	-- refused setting stops the module.  Loaded into a running server: on a
	-- worker (a write may wait for SQLite's lock), a refusal is logged.
	local running = prosody.start_time and prosody.lock_globals;
	for key, value in pairs(settings) do
		if running then
			submit("desk.configure", { key = key, value = value }, SELF):next(function (res)
				if not res.ok then log("error", "imhost desk: %s = %q refused: %s", key, value, tostring(res.json)); end
			end);
		else
			local res = call_sync("desk.configure", { key = key, value = value }, SELF);
			if not res.ok then
				error(("imhost desk: %s = %q refused: %s"):format(key, value, tostring(res.json)));
			end
		end
	end
end

function M.remove_desk(host)
	desk_set[host] = nil;
	for i, d in ipairs(desk_hosts) do
		if d == host then table.remove(desk_hosts, i); break; end
	end
end

function M.init(deps)
	call_sync, submit, fire, module_api, context_for = deps.call_sync, deps.submit, deps.fire, deps.module, deps.context_for;
	log = function (...) return module_api:log(...); end;
end

return M;
