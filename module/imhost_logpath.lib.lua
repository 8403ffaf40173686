-- imhost_logpath: the per-message work of the logging hooks, kept small because
-- it runs on Prosody's one thread for every message routed (bench/run.sh holds
-- imhost to >= 0.9x of plain Prosody's throughput).
--
-- scan(stanza) -> body, encrypted
--   One pass over the stanza's child tags finds what the old code found with
--   get_child_text("body") plus a second and third pass for encryption:
--   body      the text of the FIRST <body/> in the stanza's own namespace (exactly
--             stanza:get_child_text("body")), or nil;
--   encrypted "omemo" | "openpgp" | "otr" | "encrypted" | nil.  The fallback
--             <body/> of an encrypted message ("I sent you an OMEMO message") is
--             never logged as text: callers pass body only when encrypted is nil.
-- No allocation for a message without <body/> (chat states, receipts): the
-- caller's cheap early exit.

local encryption_namespaces = {
	["eu.siacs.conversations.axolotl"] = "omemo";
	["urn:xmpp:omemo:2"] = "omemo";
	["urn:xmpp:openpgp:0"] = "openpgp";
	["jabber:x:encrypted"] = "openpgp";
};
local EME = "urn:xmpp:eme:0";
local QUESTION = string.byte("?");

local function scan(stanza)
	local tags = stanza.tags;
	local own_xmlns = stanza.attr.xmlns;
	local body_tag, scheme, eme;
	for i = 1, #tags do
		local child = tags[i];
		local name, xmlns = child.name, child.attr.xmlns;
		-- An encryption element anywhere wins (first one, as before).
		if not scheme and xmlns then scheme = encryption_namespaces[xmlns]; end
		if name == "body" then
			if not body_tag and xmlns == own_xmlns then body_tag = child; end
		elseif name == "encryption" and xmlns == EME then
			eme = true;
		end
	end
	local body;
	if body_tag and #body_tag.tags == 0 then
		-- get_text() is table.concat of the text nodes: a new copy of the body
		-- per message, for the collector to sweep.  One text node (the usual
		-- case) is the string itself.
		body = #body_tag == 1 and body_tag[1] or table.concat(body_tag);
	end
	if scheme then return body, scheme; end
	if body and body:byte(1) == QUESTION and body:sub(1, 4) == "?OTR" then return body, "otr"; end
	if eme then return body, "encrypted"; end
	return body, nil;
end

return { scan = scan };
