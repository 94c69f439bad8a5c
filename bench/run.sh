#!/usr/bin/env bash
# restauth benchmark: speed and footprint as ratios against the framework's own ceiling.
#
#   bench/run.sh                        # the whole run (1,000 and 1,000,000 users)
#   DURATION=3 SKIP_MILLION=1 bench/run.sh   # a quick check
#
# Builds the release binary and two examples, starts restauth on 127.0.0.1 with a
# temporary database and spool directory, seeds users through SQL, drives load with
# wrk and stops everything it started. Prints a table and writes
# bench/results/<timestamp>.json. It reports; it never fails because a target is
# missed. See bench/README.md for what each figure means.
#
# Knobs (environment):
#   DURATION=10        seconds per measured scenario
#   ITERATIONS=1000000 PBKDF2 iterations (security.password_iterations)
#   SKIP_MILLION=0     1 = skip the 1,000,000-user phase (scenario 4)
#   USERS_SMALL=1000 USERS_LARGE=1000000
#   WORKERS            server.workers of restauth = pool of the baseline (default 4 × cores, at least 4)
#   MAX_HASHES=0       security.max_concurrent_hashes (0 = cores)
#   LOGIN_CONNS=4      connections of scenario 2
#   GET_CONNS=16 FLOOD_CONNS=32 WRK_THREADS=2 WARMUP=1 PBKDF2_N=7
#   LEGIT_CONNS=2      connections of scenario 5's legitimate logins
#   KEEP_TMP=0         1 = keep the temporary directory (database, logs, wrk output)
#   SKIP_SECURITY=0    1 = skip bench/security.sh (throttle cost, reset timing) at the end
#   COMPARE_BIN        another restauth binary (e.g. an earlier commit's, built in a worktree):
#                      scenario 1 runs against it too, in this run, for a same-run ratio
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NPROC=$(nproc)
DURATION=${DURATION:-10}
ITERATIONS=${ITERATIONS:-1000000}
SKIP_MILLION=${SKIP_MILLION:-0}
USERS_SMALL=${USERS_SMALL:-1000}
USERS_LARGE=${USERS_LARGE:-1000000}
WORKERS=${WORKERS:-$((NPROC * 4 > 4 ? NPROC * 4 : 4))}
MAX_HASHES=${MAX_HASHES:-0}
LOGIN_CONNS=${LOGIN_CONNS:-4}
GET_CONNS=${GET_CONNS:-16}
FLOOD_CONNS=${FLOOD_CONNS:-32}
LEGIT_CONNS=${LEGIT_CONNS:-2}
WRK_THREADS=${WRK_THREADS:-2}
WARMUP=${WARMUP:-1}
PBKDF2_N=${PBKDF2_N:-7}
KEEP_TMP=${KEEP_TMP:-0}
PASSWORD='bench-Pa55word-not-secret'

T0=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
say() { printf '[%4ds] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# --- tools ------------------------------------------------------------------
for tool in cargo python3 curl getconf; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done
if ! command -v wrk >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    say "installing wrk from the distribution's packages"
    $SUDO apt-get install -y wrk >/dev/null || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y wrk >/dev/null; } ||
        die "cannot install wrk (apt-get install wrk)"
fi
CLK_TCK=$(getconf CLK_TCK)
# The benchmark's own configuration only: no RESTAUTH_* override from the caller's environment.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^RESTAUTH_' || true)

# --- build --------------------------------------------------------------------
say "building (release)"
BUILD_T0=$(date +%s)
(cd "$ROOT" && cargo build --release --quiet --bin restauth --example bare_hyper --example pbkdf2_once)
BUILD_S=$(($(date +%s) - BUILD_T0))
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
BIN=$TARGET/release/restauth
BARE=$TARGET/release/examples/bare_hyper
PBKDF2=$TARGET/release/examples/pbkdf2_once
for f in "$BIN" "$BARE" "$PBKDF2"; do [ -x "$f" ] || die "missing $f"; done

# --- temporary directory, and stopping everything on exit -------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/restauth-bench.XXXXXX")
RES=$TMP/res
mkdir -p "$RES"
PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$KEEP_TMP" = 1 ] || [ "$rc" -ne 0 ]; then
        say "temporary files kept in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- /proc helpers ------------------------------------------------------------
cpu_ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }           # utime+stime of a process
machine_busy() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9; exit }' /proc/stat; }            # all CPUs, ticks not idle
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }                  # VmRSS / VmHWM in kB
sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=30); print(c.execute(sys.argv[2]).fetchone()[0])' "$DB" "$1"; }

