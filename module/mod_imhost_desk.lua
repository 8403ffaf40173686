-- mod_imhost_desk: the support desk's XMPP address (issue 6).
--
-- Load it as a component, one per server or one per customer domain:
--
--   Component "support.example.com" "imhost_desk"
--       imhost_desk_index = "/var/www/help/search"   -- sitegen's output (or its search/)
--       imhost_desk_site_url = "https://help.example.com"
--       imhost_desk_sendmail = "/usr/sbin/sendmail -t"  -- optional
--
-- Customers write to support.example.com (or any name@support.example.com);
-- technicians get ticket notifications from it and answer it.  Everything else
-- lives in mod_imhost (the global module, which must be loaded: this module uses
-- the core it opened) and imhost_desk.lib.lua.

local shared = module:shared("/*/imhost/core");

local function desk()
	if not shared.desk then
		module:log("error", "mod_imhost is not loaded globally: the support desk cannot work");
	end
	return shared.desk;
end

local function on_message(event)
	local d = desk();
	if d then return d.on_message(module.host, event.stanza); end
end
module:hook("message/host", on_message);
module:hook("message/bare", on_message);
module:hook("message/full", on_message);

-- Global modules load before components, but a reload can change that: wait
-- for the server to be up when mod_imhost is not there yet.
local function register()
	local d = desk();
	if d then d.add_desk(module.host, module); end
end
if shared.desk then
	register();
else
	module:hook_global("server-started", register);
end

function module.unload()
	if shared.desk then shared.desk.remove_desk(module.host); end
end
