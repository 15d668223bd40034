#!/usr/bin/env bash
# Prepare a bare Debian 12 machine (or a developer's) for hotline: system packages, then a venv.
# Idempotent and quick when everything is already there. One line per step; the tools' own output
# goes to .venv-setup.log (shown only when a step fails).
#   scripts/setup.sh            what running hotline needs (the demo: Python, espeak-ng for speech)
#   scripts/setup.sh --test     and what the tests need (SIPp, Chromium, PostgreSQL, a compiler for psycopg2)
set -euo pipefail
cd "$(dirname "$0")/.."
LOG="$PWD/.venv-setup.log"
: >"$LOG"

step() {  # step "what" command...: run quietly, say what was done, show the log if it failed
  local what=$1; shift
  if "$@" >>"$LOG" 2>&1; then echo "setup: $what"; else echo "setup: $what FAILED (log: $LOG)" >&2; tail -n 30 "$LOG" >&2; exit 1; fi
}

want=(python3 python3-venv espeak-ng)
extras=""
testing=""; [[ "${1:-}" == "--test" || "${1:-}" == "--postgres" ]] && testing=1
if [[ -n "$testing" ]]; then
  want+=(python3-dev gcc libpq-dev sip-tester chromium chromium-driver postgresql fonts-noto-cjk)
  extras="[test,postgres]"
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  step "apt-get update" $SUDO apt-get update -qq
  step "installed ${missing[*]}" env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages already there (${#want[@]})"
fi

PY=$(command -v python3.11 || command -v python3)
[[ -x .venv/bin/python ]] || step "created .venv" "$PY" -m venv .venv
sha=$(sha1sum setup.cfg | cut -c1-12)
if [[ -n "$extras" ]]; then up_to_date() { [[ -f .venv/.installed-$sha-test ]]; }
else up_to_date() { compgen -G ".venv/.installed-$sha*" >/dev/null; }; fi  # the test set-up has it all
if up_to_date; then
  echo "setup: .venv up to date"
else
  step "upgraded pip" .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
  step "installed hotline$extras into .venv" .venv/bin/pip install -q --disable-pip-version-check -e ".$extras"
  rm -f .venv/.installed-*
  touch ".venv/.installed-$sha${extras:+-test}"
fi

# The test set-up only: promtool (checks ops/prometheus/ in tests/test_ops_alerts.py), taken out of
# Debian's prometheus package alone: no Prometheus server is installed, started or given a user.
install_promtool() {  # Debian's prometheus package, unpacked: only its promtool, into .venv/bin
  local tmp; tmp=$(mktemp -d)
  [[ $(id -u) -eq 0 ]] && chown _apt "$tmp" 2>/dev/null || true
  (cd "$tmp" && { apt-get download -qq prometheus 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus; }; })
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
  install -m 755 "$tmp/usr/bin/promtool" .venv/bin/promtool
  rm -rf "$tmp"
}
if [[ -n "$testing" ]] && ! command -v promtool >/dev/null && [[ ! -x .venv/bin/promtool ]]; then
  step "promtool from Debian's prometheus package (the tool only)" install_promtool
fi

# The dialplan fallback's messages, rendered once (dialplans/default.xml plays them; never TTS per call)
step "fallback prompts rendered (freeswitch_conf/prompts/)" scripts/render_prompts.sh
