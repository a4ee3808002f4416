#!/usr/bin/env bash
# The real peers the tests run against. Two modes:
#   setup-test-peers.sh --check    say what is missing (exit 1 if anything is); changes nothing
#   setup-test-peers.sh            (`pnpm test:setup`) install what is missing and start PostgreSQL
# Installs, with apt (needs root or sudo): dovecot-imapd (IMAP), prometheus, prometheus-blackbox-exporter,
# openssl, chromium (the console's browser tests drive it with playwright-core; no browser download). Starts the local PostgreSQL cluster if it exists but is down (unless TEST_DATABASE_URL is set).
# It never stops a process: the tests start their own dovecot, prometheus and blackbox exporter on free
# ports, and a policy-rc.d that exits 101 keeps apt from starting the packages' system daemons.
set -euo pipefail

need=()
command -v dovecot >/dev/null 2>&1 && command -v doveadm >/dev/null 2>&1 || need+=(dovecot-imapd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || need+=(prometheus-blackbox-exporter)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

postgres_ok() {
  [ -n "${TEST_DATABASE_URL:-}" ] || pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null
}

if [ "${1:-}" = "--check" ]; then
  missing=("${need[@]}")
  postgres_ok || missing+=("PostgreSQL at 127.0.0.1:5432")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "[test peers] missing: ${missing[*]}"
    exit 1
  fi
  exit 0
fi

if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  echo "[test:setup] installing Debian packages with apt-get: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ -n "$created_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      echo "[test:setup] starting the local PostgreSQL cluster"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 || { echo "[test:setup] PostgreSQL is not reachable at 127.0.0.1:5432 (set TEST_DATABASE_URL)"; exit 1; }
fi
echo "[test:setup] peers ready: $(dovecot --version 2>/dev/null | head -1 | cut -d' ' -f1) dovecot, $(prometheus --version 2>&1 | head -1 | awk '{print $3}') prometheus, $(chromium --version 2>/dev/null | awk '{print $2}') chromium"