# Waits until the process has used no CPU for 0.6 s (logins still queued when wrk stopped finish first).
wait_idle() {
    local pid=$1 quiet=0 a b i
    for i in $(seq 1 300); do
        a=$(cpu_ticks "$pid")
        sleep 0.3
        b=$(cpu_ticks "$pid")
        if [ $((b - a)) -le 1 ]; then
            quiet=$((quiet + 1))
            [ "$quiet" -ge 2 ] && return 0
        else
            quiet=0
        fi
    done
    say "warning: process $pid still busy after 90 s"
}

# Starts a server in the background; sets STARTED_PID and STARTED_ADDR (from its "listening on" line).
start_server() {
    local log=$1
    shift
    "$@" 2>"$log" &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    local i
    for i in $(seq 1 300); do
        STARTED_ADDR=$(grep -m1 -oE 'listening on http://[^ ]+' "$log" | sed 's|.*http://||') || true
        [ -n "$STARTED_ADDR" ] && return 0
        kill -0 "$STARTED_PID" 2>/dev/null || { cat "$log" >&2; die "$1 exited during start"; }
        sleep 0.1
    done
    die "$1 did not start within 30 s"
}

stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# --- connection threads ---------------------------------------------------------
# tiny_http 0.12 serves each connection on a thread of its TaskPool, and that pool hands a
# burst of new connections to the threads that were idle when the burst began: connections
# beyond that number wait until some other connection closes (wrk's never do). Measured here
# on the bare server too: 12 keep-alive connections opened at once on a fresh server, 4 answered.
# So before each measured run, `prime` opens N connections one at a time (each answered before
# the next), then closes them: N threads are idle for 5 s, and wrk's burst finds a thread for
# every connection. `starved` checks it: connections whose request bytes stay unread (Recv-Q > 0)
# over three samples in the middle of the run.
cat >"$TMP/prime.py" <<'EOF'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(b"GET /bench-prime HTTP/1.1\r\nHost: bench\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    socks.append(s)
for s in socks:
    s.close()
time.sleep(0.2)
EOF

prime() { python3 "$TMP/prime.py" "${ADDR%:*}" "${ADDR##*:}" "$1" || die "priming $1 connections failed"; }

# starved NAME DELAY_S: counts connections to the server with unread request bytes in three samples 0.3 s apart.
starved() {
    local name=$1 delay=$2 port=${ADDR##*:}
    sleep "$delay"
    {
        for i in 1 2 3; do
            ss -Htn state established "( sport = :$port )" | awk '$1 > 0 { print $4 }' | sort -u >"$TMP/$name.starved.$i"
            sleep 0.3
        done
        comm -12 "$TMP/$name.starved.1" "$TMP/$name.starved.2" | comm -12 - "$TMP/$name.starved.3" | wc -l
    } >"$TMP/$name.starved"
}

# --- wrk scripts ----------------------------------------------------------------
cat >"$TMP/done.lua" <<'EOF'
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
EOF

write_get_lua() { # token
    {
        printf 'wrk.method = "GET"\nwrk.headers["Authorization"] = "Token %s"\n' "$1"
        cat "$TMP/done.lua"
    } >"$TMP/get.lua"
}

write_login_lua() { # password
    {
        cat <<EOF
local users = 1000
local password = "$1"
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  users = tonumber(args[1]) or users
  math.randomseed(os.time() * 1000 + (tid or 0))
end
local headers = { ["Content-Type"] = "application/json" }
function request()
  local body = string.format('{"username":"bench%07d","password":"%s"}', math.random(1, users), password)
  return wrk.format("POST", nil, headers, body)
end
EOF
        cat "$TMP/done.lua"
    } >"$TMP/login.lua"
}

# Scenario 5: legitimate logins, each from its own client address (X-Forwarded-For from the
# loopback proxy, trusted by default), and an attacker's flood of wrong guesses from one address.
write_throttled_lua() { # password
    {
        cat <<EOF
local users = 1000
function init(args)
  users = tonumber(args[1]) or users
  math.randomseed(os.time() * 1000 + math.random(1, 1000))
end
local headers = { ["Content-Type"] = "application/json" }
function request()
  headers["X-Forwarded-For"] = string.format("198.51.%d.%d", math.random(0, 255), math.random(1, 254))
  local body = string.format('{"username":"bench%07d","password":"%s"}', math.random(1, users), "$1")
  return wrk.format("POST", nil, headers, body)
end
EOF
        cat "$TMP/done.lua"
    } >"$TMP/legit.lua"
    {
        cat <<'EOF'
local headers = { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = "203.0.113.9" }
function request()
  local body = string.format('{"username":"bench%07d","password":"guess-%d"}', math.random(1, 1000), math.random(1, 1000000000))
  return wrk.format("POST", nil, headers, body)
end
EOF
        cat "$TMP/done.lua"
    } >"$TMP/attack.lua"
}

# wrk_result NAME CONNS CPU_TICKS BUSY_TICKS T0 T1: $RES/NAME.json from wrk's BENCH_JSON line plus the
# server's CPU and the machine's busy cores during the run.
wrk_result() {
    local name=$1 line
    line=$(grep -m1 '^BENCH_JSON ' "$TMP/$name.wrk.txt" | sed 's/^BENCH_JSON //') || { cat "$TMP/$name.wrk.txt" >&2; die "no result from wrk ($name)"; }
    python3 - "$line" "$RES/$name.json" "$@" "$CLK_TCK" <<'EOF'
import json, sys
w = json.loads(sys.argv[1])
out, name, conns, cpu, busy, t0, t1, hz = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9])
wall = t1 - t0
w.update(name=name, connections=conns, rps=w["requests"] / (w["duration_us"] / 1e6),
         ok_rps=max(w["requests"] - w["non2xx"], 0) / (w["duration_us"] / 1e6),
         server_cpu_s=cpu / hz, server_cores=cpu / hz / wall, machine_busy_cores=busy / hz / wall, wall_s=wall)
try:
    w["starved_connections"] = int(open(out.replace("/res/", "/")[:-5] + ".starved").read())
except (OSError, ValueError):
    w["starved_connections"] = None
json.dump(w, open(out, "w"))
EOF
}

