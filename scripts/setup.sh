#!/usr/bin/env bash
# Create or refresh .venv/ at the repo root with omero-profiles installed editable (+ test extras).
#
# Safe to run again and again: a stamp file skips the pip step when nothing changed, and the
# zeroc-ice wheel (a patched source build: PyPI has no wheel for Python 3.10-3.13) is cached under
# ${XDG_CACHE_HOME:-~/.cache}/omero-profiles/wheels, one per Python version, so only the first
# run with each version pays for it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

venv="$repo/.venv"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/omero-profiles/wheels"
log() { printf '[setup] %s\n' "$*" >&2; }

# A usable interpreter is one that actually runs, is new enough and can make a venv. Being on
# PATH is not enough: a pyenv shim for a version that is not active exists but fails, and
# Debian's python3.X lacks ensurepip (so `-m venv` fails) without the python3.X-venv package.
usable_python() { "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; }

pick_python() {
  if [ -n "${OMERO_PROFILES_PYTHON:-}" ]; then
    usable_python "$OMERO_PROFILES_PYTHON" && { echo "$OMERO_PROFILES_PYTHON"; return 0; }
    log "OMERO_PROFILES_PYTHON=$OMERO_PROFILES_PYTHON does not run, is older than 3.10 or lacks venv/ensurepip"
    return 1
  fi
  # Preferred versions first (all four work; 3.11 and 3.12 have been used longest); for each,
  # every match on PATH, so a failing shim does not hide a working interpreter of the same name
  # further down. python3 last: it may be older than 3.10 while a python3.1x beside it is fine.
  local name path
  for name in python3.11 python3.12 python3.13 python3.10 python3; do
    while IFS= read -r path; do
      if usable_python "$path"; then echo "$path"; return 0; fi
    done < <(type -ap "$name")
  done
  log "no usable Python found: tried python3.11 python3.12 python3.13 python3.10 python3 (each must run and be >= 3.10"
  log "with the venv module and ensurepip; on Debian/Ubuntu: apt-get install python3-venv)."
  log "Point OMERO_PROFILES_PYTHON at an interpreter to use it, e.g. OMERO_PROFILES_PYTHON=\$(pyenv which python3.11)"
  return 1
}

ensure_build_tools() {
  # zeroc-ice's C++ extension needs a compiler, the OpenSSL and bzip2 headers and Python.h
  # (which Debian's own pythons ship apart, in python3.X-dev).
  local missing=() python_dev
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
  [ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
  [ -f /usr/include/bzlib.h ] || missing+=(libbz2-dev)
  python_dev="$("$vpy" -c 'import os, sys, sysconfig
if not os.path.exists(os.path.join(sysconfig.get_path("include"), "Python.h")):
    print("python%d.%d-dev" % sys.version_info[:2])')"
  [ -z "$python_dev" ] || missing+=("$python_dev")
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing build dependencies: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing build dependencies: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})"
    exit 1
  fi
}

# A venv whose interpreter no longer runs (say its pyenv version was uninstalled) is made anew.
if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
  python="$(pick_python)" || exit 1
  log "creating .venv with $("$python" -c 'import sys; print("Python", sys.version.split()[0], sys.executable)')"
  "$python" -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
fi
vpy="$venv/bin/python"

install_cached_ice() { "$vpy" -m pip install --quiet --no-index --find-links "$cache" "zeroc-ice==3.6.5" >/dev/null 2>&1; }

# 1. zeroc-ice 3.6.x: an installable wheel if pip has one, else our cached patched build.
if ! "$vpy" -c "import Ice" >/dev/null 2>&1; then
  if "$vpy" -m pip install --quiet --only-binary :all: "zeroc-ice>=3.6.5,<3.7" >/dev/null 2>&1; then
    log "installed a prebuilt zeroc-ice wheel"
  elif install_cached_ice; then
    log "installed zeroc-ice from the cache ($cache)"
  else
    mkdir -p "$cache"
    # One build per cache at a time (set-ups of two checkouts share it): a second set-up waits
    # here, then installs the wheel that the first one built.
    if command -v flock >/dev/null 2>&1; then
      exec 9>"$cache/.build.lock"
      flock -n 9 || { log "waiting for another set-up that is building zeroc-ice"; flock 9; }
    fi
    if install_cached_ice; then
      log "installed zeroc-ice from the cache ($cache), built by a concurrent set-up"
    else
      ensure_build_tools
      # --no-build-isolation builds with the venv's own setuptools and wheel: make sure they are
      # there even if an earlier run was stopped right after creating the venv.
      "$vpy" -m pip install --quiet --upgrade setuptools wheel
      log "building zeroc-ice 3.6.5 from source for Python $("$vpy" -c 'import sys; print("%d.%d" % sys.version_info[:2])'), patched (once per Python version; ~3 min on 2 idle cores)"
      start=$SECONDS
      # 9>&-: the compilers must not inherit the lock and hold it after this script is killed.
      "$vpy" "$repo/scripts/build_zeroc_ice.py" "$cache" >/dev/null 9>&-
      log "built zeroc-ice in $((SECONDS - start)) s"
      "$vpy" -m pip install --quiet --no-index --find-links "$cache" "zeroc-ice==3.6.5"
    fi
    exec 9>&-
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
