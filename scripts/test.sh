#!/bin/sh
# The whole test suite, set-up included, on both Pythons:
#   1. current Python (.venv) with current packages;
#   2. Python 3.8 (.venv38) with DataFlux Func's pinned packages (requirements/func-py38.txt).
# Arguments are passed to pytest. Set ONLY=current or ONLY=py38 to run one of them.
set -e
cd "$(dirname "$0")/.."
. scripts/_venv.sh
status=0
if [ "${ONLY:-}" != "py38" ]; then
    python="${PYTHON:-$(find_python3)}"
    echo "== current Python: $("$python" --version 2>&1) ==" >&2
    make_venv .venv "$python"
    .venv/bin/python -m pytest -q "$@" || status=1
fi
if [ "${ONLY:-}" != "current" ]; then
    python38="$(find_python38)"
    if [ -z "$python38" ]; then
        echo "Python 3.8 not found (install it with pyenv: pyenv install 3.8.18)" >&2
        exit 2
    fi
    echo "== Python 3.8 with the DataFlux Func pins: $("$python38" --version 2>&1) ==" >&2
    make_venv .venv38 "$python38" -c requirements/func-py38.txt
    .venv38/bin/python -m pytest -q "$@" || status=1
fi
exit $status