# run_wrk NAME SERVER_PID CONNS THREADS TIMEOUT_S DURATION_S SCRIPT URL [SCRIPT ARGS...]
run_wrk() {
    local name=$1 pid=$2 conns=$3 threads=$4 timeout=$5 dur=$6 script=$7 url=$8
    shift 8
    local c0 m0 t0
    c0=$(cpu_ticks "$pid")
    m0=$(machine_busy)
    t0=$(date +%s.%N)
    starved "$name" "$(awk -v d="$dur" 'BEGIN { print d / 2 }')" &
    local sampler=$!
    wrk -t"$threads" -c"$conns" -d"${dur}s" --timeout "${timeout}s" -s "$script" "$url" ${1:+--} "$@" >"$TMP/$name.wrk.txt" 2>&1 ||
        { cat "$TMP/$name.wrk.txt" >&2; die "wrk failed ($name)"; }
    wait "$sampler" || true
    wrk_result "$name" "$conns" "$(($(cpu_ticks "$pid") - c0))" "$(($(machine_busy) - m0))" "$t0" "$(date +%s.%N)"
}

# flood_start NAME SCRIPT [SCRIPT ARGS...]: FLOOD_CONNS connections of wrk on POST /login/ in the
# background, outlasting the measured run by a second on each side; flood_end NAME collects it.
flood_start() {
    local name=$1 script=$2
    shift 2
    FLOOD_C0=$(cpu_ticks "$SERVER")
    FLOOD_M0=$(machine_busy)
    FLOOD_T0=$(date +%s.%N)
    wrk -t1 -c"$FLOOD_CONNS" -d"$((DURATION + 2))s" --timeout 120s -s "$script" "http://$ADDR/rest-auth/login/" ${1:+--} "$@" \
        >"$TMP/$name.wrk.txt" 2>&1 &
    FLOOD_PID=$!
    PIDS+=("$FLOOD_PID")
    sleep 1
}
flood_end() {
    wait "$FLOOD_PID" || { cat "$TMP/$1.wrk.txt" >&2; die "flood wrk failed ($1)"; }
    wrk_result "$1" "$FLOOD_CONNS" "$(($(cpu_ticks "$SERVER") - FLOOD_C0))" "$(($(machine_busy) - FLOOD_M0))" "$FLOOD_T0" "$(date +%s.%N)"
}

