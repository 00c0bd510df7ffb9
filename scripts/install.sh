#!/usr/bin/env bash
# Set up everything browserfleet needs on a Debian 12 machine: system packages,
# the .venv and the locked Python dependencies.
#
# Idempotent and fast when already done: each step writes a stamp under .stamps/
# holding a hash of its inputs, and is skipped while that hash is unchanged.
#   apt  <- scripts/apt-packages.txt
#   venv <- the Python interpreter's version
#   deps <- requirements.lock, pyproject.toml, UV_VERSION and the venv's Python
#   js   <- tests/js/package-lock.json (+ package.json): npm clients the tests drive
#   nodejs <- browserfleet/node/js/package-lock.json (+ package.json): rrweb's recorder, which
#             the node injects into session pages (session recordings)
#   consolejs <- browserfleet/console/js/package-lock.json (+ package.json): the web console's
#             browser-side libraries (rrweb-player for session replays), served by the console
# and, when run as root, the unprivileged system user browsers run as (OS containment,
# docs/security-containment.md): created once, no stamp needed.
set -euo pipefail

UV_VERSION="${UV_VERSION:-0.13.8}"   # the one place the uv version is pinned
PY_VERSION="3.11"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
STAMPS="$ROOT/.stamps"
VENV="$ROOT/.venv"
APT_LIST="$ROOT/scripts/apt-packages.txt"

mkdir -p "$STAMPS"
# Serialise concurrent `make install` runs in this work tree.
exec 9>"$STAMPS/.lock"
flock 9

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_write() { printf '%s\n' "$2" >"$STAMPS/$1"; }

as_root() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

updated=0

# --- 1. Debian packages -------------------------------------------------------
apt_packages() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$APT_LIST" | grep -v '^$'; }

step_apt() {
    local key
    key="$(hash_of "$APT_LIST")"
    stamp_ok apt "$key" && return 0

    local missing=() pkg
    while read -r pkg; do
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]]; then
            missing+=("$pkg")
        fi
    done < <(apt_packages)

    if ((${#missing[@]})); then
        log "Installing Debian packages: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
        updated=1
    fi
    stamp_write apt "$key"
}

# --- 2. Virtual environment ---------------------------------------------------
find_python() {
    local candidate
    for candidate in "python$PY_VERSION" python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            [[ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "$PY_VERSION" ]]; then
            command -v "$candidate"
            return 0
        fi
    done
    die "Python $PY_VERSION not found (tried python$PY_VERSION and python3)"
}

venv_python_version() {
    "$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true
}

step_venv() {
    local version
    version="$(venv_python_version)"
    if [[ "$version" == "$PY_VERSION".* ]] && stamp_ok venv "$version"; then
        return 0
    fi
    if [[ "$version" != "$PY_VERSION".* ]]; then
        local python
        python="$(find_python)"
        log "Creating .venv with $python"
        rm -rf "$VENV"
        "$python" -m venv "$VENV"
        rm -f "$STAMPS/deps"
        version="$(venv_python_version)"
        updated=1
    fi
    stamp_write venv "$version"
}

# --- 3. Python dependencies ---------------------------------------------------
# uv trusts its own bundled CA roots unless told otherwise; on Debian use the system
# store (which also holds any CA a proxy in front of the registries needs).
if [[ -z "${SSL_CERT_FILE:-}" && -f /etc/ssl/certs/ca-certificates.crt ]]; then
    export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi

step_deps() {
    local key
    key="$(
        {
            cat "$ROOT/requirements.lock" "$ROOT/pyproject.toml"
            echo "uv=$UV_VERSION python=$(venv_python_version) bytecode=compiled"
        } | sha256sum | cut -d' ' -f1
    )"
    stamp_ok deps "$key" && [[ -x "$VENV/bin/uv" ]] && return 0

    if [[ "$("$VENV/bin/uv" --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
        log "Installing uv==$UV_VERSION into .venv"
        "$VENV/bin/pip" install --disable-pip-version-check -q "uv==$UV_VERSION"
    fi
    log "Installing the locked Python dependencies (requirements.lock, hash-checked)"
    # compiled now: a process never compiles a dependency at start, even where Python may not
    # write bytecode (PYTHONDONTWRITEBYTECODE); `browserfleet keys create` 0.47 s -> 0.24 s
    "$VENV/bin/uv" pip install --python "$VENV/bin/python" --require-hashes --compile-bytecode \
        -r "$ROOT/requirements.lock"
    "$VENV/bin/uv" pip install --python "$VENV/bin/python" --no-deps -e "$ROOT"
    updated=1
    stamp_write deps "$key"
}

# --- 4. npm packages, each folder from its own lock file ----------------------
#   tests/js                 the Node test clients (puppeteer-core)
#   browserfleet/node/js     the node's browser-side libraries (rrweb recorder)
#   browserfleet/console/js  the web console's browser-side libraries (rrweb-player)
step_npm() {  # step_npm STAMP FOLDER WHAT
    local stamp="$1" dir="$ROOT/$2" what="$3" key
    key="$(
        {
            cat "$dir/package-lock.json" "$dir/package.json"
            echo "node=$(node --version 2>/dev/null)"
        } | sha256sum | cut -d' ' -f1
    )"
    stamp_ok "$stamp" "$key" && [[ -d "$dir/node_modules" ]] && return 0

    command -v npm >/dev/null 2>&1 || die "npm not found (Debian: apt-get install npm)"
    log "Installing $what from $2/package-lock.json"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    updated=1
    stamp_write "$stamp" "$key"
}

# --- 6. The browsers' own user (OS containment) ---------------------------------
# A node running as root starts every browser as this user, in a bubblewrap sandbox of its own
# (browserfleet/node/sandbox/). Only root can create it, and only a root node can use it.
BROWSER_USER="${BROWSERFLEET_BROWSER_USER:-browserfleet-browser}"

step_browser_user() {
    id -u "$BROWSER_USER" >/dev/null 2>&1 && return 0
    if [[ "$(id -u)" != 0 ]]; then
        log "Not root: no system user $BROWSER_USER (browsers are contained only by a node running as root; docs/security-containment.md)"
        return 0
    fi
    log "Creating the system user $BROWSER_USER (contained browsers run as it)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --comment "browserfleet browsers" "$BROWSER_USER"
    updated=1
}

step_apt
step_venv
step_deps
step_npm js tests/js "the Node test clients"
step_npm nodejs browserfleet/node/js "the node's browser-side libraries"
step_npm consolejs browserfleet/console/js "the console's browser-side libraries"
step_browser_user

if ((updated)); then
    log "Install complete."
else
    log "Everything is up to date (apt packages, .venv, Python dependencies, Node test clients, node JS libraries, browser user)."
fi
