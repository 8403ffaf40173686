#!/bin/sh
# make demo: a local Prosody with imhost on loopback, a demo domain with an admin and
# two users, message bodies logged, and the help site at /help/.  Foreground; Ctrl-C
# stops it.  Ports: IMHOST_C2S_PORT (5222) and IMHOST_HTTP_PORT (5280).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/demo/run"
domain=${IMHOST_DEMO_DOMAIN:-localhost}
c2s_port=${IMHOST_C2S_PORT:-5222}
http_port=${IMHOST_HTTP_PORT:-5280}

for p in "$c2s_port" "$http_port"; do
	if bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; then
		echo "demo: port $p on 127.0.0.1 is taken (a system Prosody? 'systemctl stop prosody')." >&2
		echo "demo: or pick others: IMHOST_C2S_PORT=15222 IMHOST_HTTP_PORT=15280 make demo" >&2
		exit 1
	fi
done

mkdir -p "$run/data" "$run/certs"

# The help site, served by Prosody at /help/.
if ! "$top/sitegen/sitegen" build --repo "$top" --worktree --out "$top/_site" \
	--base-url "http://127.0.0.1:$http_port/help/"; then
	echo "demo: the help site did not build (see above); /help/ will be empty" >&2
fi
cfg="$run/prosody.cfg.lua"
cat > "$cfg" <<CFG
-- Written by demo/run.sh; regenerated at every 'make demo'.
pidfile = "$run/prosody.pid"
certificates = "$run/certs" -- none: the demo speaks plain XMPP on loopback
data_path = "$run/data"
plugin_paths = { "$top/build/plugins" }
admin_socket = "$run/prosody.sock"
log = { { levels = { min = "info" }, to = "console" }; { levels = { min = "debug" }, to = "file", filename = "$run/prosody.log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { $c2s_port }
http_ports = { $http_port }
http_interfaces = { "127.0.0.1" }
http_default_host = "$domain" -- requests for 127.0.0.1 reach the demo domain
https_ports = {}
s2s_ports = {}
run_as_root = true
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
admins = { "admin@$domain" }
modules_enabled = {
	"roster"; "saslauth"; "disco"; "ping"; "time"; "version"; "uptime";
	"admin_shell"; "http"; "http_files"; "http_openmetrics";
	"imhost";
}
http_paths = { files = "/help" }
http_files_dir = "$top/_site"
http_index_files = { "index.html" }
openmetrics_allow_cidr = "127.0.0.0/8"
statistics = "internal"
-- Lua's collector in small, spread-out steps (docs/operators.md, "Event-loop
-- latency"): Prosody's default takes steps of several ms.
gc = { mode = "incremental", threshold = 150, speed = 25, step_size = 10 }

VirtualHost "$domain"
	imhost_log_bodies = true

Component "rooms.$domain" "muc"
	modules_enabled = { "imhost" }
CFG

# A fresh demo each time: users get new passwords, printed below.
pw() { head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 10; }
admin_pw=$(pw); alice_pw=$(pw); bob_pw=$(pw)
for u in admin:$admin_pw alice:$alice_pw bob:$bob_pw; do
	prosodyctl --config "$cfg" deluser "${u%%:*}@$domain" >/dev/null 2>&1 || true
	prosodyctl --config "$cfg" register "${u%%:*}" "$domain" "${u#*:}" >/dev/null
done

ctl="prosodyctl --config $cfg"
cat <<MSG

imhost demo — Prosody on 127.0.0.1:$c2s_port (XMPP) and :$http_port (HTTP)

  admin@$domain  password $admin_pw   (server admin)
  alice@$domain  password $alice_pw
  bob@$domain    password $bob_pw
  rooms:         <name>@rooms.$domain   (message bodies are logged on $domain)

Connect with any XMPP client (plain connection, host 127.0.0.1, port $c2s_port), e.g.
  profanity: /connect alice@$domain server 127.0.0.1 port $c2s_port tls disable
Send a few messages between alice and bob, then try:
  $ctl mod_imhost help
  $ctl mod_imhost logs.search keyword=hello
  $ctl mod_imhost logs.trends metric=messages granularity=hour --json
  $ctl shell imhost logs_status
  $ctl mod_imhost customers.create name=Demo owner=alice@$domain --json
  $ctl mod_imhost domains.attach customer=1 domain=$domain   (then alice manages users and rooms)
  curl -u admin@$domain:$admin_pw 'http://127.0.0.1:$http_port/imhost/api/v1/logs/search?keyword=hello' -H 'Host: $domain'
  curl http://127.0.0.1:$http_port/imhost/api/v1/openapi.json -H 'Host: $domain'
  In Gajim or Conversations as admin: "Execute command" on $domain -> imhost commands.
Help site: http://127.0.0.1:$http_port/help/
Metrics:   http://127.0.0.1:$http_port/metrics
Stop with Ctrl-C.

MSG
exec prosody --config "$cfg" -F