# Logs in as bench0000001 and prints the key.
login_key() {
    local out
    out=$(curl -sS --max-time 30 -X POST "http://$ADDR/rest-auth/login/" -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench0000001\",\"password\":\"$PASSWORD\"}") || die "login request failed"
    printf '%s' "$out" | sed -nE 's/.*"key" *: *"([0-9a-f]{40})".*/\1/p' | grep . || die "login failed: $out"
}

# Scenario 2 at the current user count: logins/s from wrk, server CPU per successful login
# (tokens issued, counted in the database) once the server has finished every queued login.
login_scenario() { # NAME USERS
    local name=$1 users=$2 tok0 tok1 c0 c1
    wait_idle "$SERVER"
    tok0=$(sql 'SELECT count(*) FROM tokens')
    c0=$(cpu_ticks "$SERVER")
    prime "$LOGIN_CONNS"
    run_wrk "$name" "$SERVER" "$LOGIN_CONNS" "$(min "$WRK_THREADS" "$LOGIN_CONNS")" 60 "$DURATION" "$TMP/login.lua" \
        "http://$ADDR/rest-auth/login/" "$users"
    wait_idle "$SERVER"
    c1=$(cpu_ticks "$SERVER")
    tok1=$(sql 'SELECT count(*) FROM tokens')
    python3 - "$RES/$name.json" "$((tok1 - tok0))" "$((c1 - c0))" "$CLK_TCK" "$users" <<'EOF'
import json, sys
p = sys.argv[1]; w = json.load(open(p))
logins, ticks, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
w.update(users=int(sys.argv[5]), logins=logins, server_cpu_total_s=ticks / hz,
         cpu_per_login_s=(ticks / hz / logins) if logins else None)
json.dump(w, open(p, "w"))
EOF
}

get_scenario() { # NAME PID USERS
    prime "$GET_CONNS"
    wrk -t"$(min "$WRK_THREADS" "$GET_CONNS")" -c"$GET_CONNS" -d"${WARMUP}s" -s "$TMP/get.lua" "http://$ADDR/rest-auth/user/" >/dev/null 2>&1 || true
    prime "$GET_CONNS"
    run_wrk "$1" "$2" "$GET_CONNS" "$(min "$WRK_THREADS" "$GET_CONNS")" 10 "$DURATION" "$TMP/get.lua" "http://$ADDR/rest-auth/user/"
    python3 -c 'import json,sys; p=sys.argv[1]; w=json.load(open(p)); w["users"]=int(sys.argv[2]); json.dump(w,open(p,"w"))' "$RES/$1.json" "$3"
}

min() { echo $(($1 < $2 ? $1 : $2)); }

brief() { # one line per scenario while running
    python3 - "$RES/$1.json" >&2 <<'EOF'
import json, sys
w = json.load(open(sys.argv[1]))
extra = ", %.1f ms CPU/login over %d logins" % (w["cpu_per_login_s"] * 1000, w["logins"]) if w.get("cpu_per_login_s") else ""
print("    %s: %s req/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d, server %.2f cores, machine busy %.2f cores, starved connections %s%s" % (
    w["name"], format(round(w["rps"], 1), ","), w["p50_us"] / 1000, w["p99_us"] / 1000, w["non2xx"],
    w["server_cores"], w["machine_busy_cores"], w.get("starved_connections", "-"), extra))
EOF
}

# --- configuration and the first user -------------------------------------------------
DB=$TMP/restauth.sqlite3
cat >"$TMP/auth.toml" <<EOF
# Written by bench/run.sh. Port 0: the kernel picks a free port; the address is read from the log.
[server]
bind = "127.0.0.1:0"
workers = $WORKERS

[database]
path = "$DB"

[security]
password_iterations = $ITERATIONS
max_concurrent_hashes = $MAX_HASHES

[mail]
spool_dir = "$TMP/mail"
EOF
# All load comes from 127.0.0.1: with request throttling (issue #5) on, scenario 2 and the flood
# would measure 429 answers instead of logins. Turned off where this build has the key
# (the reference auth.toml lists every key; an unknown key would be an error).
if grep -q '^\[throttle\]' "$ROOT/auth.toml" 2>/dev/null; then
    printf '\n[throttle]\nenabled = false\n' >>"$TMP/auth.toml"
fi
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average at start: $LOAD_AT_START (nproc $NPROC); workers $WORKERS, $ITERATIONS iterations, ${DURATION}s per scenario"
say "temporary directory $TMP"
# One real Django hash at the configured cost; every seeded user reuses it.
printf '%s\n' "$PASSWORD" | (cd "$TMP" && "$BIN" --config "$TMP/auth.toml" user create \
    --username bench0000001 --email bench0000001@bench.invalid --password-stdin --skip-validation) >/dev/null ||
    die "restauth user create failed"
