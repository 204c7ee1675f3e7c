#!/usr/bin/env bash
# The client-library matrix: runs one program per client library (tests/clients/<lang>/) against a
# server this script starts itself, and prints a table (language, library, version, result).
#
#   tests/clients/run.sh [--target ferrokv|redis] [--langs a,b,...] [--markdown FILE] [--no-install]
#                        [--strict]
#
# --target   ferrokv (default; binary from $FERROKV_BIN, else target/release, else the cargo build
#            dir $CARGO_TARGET_DIR/{release,debug}) or redis (redis-server from PATH).
# --langs    comma-separated subset of: python node-redis ioredis c cpp objc ruby perl php lua go rust
#            (default: all but go, whose Debian toolchain is a large install; all of them
#            with FERROKV_CLIENTS=all or --langs all).
# --markdown write the result table as Markdown to FILE as well.
# --strict   run every check even where the server lacks the feature (see probe_features).
#
# Missing libraries are installed first (idempotent; quick when present): Debian packages with
# apt-get, redis-py with pip into $CACHE/py, the npm packages into $CACHE/node, the Rust program's
# crates through cargo (build dir $CACHE/rust-target), where CACHE is $FERROKV_CLIENTS_CACHE or
# ~/.cache/ferrokv-clients (outside the clone, so CI runs reuse it). Nothing downloads while the
# programs run. Every program gets REDIS_HOST, REDIS_PORT and REDIS_PASSWORD_FOR_TEST (the password
# it sets with CONFIG SET requirepass for its AUTH checks and resets afterwards; this script resets
# it too after each program, so one failing program cannot lock the others out).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${FERROKV_CLIENTS_CACHE:-$HOME/.cache/ferrokv-clients}"
PASSWORD="ferrokv-matrix-secret"
QUICK_LANGS="python,node-redis,ioredis,c,cpp,objc,ruby,perl,php,lua,rust"
ALL_LANGS="python,node-redis,ioredis,c,cpp,objc,ruby,perl,php,lua,go,rust"

target=ferrokv
langs=""
markdown=""
install=1
strict=0
while [ $# -gt 0 ]; do
    case "$1" in
        --target) target="$2"; shift 2 ;;
        --target=*) target="${1#*=}"; shift ;;
        --langs) langs="$2"; shift 2 ;;
        --langs=*) langs="${1#*=}"; shift ;;
        --markdown) markdown="$2"; shift 2 ;;
        --no-install) install=0; shift ;;
        --strict) strict=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$langs" ]; then
    if [ "${FERROKV_CLIENTS:-}" = "all" ]; then langs="$ALL_LANGS"; else langs="$QUICK_LANGS"; fi
fi
[ "$langs" = all ] && langs="$ALL_LANGS"

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$CACHE"

log() { printf '==> %s\n' "$*" >&2; }

# --- installing ----------------------------------------------------------------------------------
apt_updated=0
# apt_need PKG...: installs the Debian packages that are not installed yet.
apt_need() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    [ "$install" -eq 1 ] || { echo "missing Debian packages: ${missing[*]}" >&2; return 1; }
    if [ "$apt_updated" -eq 0 ]; then
        $SUDO apt-get update -qq >&2 || return 1
        apt_updated=1
    fi
    log "apt-get install ${missing[*]}"
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

PY_REDIS_VERSION=8.1.0
NODE_REDIS_VERSION=6.3.1
IOREDIS_VERSION=6.0.0

