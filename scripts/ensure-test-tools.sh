#!/usr/bin/env bash
# Installs the Debian packages the test suite drives besides PostgreSQL and NATS, when missing:
#   promtool  (package prometheus)  checks and unit-tests the Prometheus alert rules
#   chromium  (package chromium)    the headless browser the console's Playwright tests drive
# Set SKIP_SERVICE_SETUP=1 to skip (you provide them yourself).
set -euo pipefail
[ "${SKIP_SERVICE_SETUP:-}" = 1 ] && exit 0
log() { echo "ensure-test-tools: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || { log "apt-get not found: install ${missing[*]} yourself"; exit 1; }
log "installing the Debian packages ${missing[*]}"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