python3 "$ROOT/bench/seed.py" "$DB" "$USERS_SMALL"

# --- baseline: bare hyper (our stack), same pool, same wrk settings as scenario 1 ------
start_server "$TMP/bare.log" "$BARE" --bind 127.0.0.1:0 --pool "$WORKERS"
BARE_PID=$STARTED_PID
ADDR=$STARTED_ADDR
write_get_lua 0000000000000000000000000000000000000000
say "baseline: bare hyper on $ADDR (pool $WORKERS)"
get_scenario baseline "$BARE_PID" 0
brief baseline
BARE_IDLE_HWM=$(status_kb "$BARE_PID" VmHWM)
stop_server "$BARE_PID"

# --- another build, for comparison (COMPARE_BIN) ---------------------------------------
if [ -n "${COMPARE_BIN:-}" ]; then
    [ -x "$COMPARE_BIN" ] || die "COMPARE_BIN=$COMPARE_BIN is not an executable"
    COMPARE_BIN=$(realpath -e "$COMPARE_BIN") # the server runs in $TMP
    start_server "$TMP/compare.log" env -C "$TMP" "$COMPARE_BIN" --config "$TMP/auth.toml" serve
    COMPARE_PID=$STARTED_PID
    ADDR=$STARTED_ADDR
    write_get_lua "$(login_key)"
    say "comparison: scenario 1 on $COMPARE_BIN ($ADDR)"
    get_scenario s1_compare "$COMPARE_PID" "$USERS_SMALL"
    brief s1_compare
    stop_server "$COMPARE_PID"
fi

# --- restauth --------------------------------------------------------------------------
start_server "$TMP/restauth.log" env -C "$TMP" "$BIN" --config "$TMP/auth.toml" serve
SERVER=$STARTED_PID
ADDR=$STARTED_ADDR
sleep 0.5
IDLE_RSS_KB=$(status_kb "$SERVER" VmRSS)
say "restauth on $ADDR (pid $SERVER), idle RSS $IDLE_RSS_KB kB"
KEY=$(login_key)
write_get_lua "$KEY"
write_login_lua "$PASSWORD"

say "scenario 1: GET /user/, $GET_CONNS connections, $USERS_SMALL users"
get_scenario s1_get_small "$SERVER" "$USERS_SMALL"
brief s1_get_small

say "bare PBKDF2: $PBKDF2_N derivations at $ITERATIONS iterations"
wait_idle "$SERVER"
"$PBKDF2" "$PBKDF2_N" "$ITERATIONS" >"$RES/pbkdf2.json"
say "    $(cat "$RES/pbkdf2.json")"

say "scenario 2: POST /login/, $LOGIN_CONNS connections, $USERS_SMALL users"
login_scenario s2_login_small "$USERS_SMALL"
brief s2_login_small

say "scenario 3: GET /user/ ($GET_CONNS connections) while $FLOOD_CONNS connections flood POST /login/"
wait_idle "$SERVER"
# The flood starts first and outlasts the measured GET run by a second on each side.
prime "$((FLOOD_CONNS + GET_CONNS))"
flood_start s3_flood "$TMP/login.lua" "$USERS_SMALL"
run_wrk s3_get_flood "$SERVER" "$GET_CONNS" "$(min "$WRK_THREADS" "$GET_CONNS")" 30 "$DURATION" "$TMP/get.lua" "http://$ADDR/rest-auth/user/"
flood_end s3_flood
brief s3_get_flood
brief s3_flood
wait_idle "$SERVER"

if [ "$SKIP_MILLION" != 1 ]; then
    say "scenario 4: seeding up to $USERS_LARGE users (server running, idle)"
    SEED_T0=$(date +%s)
    python3 "$ROOT/bench/seed.py" "$DB" "$USERS_LARGE"
    SEED_S=$(($(date +%s) - SEED_T0))
    say "scenario 4: GET /user/ with $USERS_LARGE users"
    get_scenario s1_get_large "$SERVER" "$USERS_LARGE"
    brief s1_get_large
    say "scenario 4: POST /login/ with $USERS_LARGE users"
    login_scenario s2_login_large "$USERS_LARGE"
    brief s2_login_large
else
    SEED_S=0
fi

