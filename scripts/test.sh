#!/usr/bin/env bash
# Set up (or refresh) .venv/ and run the whole test suite, then the linter.
# Extra arguments go to pytest, e.g. scripts/test.sh -k edit -x
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/setup.sh"
cd "$repo"
.venv/bin/python -m pytest "$@"
.venv/bin/ruff check omeroprofiles plugins tests benchmarks scripts