install_python() {
    [ -f "$CACHE/py/redis-$PY_REDIS_VERSION.dist-info/METADATA" ] && return 0
    [ "$install" -eq 1 ] || return 1
    log "pip install redis==$PY_REDIS_VERSION into $CACHE/py"
    rm -rf "$CACHE/py"
    python3 -m pip install -q --disable-pip-version-check --target "$CACHE/py" "redis==$PY_REDIS_VERSION" >&2
}
install_node() {
    local dir="$CACHE/node"
    local want="{\"private\":true,\"dependencies\":{\"redis\":\"$NODE_REDIS_VERSION\",\"ioredis\":\"$IOREDIS_VERSION\"}}"
    if [ -d "$dir/node_modules/redis" ] && [ -d "$dir/node_modules/ioredis" ] \
        && [ "$(cat "$dir/package.json" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    [ "$install" -eq 1 ] || return 1
    command -v npm >/dev/null 2>&1 || apt_need nodejs npm || return 1
    mkdir -p "$dir"
    echo "$want" >"$dir/package.json"
    log "npm install redis@$NODE_REDIS_VERSION ioredis@$IOREDIS_VERSION into $dir"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
}

# --- the languages -------------------------------------------------------------------------------
# For each language: lib_<lang> (library name), install_<lang>, version_<lang>, run_<lang>.
BUILD="$CACHE/build"
mkdir -p "$BUILD"
export HERE CACHE BUILD

lib_python() { echo "redis-py"; }
version_python() { PYTHONPATH="$CACHE/py" python3 -c 'import redis; print(redis.__version__)'; }
run_python() { PYTHONPATH="$CACHE/py" python3 "$HERE/python/check.py"; }

lib_node-redis() { echo "node-redis (redis)"; }
install_node-redis() { install_node; }
version_node-redis() { node -p "require('$CACHE/node/node_modules/redis/package.json').version"; }
run_node-redis() { NODE_PATH="$CACHE/node/node_modules" node "$HERE/node/node-redis.js"; }

lib_ioredis() { echo "ioredis"; }
install_ioredis() { install_node; }
version_ioredis() { node -p "require('$CACHE/node/node_modules/ioredis/package.json').version"; }
run_ioredis() { NODE_PATH="$CACHE/node/node_modules" node "$HERE/node/ioredis.js"; }

deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

lib_c() { echo "hiredis"; }
install_c() { apt_need libhiredis-dev gcc; }
version_c() { deb_version libhiredis-dev; }
run_c() {
    gcc -O1 -Wall -Werror -pthread -o "$BUILD/c-check" "$HERE/c/check.c" -lhiredis || return 1
    "$BUILD/c-check"
}

lib_cpp() { echo "hiredis from C++"; }
install_cpp() { apt_need libhiredis-dev g++; }
version_cpp() { deb_version libhiredis-dev; }
run_cpp() {
    g++ -std=c++17 -O1 -Wall -Werror -pthread -o "$BUILD/cpp-check" "$HERE/cpp/check.cpp" -lhiredis || return 1
    "$BUILD/cpp-check"
}

lib_objc() { echo "hiredis from Objective-C (gobjc)"; }
install_objc() { apt_need libhiredis-dev gobjc; }
version_objc() { deb_version libhiredis-dev; }
run_objc() {
    gcc -x objective-c -std=gnu11 -O1 -Wall -Werror -pthread -o "$BUILD/objc-check" "$HERE/objc/check.m" \
        -lhiredis -lobjc || return 1
    "$BUILD/objc-check"
}

lib_ruby() { echo "redis-rb (ruby-redis)"; }
install_ruby() { apt_need ruby ruby-redis; }
version_ruby() { ruby -e 'require "redis"; puts Redis::VERSION'; }
run_ruby() { ruby "$HERE/ruby/check.rb"; }

lib_perl() { echo "Redis (libredis-perl)"; }
install_perl() { apt_need perl libredis-perl; }
version_perl() { perl -MRedis -e 'print $Redis::VERSION, "\n"'; }
run_perl() { perl "$HERE/perl/check.pl"; }

lib_php() { echo "phpredis (php-redis)"; }
install_php() { apt_need php-cli php-redis; }
version_php() { php -r 'echo phpversion("redis"), "\n";'; }
run_php() { php "$HERE/php/check.php"; }

lib_lua() { echo "redis-lua (lua-redis)"; }
install_lua() { apt_need lua5.1 lua-redis; }
version_lua() { deb_version lua-redis; }
run_lua() { lua5.1 "$HERE/lua/check.lua"; }

lib_go() { echo "redigo (golang-github-gomodule-redigo-dev)"; }
install_go() { apt_need golang-go golang-github-gomodule-redigo-dev; }
version_go() { deb_version golang-github-gomodule-redigo-dev; }
run_go() {
    # Offline build against Debian's Go sources (no module proxy): GOPATH mode over /usr/share/gocode.
    mkdir -p "$BUILD/go-cache"
    GO111MODULE=off GOPATH="/usr/share/gocode" GOCACHE="$BUILD/go-cache" GOFLAGS="" GOPROXY=off \
        go build -o "$BUILD/go-check" "$HERE/go/check.go" || return 1
    "$BUILD/go-check"
}

lib_rust() { echo "redis (crate)"; }
install_rust() {
    # the build (crates fetched from crates.io on the first run) belongs to the install step
    command -v cargo >/dev/null 2>&1 || return 1
    CARGO_TARGET_DIR="$CACHE/rust-target" cargo build -q --release --locked \
        --manifest-path "$HERE/rust/Cargo.toml" >&2
}
version_rust() { sed -n 's/^redis = { version = "=\([^"]*\)".*/\1/p' "$HERE/rust/Cargo.toml"; }
run_rust() { "$CACHE/rust-target/release/ferrokv-client-matrix-rust"; }

# --- the server ----------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
find_ferrokv() {
    local c
    for c in "${FERROKV_BIN:-}" "$ROOT/target/release/ferrokv-server" \
        "${CARGO_TARGET_DIR:-/nonexistent}/release/ferrokv-server" \
        "${CARGO_TARGET_DIR:-/nonexistent}/debug/ferrokv-server" "$ROOT/target/debug/ferrokv-server"; do
        if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
    done
    return 1
}

PORT="${FERROKV_CLIENTS_PORT:-$(free_port)}"
WORKDIR="$(mktemp -d)"
case "$target" in
    ferrokv)
        bin="$(find_ferrokv)" || { echo "run.sh: no ferrokv-server binary (set FERROKV_BIN or build it)" >&2; exit 2; }
        server_cmd=("$bin" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORKDIR")
        ;;
    redis)
        bin="$(command -v redis-server)" || { echo "run.sh: redis-server not found" >&2; exit 2; }
        server_cmd=("$bin" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORKDIR" --daemonize no)
        ;;
    *) echo "run.sh: --target must be ferrokv or redis" >&2; exit 2 ;;
