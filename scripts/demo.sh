#!/usr/bin/env bash
# The main job on embedded defaults: SQLite + the built-in FreeSWITCH emulator, synthetic agents
# and callers, live progress, then a summary. Arguments go to `hotline demo` (e.g. --calls 50).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/hotline demo "$@"
