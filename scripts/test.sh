#!/usr/bin/env bash
# Set up (or refresh) .venv/ and run the whole test suite, then the linter.
# Extra arguments go to pytest, e.g. scripts/test.sh -k edit -x
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/setup.sh"
cd "$repo"
# fish reads quotes differently from sh: the `env`/`use --shell` quoting tests run it for real.
if ! command -v fish >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fish >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fish >/dev/null 2>&1; } \
    || echo "[test] could not install fish: its shell-quoting test will be skipped" >&2
fi
.venv/bin/python -m pytest "$@"
.venv/bin/ruff check omeroprofiles standin plugins tests benchmarks scripts