esac

server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$WORKDIR"
}
trap cleanup EXIT

# ping_server: true when the server answers PING (no redis-cli needed).
ping_server() {
    python3 - "$PORT" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(64).startswith((b"+PONG", b"-NOAUTH")) else 1)
except OSError:
    sys.exit(1)
EOF
}
# reset_password: clears requirepass whatever a program left behind.
reset_password() {
    python3 - "$PORT" "$PASSWORD" <<'EOF'
import socket, sys
def cmd(*args):
    out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
    s.sendall(out)
    return s.recv(256)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
cmd("AUTH", sys.argv[2])
cmd("CONFIG", "SET", "requirepass", "")
EOF
}

log "starting $target: ${server_cmd[*]}"
"${server_cmd[@]}" >"$WORKDIR/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    ping_server && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: the server exited:" >&2; cat "$WORKDIR/server.log" >&2; exit 2
    fi
    sleep 0.1
done
ping_server || { echo "run.sh: the server does not answer on port $PORT" >&2; exit 2; }

export REDIS_HOST=127.0.0.1 REDIS_PORT="$PORT" REDIS_PASSWORD_FOR_TEST="$PASSWORD"

# probe_features: prints the check sections the server cannot pass yet (comma-separated):
# "sets"/"zsets" when SADD/ZADD are unknown commands, "tracking" without CLIENT TRACKING,
# "blocking" when BLPOP on an empty key does
# not wait for its timeout. The programs leave those sections out (CLIENTS_SKIP) and the table
# says so; --strict (or CLIENTS_SKIP set by the caller) turns the probing off.
probe_features() {
    python3 - "$PORT" <<'PROBE'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
def cmd(*args):
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args)))
    return s.recv(65536)
