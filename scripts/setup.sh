#!/usr/bin/env bash
# Create or refresh .venv/ at the repo root with omero-profiles installed editable (+ test extras).
#
# Safe to run again and again: a stamp file skips the pip step when nothing changed, and the
# zeroc-ice wheel (which needs a patched source build on Python >= 3.11) is cached under
# ${XDG_CACHE_HOME:-~/.cache}/omero-profiles/wheels, so only the very first run pays for it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

python="${OMERO_PROFILES_PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3.12 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
  done
fi
venv="$repo/.venv"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/omero-profiles/wheels"
log() { printf '[setup] %s\n' "$*" >&2; }

ensure_build_tools() {
  # zeroc-ice's C++ extension needs a compiler and the OpenSSL and bzip2 headers.
  local missing=()
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
  [ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
  [ -f /usr/include/bzlib.h ] || missing+=(libbz2-dev)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing build dependencies: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing build dependencies: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})"
    exit 1
  fi
}

if [ ! -x "$venv/bin/python" ]; then
  log "creating .venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
fi
vpy="$venv/bin/python"

# 1. zeroc-ice 3.6.x: an installable wheel if pip has one, else our cached patched build.
if ! "$vpy" -c "import Ice" >/dev/null 2>&1; then
  if "$vpy" -m pip install --quiet --only-binary :all: "zeroc-ice>=3.6.5,<3.7" >/dev/null 2>&1; then
    log "installed a prebuilt zeroc-ice wheel"
  elif "$vpy" -m pip install --quiet --no-index --find-links "$cache" "zeroc-ice==3.6.5" >/dev/null 2>&1; then
    log "installed zeroc-ice from the cache ($cache)"
  else
    ensure_build_tools
    log "building zeroc-ice 3.6.5 from source (patched for Python >= 3.11; ~5 min, once)"
    "$vpy" "$repo/scripts/build_zeroc_ice.py" "$cache" >/dev/null
    "$vpy" -m pip install --quiet --no-index --find-links "$cache" "zeroc-ice==3.6.5"
  fi
fi

# 2. the project itself, editable, with test extras, the stand-in server and the in-repo plugin distributions.
stamp="$venv/.omero-profiles-installed"
shopt -s nullglob
fingerprint="$(cat pyproject.toml standin/pyproject.toml plugins/*/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$fingerprint" ] || ! "$venv/bin/omero-profile" --version >/dev/null 2>&1; then
  log "installing omero-profiles (editable) and test dependencies"
  extra_plugins=("-e" "standin/")
  for plugin in plugins/*/; do
    [ -f "$plugin/pyproject.toml" ] && extra_plugins+=("-e" "$plugin")
  done
  if ! "$vpy" -m pip install --quiet -e ".[test]" "${extra_plugins[@]}" >"$venv/pip-install.log" 2>&1; then
    cat "$venv/pip-install.log" >&2
    log "pip install failed (log above)"
    exit 1
  fi
  echo "$fingerprint" > "$stamp"
fi

"$vpy" -c "import omero.gateway, Ice" || { log "omero-py / Ice do not import"; exit 1; }
