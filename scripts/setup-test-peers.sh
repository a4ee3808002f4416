#!/usr/bin/env bash
# Makes the real test peers available on this machine (idempotent, quick when done):
#   - Debian packages: dovecot-imapd (IMAP), prometheus + blackbox exporter, openssl
#   - PostgreSQL at 127.0.0.1:5432 running (started if the cluster exists but is down)
# No system service is started by apt: a policy-rc.d that exits 101 keeps dovecot
# and prometheus from grabbing their standard ports; tests run their own copies.
set -euo pipefail

need=()
command -v dovecot >/dev/null 2>&1 && command -v doveadm >/dev/null 2>&1 || need+=(dovecot-imapd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || need+=(prometheus-blackbox-exporter)

if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  echo "[setup] installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ -n "$created_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi

# The packages' own daemons must not hold the ports tests use.
pkill -x prometheus 2>/dev/null || true
pkill -f prometheus-blackbox-exporter 2>/dev/null || true

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      echo "[setup] starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 || { echo "[setup] PostgreSQL is not reachable at 127.0.0.1:5432 (set TEST_DATABASE_URL)"; exit 1; }
fi
echo "[setup] peers ready: $(dovecot --version 2>/dev/null | head -1 | cut -d' ' -f1) dovecot, $(prometheus --version 2>&1 | head -1 | awk '{print $3}') prometheus"
