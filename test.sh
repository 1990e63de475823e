#!/usr/bin/env bash
# Install everything the tests need (virtual environment, Python packages; Debian's chromium
# for the browser tests, postgresql for the team store and table tests, a Java runtime for
# local Spark), lint and type-check, then run every test in two processes (a test file per
# process; `-n 0` runs them in one). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
MISSING=()
command -v chromium >/dev/null 2>&1 || MISSING+=(chromium)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || MISSING+=(postgresql postgresql-contrib)
command -v java >/dev/null 2>&1 || MISSING+=(openjdk-17-jre-headless)
if [ ${#MISSING[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${MISSING[@]}" >/dev/null
fi
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
exec "$VENV/bin/python" -m pytest -n 2 --dist loadfile "$@"
