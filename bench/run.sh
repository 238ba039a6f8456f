#!/usr/bin/env bash
# Runs one chatapp-bench scenario against a fresh `chatapp all` (release build) on
# PostgreSQL, with the limits that would otherwise throttle a load generator raised.
#
#   bench/run.sh persist --clients 50 --messages 400 --window 8
#   bench/run.sh fanout --clients 1000 --senders 4 --messages 5000 --window 16
#   BCRYPT_COST=12 bench/run.sh logins --concurrency 50 --seconds 15
#   TWO_NODES=1 bench/run.sh fanout --clients 1000 --senders 4 --messages 5000 --window 16
#
# TWO_NODES=1 adds a second `ws` node (storing through the first's front) and joins both
# to a Redis bus (REDIS_URL, default redis://127.0.0.1:6379); the bench then spreads its
# connections over both nodes and sums both processes' CPU and memory.
# PG_URL names the PostgreSQL server (default postgres://postgres@127.0.0.1:5432); the
# database chatapp_bench on it is dropped and created anew.
#   bench/run.sh twonode --clients 1000 --senders 4 --messages 5000 --window 16
#
# CHATAPP_BIN=PATH runs that chatapp binary instead of building this tree's (to compare two
# builds in runs taken turn about on one day, as docs/BENCHMARKS.md does).
#
# `loopback` needs no server: it measures this machine's own ceiling for small frames over
# loopback sockets (run it next to the others on a machine whose speed varies).
#   bench/run.sh loopback --threads 2 --frames-per-write 1
#
# `twonode` runs `fanout` with those options twice, on one `all` and then on two nodes over
# Redis (as TWO_NODES=1 does), and reports the second's share of the first's throughput.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = twonode ]; then
    shift
    one=$(mktemp) two=$(mktemp)
    "$0" fanout "$@" | tee "$one"
    TWO_NODES=1 "$0" fanout "$@" | tee "$two"
    rate() { sed -n 's/^deliveries: .* = \([0-9]*\) deliveries\/s$/\1/p' "$1"; }
    a=$(rate "$one") b=$(rate "$two")
    rm -f "$one" "$two"
    echo "scenario: twonode: one node $a deliveries/s, two nodes over Redis $b deliveries/s = $((100 * b / a)) % of one"
    exit 0
fi
if [ "${1:-}" = loopback ]; then
    cargo build --release --quiet -p chatapp-bench
    exec target/release/chatapp-bench "$@"
fi
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432}
port=${PORT:-18080}

if [ -n "${CHATAPP_BIN:-}" ]; then
    cargo build --release --quiet -p chatapp-bench
else
    cargo build --release --quiet -p chatapp -p chatapp-bench
fi
chatapp=${CHATAPP_BIN:-target/release/chatapp}
psql "$pg/postgres" -qc 'DROP DATABASE IF EXISTS chatapp_bench' -c 'CREATE DATABASE chatapp_bench' >/dev/null

work=$(mktemp -d)
server2=""
trap 'kill $server $server2 2>/dev/null || true; wait $server $server2 2>/dev/null || true; rm -rf "$work"' EXIT
service=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export CHATAPP__INTERNAL__TOKEN="$service"
# The bench registers its users itself: open registration, on builds that know the key (a
# build from before workspace access has none, and refuses unknown keys).
if "$chatapp" --help | grep -q CHATAPP__AUTH__REGISTRATION; then
    export CHATAPP__AUTH__REGISTRATION=open
fi
# Limits that builds name differently: each build is given only the keys it knows.
if grep -qa free_login_failures "$chatapp"; then
    export CHATAPP__AUTH__FREE_LOGIN_FAILURES=1000000
else
    export CHATAPP__AUTH__LOGINS_PER_USERNAME_PER_MINUTE=1000000
fi
if grep -qa max_connections_per_address "$chatapp"; then
    # Every bench connection comes from 127.0.0.1.
    export CHATAPP__WS__MAX_CONNECTIONS_PER_ADDRESS=1000000
    export CHATAPP__WS__MAX_CONNECTIONS_PER_USER=1000000
fi
if [ -n "${TWO_NODES:-}" ]; then
    export CHATAPP__BUS__REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
    export CHATAPP__BUS__CHANNEL="bench-$$"
fi
DATABASE_URL="$pg/chatapp_bench" \
CHATAPP__DATA_DIR="$work" \
CHATAPP__AUTH__BCRYPT_COST="${BCRYPT_COST:-4}" \
CHATAPP__AUTH__REQUESTS_PER_ADDRESS_PER_MINUTE=1000000 \
CHATAPP__WS__FRAMES_PER_SECOND=1000000 \
CHATAPP__WS__BURST=1000000 \
RUST_LOG=warn \
    "$chatapp" all --bind "127.0.0.1:$port" 2>"$work/server.log" &
server=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
    kill -0 "$server" || { cat "$work/server.log"; exit 1; }
    sleep 0.1
done
pids="$server"
ws_urls="http://127.0.0.1:$port"
if [ -n "${TWO_NODES:-}" ]; then
    port2=$((port + 1))
    CHATAPP__JWT__PUBLIC_KEY_FILE="$work/jwt_ed25519.pub.pem" \
    CHATAPP__WS__FRONT_URL="http://127.0.0.1:$port" \
    CHATAPP__WS__FRAMES_PER_SECOND=1000000 \
    CHATAPP__WS__BURST=1000000 \
    RUST_LOG=warn \
        "$chatapp" ws --bind "127.0.0.1:$port2" 2>"$work/server2.log" &
    server2=$!
    until curl -sf "http://127.0.0.1:$port2/healthz" | grep -q '"bus":"ok"'; do
        kill -0 "$server2" || { cat "$work/server2.log"; exit 1; }
        sleep 0.1
    done
    pids="$server,$server2"
    ws_urls="$ws_urls,http://127.0.0.1:$port2"
fi
target/release/chatapp-bench --url "http://127.0.0.1:$port" --ws-url "$ws_urls" --server-pid "$pids" "$@"
