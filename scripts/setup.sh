#!/usr/bin/env bash
# Prepare a bare Debian 12 machine (or a developer's) for hotline: system packages, then a venv.
# Idempotent and quick when everything is already there. Usage: scripts/setup.sh [--postgres]
set -euo pipefail
cd "$(dirname "$0")/.."

want=(python3 python3-venv python3-dev gcc libpq-dev espeak-ng sip-tester chromium chromium-driver)
[[ "${1:-}" == "--postgres" ]] && want+=(postgresql)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=$(command -v python3.11 || command -v python3)
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum setup.cfg | cut -c1-12)
if [[ ! -f "$stamp" ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test,postgres]'
  rm -f .venv/.installed-*; touch "$stamp"
fi

# The test set-up only: promtool (checks ops/prometheus/ in tests/test_ops_alerts.py), taken out of
# Debian's prometheus package alone: no Prometheus server is installed, started or given a user.
if [[ "${1:-}" == "--postgres" ]] && ! command -v promtool >/dev/null && [[ ! -x .venv/bin/promtool ]]; then
  echo "setup: promtool from Debian's prometheus package (the tool only)"
  tmp=$(mktemp -d)
  [[ $(id -u) -eq 0 ]] && chown _apt "$tmp" 2>/dev/null || true
  (cd "$tmp" && { apt-get download -qq prometheus 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus; }; })
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
  install -m 755 "$tmp/usr/bin/promtool" .venv/bin/promtool
  rm -rf "$tmp"
fi