PEAK_RSS_KB=$(status_kb "$SERVER" VmHWM)
FINAL_RSS_KB=$(status_kb "$SERVER" VmRSS)
THREADS_END=$(ls "/proc/$SERVER/task" | wc -l)
SERVER_5XX=$(grep -cE ' 5[0-9][0-9] [0-9.]+ms ' "$TMP/restauth.log" || true)
stop_server "$SERVER"

# --- scenario 5: legitimate logins under a throttled attacker's flood -----------------------
# Throttling on (the defaults: 20 logins/min per client address): the attacker's guesses get 429
# at once; the question is what those 429s leave of the CPU for everyone else's logins.
start_server "$TMP/restauth-throttled.log" env -C "$TMP" RESTAUTH_THROTTLE_ENABLED=true "$BIN" --config "$TMP/auth.toml" serve
SERVER=$STARTED_PID
ADDR=$STARTED_ADDR
write_throttled_lua "$PASSWORD"
say "scenario 5: legitimate logins ($LEGIT_CONNS connections, one address each), unloaded"
prime "$LEGIT_CONNS"
run_wrk s5_legit "$SERVER" "$LEGIT_CONNS" 1 60 "$DURATION" "$TMP/legit.lua" "http://$ADDR/rest-auth/login/" "$USERS_SMALL"
brief s5_legit
wait_idle "$SERVER"
say "scenario 5: the same while $FLOOD_CONNS connections send wrong guesses from one address"
prime "$((FLOOD_CONNS + LEGIT_CONNS))"
flood_start s5_attack "$TMP/attack.lua"
run_wrk s5_legit_attacked "$SERVER" "$LEGIT_CONNS" 1 60 "$DURATION" "$TMP/legit.lua" "http://$ADDR/rest-auth/login/" "$USERS_SMALL"
flood_end s5_attack
brief s5_legit_attacked
brief s5_attack
stop_server "$SERVER"
SERVER_5XX=$((SERVER_5XX + $(grep -cE ' 5[0-9][0-9] [0-9.]+ms ' "$TMP/restauth-throttled.log" || true)))

cp "$BIN" "$TMP/restauth.stripped"
command -v strip >/dev/null && strip "$TMP/restauth.stripped"
STRIPPED_BYTES=$(stat -c %s "$TMP/restauth.stripped")
BIN_BYTES=$(stat -c %s "$BIN")
TOTAL_S=$(($(date +%s) - T0))

# --- report ---------------------------------------------------------------------
mkdir -p "$ROOT/bench/results"
OUT=$ROOT/bench/results/$STAMP.json
MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
SHA_NI=$(grep -qw sha_ni /proc/cpuinfo && echo true || echo false)
GIT_REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(cd "$ROOT" && { git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo true || echo false; })
export RES OUT STAMP NPROC MODEL SHA_NI LOAD_AT_START WORKERS MAX_HASHES ITERATIONS DURATION LOGIN_CONNS GET_CONNS FLOOD_CONNS LEGIT_CONNS \
    WRK_THREADS USERS_SMALL USERS_LARGE SKIP_MILLION IDLE_RSS_KB PEAK_RSS_KB FINAL_RSS_KB STRIPPED_BYTES BIN_BYTES TOTAL_S BUILD_S SEED_S \
    GIT_REV GIT_DIRTY BARE_IDLE_HWM THREADS_END SERVER_5XX
python3 - <<'EOF'
import json, os, platform

E = os.environ
ORDER = ["baseline", "s1_compare", "s1_get_small", "s2_login_small", "s3_get_flood", "s3_flood", "s1_get_large", "s2_login_large",
         "s5_legit", "s5_legit_attacked", "s5_attack"]
res = {k: json.load(open(os.path.join(E["RES"], k + ".json"))) for k in ORDER if os.path.exists(os.path.join(E["RES"], k + ".json"))}
pb = json.load(open(os.path.join(E["RES"], "pbkdf2.json")))

def ratio(a, b):
    return a / b if a is not None and b else None

def ok(k):  # the scenario ran and most answers were 2xx
    w = s.get(k)
    return w is not None and w["requests"] > 0 and w["non2xx"] <= 0.01 * w["requests"]

s = res
sc = {k: v for k, v in s.items()}
targets = []
def target(name, value, op, limit, note):
    met = False if value is None else (value >= limit if op == ">=" else value <= limit)
    targets.append(dict(name=name, value=value, target=f"{op} {limit}", met=met, note=note))

