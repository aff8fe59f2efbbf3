#!/usr/bin/env bash
# Set up (or refresh) .venv/, then run the live demo against the stand-in OMERO server.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/setup.sh"
exec "$repo/.venv/bin/python" "$repo/scripts/demo.py"
