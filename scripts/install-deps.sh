#!/bin/sh
# Installs the Debian 12 packages imhost builds, tests and runs with.
# Used by `make demo`, `make test` and CI; installs only what is missing.
# Usage: install-deps.sh [group...]   groups: build test demo bench
set -eu

build="make gcc pkg-config xxd curl lua5.4 liblua5.4-dev libsqlite3-dev sqlite3 libjansson-dev
 libcmark-gfm-dev libcmark-gfm-extensions-dev libgit2-dev libyaml-dev liblz4-dev libssl-dev git prosody openssl"
test="libcmocka-dev libstrophe-dev tidy lua-dbi-sqlite3 lua-check chromium"
bench="hugo cmark-gfm lua-dbi-sqlite3 time"

want=""
[ $# -eq 0 ] && set -- build
for g in "$@"; do
	case "$g" in
	build) want="$want $build" ;;
	test) want="$want $build $test" ;;
	demo) want="$want $build" ;;
	bench) want="$want $build $test $bench" ;;
	*) echo "install-deps: unknown group '$g'" >&2; exit 2 ;;
	esac
done

# The browser test needs node and npm; a machine may have them from elsewhere
# (nodesource's nodejs bundles npm and conflicts with Debian's npm package).
case " $want " in *" chromium "*)
	command -v npm >/dev/null 2>&1 || want="$want nodejs npm" ;;
esac

missing=""
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Installing prosody on a systemd host starts the system service; we never need it.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
