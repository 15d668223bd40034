#!/usr/bin/env bash
# Prepare a bare Debian 12 machine (or a developer's) for hotline: system packages, then a venv.
# Idempotent and quick when everything is already there. Usage: scripts/setup.sh [--postgres]
set -euo pipefail
cd "$(dirname "$0")/.."

want=(python3 python3-venv python3-dev gcc libpq-dev espeak-ng sip-tester chromium chromium-driver)
[[ "${1:-}" == "--postgres" ]] && want+=(postgresql)
want+=(fonts-noto-cjk)  # test set-up: CJK glyphs in the desktop browser test and its screenshots
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
