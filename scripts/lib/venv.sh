# Shared by scripts/serve and scripts/test: make ./.venv hold this project and its test tools.
# Re-installs only when setup.cfg or pyproject.toml changed since the last install; builds the
# SDK's distributions for the server's package index when sdk/ changed (scripts/sdk_dist.py).
#
# The interpreter: $PYTHON if set, else `python3`, except as root when `python3` is one the
# unprivileged user cannot run. The integration tests also run the server as uid 1000 (as KFP's
# pod does, tests/integration/support.py), and a venv's interpreter is its base one: pyenv's
# Python under /root (mode 700) is out of that user's reach. Debian's /usr/bin/python3 is then
# used instead, and a .venv built from an unreachable interpreter is rebuilt once.

UNPRIVILEGED="setpriv --reuid=1000 --regid=0 --clear-groups"

# True when uid 1000 can read `$1`'s interpreter and standard library, as root sees them (always
# true unless we are root and can check). Running it as uid 1000 is no test: an interpreter whose
# home it cannot read may still start, with some other Python's library.
runs_unprivileged() {
  [ "$(id -u)" -ne 0 ] && return 0
  command -v setpriv >/dev/null || return 0
  local path
  while read -r path; do
    $UNPRIVILEGED test -r "$path" || return 1
  done < <("$1" -c 'import os, sys, sysconfig
print(os.path.realpath(sys.executable)); print(sysconfig.get_paths()["stdlib"] + "/os.py")')
}

pick_python() {
  if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"
    return
  fi
  local real
  real="$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null || true)"
  if [ -n "$real" ] && ! runs_unprivileged "$real" && runs_unprivileged /usr/bin/python3; then
    echo /usr/bin/python3
  else
    echo python3
  fi
}

ensure_venv() {
  local python
  python="$(pick_python)"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "kfp-viz-server needs Python 3.11 or newer as '$python' (set PYTHON=/path/to/python3.11)" >&2
    exit 1
  fi
  if [ -x .venv/bin/python ] && ! runs_unprivileged .venv/bin/python && runs_unprivileged "$python"; then
    echo ">> rebuilding .venv from $python: uid 1000 cannot run its interpreter" >&2
    rm -rf .venv
  fi
  if [ ! -x .venv/bin/python ]; then
    echo ">> creating .venv with $python" >&2
    "$python" -m venv .venv
  fi
  local stamp
  stamp=".venv/.installed-$(cat setup.cfg pyproject.toml sdk/pyproject.toml | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo ">> installing kfp-viz-server, its SDK (sdk/) and its test tools into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    # Both editable. In a checkout the server requires ./sdk by path (setup.py), which pip will
    # not take beside an editable ./sdk: their requirements go in first, from setup.cfg, then
    # both packages without dependencies (as deploy/Dockerfile does in the image).
    .venv/bin/python - > .venv/requirements.txt <<'PY'
import configparser
setup = configparser.ConfigParser()
setup.read("setup.cfg")
lines = (setup["options"]["install_requires"] + "\n"
         + setup["options.extras_require"]["test"]).splitlines()
print("\n".join(r.strip() for r in lines if r.strip() and not r.strip().startswith("kfp-viz")))
PY
    .venv/bin/python -m pip install --quiet -r .venv/requirements.txt
    .venv/bin/python -m pip install --quiet --no-deps -e ./sdk -e .
    rm -f .venv/.installed-*
    touch "$stamp"
  fi
  # The SDK's wheel and sdist, which the server serves at /simple/ (server/sdk_index.py) from
  # .venv/share/kfp-viz/sdk by default: built when sdk/ changed, else a quick no-op.
  .venv/bin/python scripts/sdk_dist.py
}
