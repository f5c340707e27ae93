#!/bin/sh
# Run the demo on a fresh machine: create .venv, install the package, run `guance-monitor demo`.
# Arguments are passed to `guance-monitor demo` (e.g. --check spot-alive --out demo-out).
set -e
cd "$(dirname "$0")/.."
. scripts/_venv.sh
python="${PYTHON:-$(find_python3)}"
echo "setting up .venv with $python ..." >&2
make_venv .venv "$python"
exec .venv/bin/guance-monitor demo "$@"
