#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, if missing.
# Usage: scripts/deps.sh [test|demo]
set -euo pipefail
what=${1:-test}
pkgs=(prosody inspircd)
if [ "$what" = test ]; then
	pkgs+=(ejabberd ngircd postgresql)
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "Installing: ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
# Debian starts system-wide instances on the default ports; the tests and
# the demo run their own on free loopback ports, so those are not needed.
for svc in prosody ejabberd inspircd ngircd; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
		[ "$(id -u)" -eq 0 ] && systemctl stop "$svc" || true
	fi
done
exit 0