target("GET /user/ vs bare hyper (req/s ratio)", ratio(s["s1_get_small"]["ok_rps"], s["baseline"]["ok_rps"]), ">=", 0.7,
       "scenario 1 / baseline, same wrk settings")
if "s1_compare" in s:
    target("GET /user/ vs COMPARE_BIN (req/s ratio, same run)", ratio(s["s1_get_small"]["ok_rps"], s["s1_compare"]["ok_rps"]), ">=", 1.0,
           "scenario 1 / scenario 1 on the other build")
target("server CPU per login / one bare PBKDF2 (CPU)", ratio(s["s2_login_small"]["cpu_per_login_s"], pb["median_cpu_s"]), "<=", 1.1,
       "scenario 2, %d users" % int(E["USERS_SMALL"]))
if not all(ok(k) for k in s if k != "s5_attack"):
    print("warning: non-2xx answers in: " + ", ".join(k for k in s if k != "s5_attack" and not ok(k)) + " (see the table); ratios use 2xx answers only")
if s["s3_get_flood"]["requests"] > 0:
    target("GET /user/ p99 under login flood / unloaded p99", ratio(s["s3_get_flood"]["p99_us"], s["s1_get_small"]["p99_us"]), "<=", 5,
           "scenario 3 / scenario 1")
else:  # not one GET answered while the flood ran: the ratio is unbounded
    targets.append(dict(name="GET /user/ p99 under login flood / unloaded p99", value=None, target="<= 5", met=False,
                        label="none answered", note="no GET /user/ was answered during the flood"))
if s["s3_get_flood"]["non2xx"] or not ok("s3_flood"):
    targets[-1]["note"] += "; the flood or the GETs had non-2xx answers: the figure does not measure what it should"
if "s5_legit_attacked" in s:
    target("legitimate logins/s under a throttled flood / unloaded", ratio(s["s5_legit_attacked"]["ok_rps"], s["s5_legit"]["ok_rps"]), ">=", 0.5,
           "scenario 5: %d connections of wrong guesses from one address (429s) vs none" % int(E["FLOOD_CONNS"]))
target("idle RSS (MB)", int(E["IDLE_RSS_KB"]) / 1024, "<=", 10, "VmRSS after start")
target("peak RSS (MB)", int(E["PEAK_RSS_KB"]) / 1024, "<=", 50, "VmHWM after scenarios 1-4")
target("stripped binary (MB)", int(E["STRIPPED_BYTES"]) / 2**20, "<=", 10, "target/release/restauth after strip")
if "s1_get_large" in s:
    target("GET /user/ slowdown, %s vs %s users" % (E["USERS_LARGE"], E["USERS_SMALL"]),
           ratio(s["s1_get_small"]["ok_rps"], s["s1_get_large"]["ok_rps"]), "<=", 1.2, "req/s small / req/s large")
    target("login CPU slowdown, %s vs %s users" % (E["USERS_LARGE"], E["USERS_SMALL"]),
           ratio(s["s2_login_large"]["cpu_per_login_s"], s["s2_login_small"]["cpu_per_login_s"]), "<=", 1.2, "CPU per login large / small")
    target("logins/s slowdown, %s vs %s users" % (E["USERS_LARGE"], E["USERS_SMALL"]),
           ratio(s["s2_login_small"]["ok_rps"], s["s2_login_large"]["ok_rps"]), "<=", 1.2, "logins/s small / logins/s large")

out = dict(
    timestamp=E["STAMP"],
    git=dict(rev=E["GIT_REV"], dirty=E["GIT_DIRTY"] == "true"),
    machine=dict(nproc=int(E["NPROC"]), cpu_model=E["MODEL"], sha_ni=E["SHA_NI"] == "true",
                 kernel=platform.release(), loadavg_at_start=E["LOAD_AT_START"]),
    settings=dict(duration_s=int(E["DURATION"]), iterations=int(E["ITERATIONS"]), workers=int(E["WORKERS"]),
                  max_concurrent_hashes=int(E["MAX_HASHES"]), get_connections=int(E["GET_CONNS"]),
                  login_connections=int(E["LOGIN_CONNS"]), flood_connections=int(E["FLOOD_CONNS"]),
                  wrk_threads=int(E["WRK_THREADS"]), users_small=int(E["USERS_SMALL"]),
                  legit_connections=int(E["LEGIT_CONNS"]), compare_bin=E.get("COMPARE_BIN") or None,
                  users_large=None if E["SKIP_MILLION"] == "1" else int(E["USERS_LARGE"])),
    scenarios=s,
    pbkdf2=pb,
    footprint=dict(idle_rss_kb=int(E["IDLE_RSS_KB"]), peak_rss_kb=int(E["PEAK_RSS_KB"]), final_rss_kb=int(E["FINAL_RSS_KB"]),
                   threads_at_end=int(E["THREADS_END"]), stripped_binary_bytes=int(E["STRIPPED_BYTES"]),
                   binary_bytes=int(E["BIN_BYTES"]), baseline_peak_rss_kb=int(E["BARE_IDLE_HWM"])),
    server_5xx_in_log=int(E["SERVER_5XX"]),
    targets=targets,
    timing=dict(total_s=int(E["TOTAL_S"]), build_s=int(E["BUILD_S"]), seed_large_s=int(E["SEED_S"])),
)
json.dump(out, open(E["OUT"], "w"), indent=2)

