# Shared by scripts/demo.sh and scripts/test.sh: make_venv DIR PYTHON [pip args...]
# Creates DIR with PYTHON unless it exists, then installs this project (editable, with the
# test extra) into it. Quiet unless something fails.
make_venv() {
    dir="$1"; python="$2"; shift 2
    if [ ! -x "$dir/bin/python" ]; then
        "$python" -m venv "$dir" || return 1
    fi
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip<25" >/dev/null 2>&1 || true
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]" "$@" || return 1
}

find_python38() {
    if command -v pyenv >/dev/null 2>&1 && pyenv prefix 3.8.18 >/dev/null 2>&1; then
        echo "$(pyenv prefix 3.8.18)/bin/python3.8"
    elif command -v python3.8 >/dev/null 2>&1; then
        command -v python3.8
    fi
}

find_python3() {
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return; fi
    done
}
