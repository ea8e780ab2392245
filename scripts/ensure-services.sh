#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, trust auth for local connections) and NATS with
# JetStream (127.0.0.1:4222) are running, starting them, or installing the Debian packages
# `postgresql` and `nats-server` when they are missing. Set SKIP_SERVICE_SETUP=1 to skip.
set -euo pipefail
[ "${SKIP_SERVICE_SETUP:-}" = 1 ] && exit 0
log() { echo "ensure-services: $*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  command -v apt-get >/dev/null || { log "apt-get not found: install $* yourself"; exit 1; }
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "PostgreSQL not installed: installing the Debian package postgresql"
    apt_install postgresql
    # Local development only: trust connections from 127.0.0.1 (the project's default URL has no password).
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    done
  fi
  log "starting PostgreSQL"
  for v in $(ls /etc/postgresql); do as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
  for _ in $(seq 1 50); do port_open 5432 && break; sleep 0.2; done
  port_open 5432 || { log "PostgreSQL did not start on 127.0.0.1:5432"; exit 1; }
fi

if ! port_open 4222; then
  if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
    log "nats-server not installed: installing the Debian package nats-server"
    apt_install nats-server
  fi
  log "starting nats-server with JetStream on 127.0.0.1:4222"
  as_root mkdir -p /var/lib/nats-server
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 1 50); do port_open 4222 && break; sleep 0.2; done
  port_open 4222 || { log "nats-server did not start on 127.0.0.1:4222"; exit 1; }
fi
# The tests start private nats-servers of their own: the binary must be there.
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then apt_install nats-server; fi