# --- the table ---
def ms(us): return f"{us / 1000:.2f}"
rows = [("scenario", "users", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx", "srv cores", "busy cores", "starved")]
label = dict(baseline="baseline: bare hyper GET", s1_compare="1. GET /user/, COMPARE_BIN", s1_get_small="1. GET /user/", s2_login_small="2. POST /login/",
             s3_get_flood="3. GET /user/ under flood", s3_flood="3. (the login flood)",
             s1_get_large="4. GET /user/", s2_login_large="4. POST /login/",
             s5_legit="5. legitimate logins", s5_legit_attacked="5. the same, under attack", s5_attack="5. (the attack, 429s)")
for k in ORDER:
    if k not in s: continue
    w = s[k]
    errs = w["non2xx"] + w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"]
    users = {"baseline": "-", "s3_get_flood": E["USERS_SMALL"], "s3_flood": E["USERS_SMALL"]}.get(k, str(w.get("users", E["USERS_SMALL"])))
    rows.append((label[k], f"{int(users):,}" if users.isdigit() else users, str(w["connections"]), f"{w['rps']:,.1f}",
                 ms(w["p50_us"]), ms(w["p99_us"]), f"{w['non2xx']}" + (f" (+{errs - w['non2xx']} sock)" if errs > w["non2xx"] else ""),
                 f"{w['server_cores']:.2f}", f"{w['machine_busy_cores']:.2f}",
                 "-" if w.get("starved_connections") is None else str(w["starved_connections"])))
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
print()
for j, r in enumerate(rows):
    print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    if j == 0: print("  ".join("-" * w for w in widths))
print()
print(f"bare PBKDF2 at {pb['iterations']:,} iterations (sha_ni {'yes' if pb['sha_ni'] else 'no'}): "
      f"median {pb['median_s'] * 1000:.1f} ms wall, {pb['median_cpu_s'] * 1000:.1f} ms CPU ({pb['n']} runs)")
for k in ["s2_login_small", "s2_login_large"]:
    if k in s and s[k]["cpu_per_login_s"]:
        print(f"server CPU per login, {s[k]['users']:,} users: {s[k]['cpu_per_login_s'] * 1000:.1f} ms over {s[k]['logins']} logins")
print(f"footprint: idle RSS {int(E['IDLE_RSS_KB']) / 1024:.1f} MB, peak RSS {int(E['PEAK_RSS_KB']) / 1024:.1f} MB, "
      f"stripped binary {int(E['STRIPPED_BYTES']) / 2**20:.2f} MB")
print()
tw = max(len(t["name"]) for t in targets)
print("target".ljust(tw), "   value".rjust(13), "  target", "  result")
for t in targets:
    v = t.get("label", "no 2xx") if t["value"] is None else f"{t['value']:.2f}"
    r = "n/a" if t["met"] is None else ("met" if t["met"] else "MISSED")
    print(t["name"].ljust(tw), v.rjust(13), t["target"].rjust(8), " ", r)
print()
print(f"machine: {E['NPROC']} CPUs, {E['MODEL']}, sha_ni {'yes' if E['SHA_NI'] == 'true' else 'no'}; load at start {E['LOAD_AT_START']}; "
      f"run took {E['TOTAL_S']} s (build {E['BUILD_S']} s, 1M seed {E['SEED_S']} s)")
print(f"JSON: {E['OUT']}")
EOF

# --- security figures (timings, so here and not in the tests) -------------------
if [ "${SKIP_SECURITY:-0}" != 1 ]; then
    bash "$ROOT/bench/security.sh"
fi
