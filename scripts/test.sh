#!/usr/bin/env bash
# Set up (or refresh) .venv/ and run the whole test suite, then the linter.
# Extra arguments go to pytest, e.g. scripts/test.sh -k edit -x
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/setup.sh"
cd "$repo"
# The `env`/`use --shell` quoting tests evaluate every line in bash, zsh, dash and fish for real (they
# fail, naming the shell, when one is missing). PowerShell is not packaged where this can install it.
missing_shells=()
for shell in zsh dash fish; do command -v "$shell" >/dev/null 2>&1 || missing_shells+=("$shell"); done
if [ ${#missing_shells[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_shells[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_shells[@]}" >/dev/null 2>&1; } \
    || echo "[test] could not install ${missing_shells[*]}: the shell-quoting tests will fail" >&2
fi
.venv/bin/python -m pytest "$@"
.venv/bin/ruff check omeroprofiles standin plugins tests benchmarks scripts