skip = []
for name, command in (("sets", "sadd"), ("zsets", "zadd")):
    if cmd("COMMAND", "INFO", command).startswith((b"*1\r\n$-1", b"*1\r\n*-1")):
        skip.append(name)
if cmd("CLIENT", "TRACKING", "OFF").startswith(b"-"):
    skip.append("tracking")
cmd("DEL", "matrix:probe:empty")
started = time.monotonic()
cmd("BLPOP", "matrix:probe:empty", "0.2")
if time.monotonic() - started < 0.15:
    skip.append("blocking")
print(",".join(skip))
PROBE
}
if [ "$strict" -eq 0 ] && [ -z "${CLIENTS_SKIP+x}" ]; then
    CLIENTS_SKIP="$(probe_features)"
fi
export CLIENTS_SKIP="${CLIENTS_SKIP:-}"
[ -n "$CLIENTS_SKIP" ] && log "the server lacks: $CLIENTS_SKIP (left out of every program's checks)"

# --- the matrix ----------------------------------------------------------------------------------
rows=()
failures=0
passed=0
IFS=',' read -r -a lang_list <<<"$langs"
for lang in "${lang_list[@]}"; do
    if ! declare -F "run_$lang" >/dev/null; then
        echo "run.sh: unknown language $lang (known: $ALL_LANGS)" >&2; exit 2
    fi
    lib="$(lib_$lang)"
    start=$SECONDS
    if ! "install_$lang" >"$WORKDIR/install-$lang.log" 2>&1; then
        cat "$WORKDIR/install-$lang.log" >&2
        rows+=("$lang|$lib|-|INSTALL FAILED|$((SECONDS - start))s")
        failures=$((failures + 1))
        continue
    fi
    version="$("version_$lang" 2>/dev/null | head -1)"
    log "$lang: $lib $version against $target on port $PORT"
    export -f "run_$lang"
    if timeout 300 bash -c "run_$lang" >"$WORKDIR/$lang.log" 2>&1 </dev/null; then
        result=PASS
        passed=$((passed + 1))
        tail -n 1 "$WORKDIR/$lang.log" | sed 's/^/    /' >&2
    else
        result=FAIL
        failures=$((failures + 1))
        sed 's/^/    /' "$WORKDIR/$lang.log" | tail -n 40 >&2
    fi
    reset_password >/dev/null 2>&1 || true
    rows+=("$lang|$lib|${version:-?}|$result|$((SECONDS - start))s")
done

printf '\nclient matrix against %s (%s)\n' "$target" "$("${server_cmd[0]}" --version 2>/dev/null | head -1)"
[ -n "$CLIENTS_SKIP" ] && printf 'left out (the server lacks them): %s\n' "$CLIENTS_SKIP"
printf '%-11s %-42s %-28s %-6s %s\n' language library version result time
for r in "${rows[@]}"; do
    IFS='|' read -r a b c d e <<<"$r"
    printf '%-11s %-42s %-28s %-6s %s\n' "$a" "$b" "$c" "$d" "$e"
done
if [ -n "$markdown" ]; then
    {
        echo "| language | library | version | $target |"
        echo "| --- | --- | --- | --- |"
        for r in "${rows[@]}"; do
            IFS='|' read -r a b c d _ <<<"$r"
            echo "| $a | $b | $c | $d |"
        done
    } >"$markdown"
fi
echo "clients: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
