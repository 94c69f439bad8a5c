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
#   SKIP_JWT=0         1 = skip scenario 7, JWT mode on a server of its own (auth.mode = "jwt"):
#                      GET /user/ with a Bearer token and POST token/verify/ (GET_CONNS connections,
#                      as scenario 1), then chained POST token/refresh/
#   REFRESH_CONNS=4    scenario 7's refresh chains: one login (session) each, one connection and one
#                      wrk thread each, every refresh presenting the refresh token the previous answer gave
#   COMPARE_BIN        another restauth binary (e.g. an earlier commit's, built in a worktree):
#                      scenario 1 runs against it too, in this run, for a same-run ratio
#   BENCH_POSTGRES_URL postgres://… of a role that may create databases (else RESTAUTH_TEST_POSTGRES_URL):
#                      scenario 6, the same GET /user/ and login on PostgreSQL (a fresh database
#                      restauth_bench_<stamp>, dropped at exit), round trips per request, and
#                      GET /user/ over PG_NODES nodes on that one database
#   SKIP_POSTGRES=0    1 = skip scenario 6 even when a URL is set
#   PG_NODES=3         nodes of scenario 6's multi-node run
#   PG_COUNT_N=200     GET /user/ requests whose round trips are counted at the wire (logins: 3)
#   PG_SPLIT_WORKERS=1 also run the multi-node GET with WORKERS shared out between the nodes (0 = not)
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
SKIP_POSTGRES=${SKIP_POSTGRES:-0}
PG_NODES=${PG_NODES:-3}
PG_COUNT_N=${PG_COUNT_N:-200}
PG_SPLIT_WORKERS=${PG_SPLIT_WORKERS:-1}
SKIP_JWT=${SKIP_JWT:-0}
REFRESH_CONNS=${REFRESH_CONNS:-4}
# Read before the RESTAUTH_* variables are removed below.
PG_ADMIN_URL=${BENCH_POSTGRES_URL:-${RESTAUTH_TEST_POSTGRES_URL:-}}
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
    # Scenario 6's database: dropped once its nodes are gone (KEEP_TMP=1 keeps it for a look).
    if [ -n "${PG_DB_CREATED:-}" ]; then
        if [ "$KEEP_TMP" = 1 ]; then
            say "PostgreSQL database $PG_DB kept (KEEP_TMP=1): DROP DATABASE $PG_DB"
        else
            psql -XAtq -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 ||
                say "warning: could not drop the PostgreSQL database $PG_DB"
        fi
    fi
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

# Scenario 7 (JWT mode). GET /user/ with a Bearer token and token/verify/ are static requests,
# as get.lua. token/refresh/ is chained: wrk asks request() for a connection's next request only
# after response() has seen the answer to its previous one, so with one connection per thread
# (each thread's session is line <thread number> of the file given as the script's argument)
# every refresh presents the refresh token the previous answer gave. response() counts answers
# with a new refresh token (rotated), 200s without one (the replaced token presented again within
# jwt.reuse_grace: the chain broke) and refusals; done() prints them on a BENCH_REFRESH line.
write_jwt_lua() { # access token
    {
        printf 'wrk.method = "GET"\nwrk.headers["Authorization"] = "Bearer %s"\n' "$1"
        cat "$TMP/done.lua"
    } >"$TMP/bearer.lua"
    {
        printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '"'"'{"token":"%s"}'"'"'\n' "$1"
        cat "$TMP/done.lua"
    } >"$TMP/verify.lua"
    {
        cat <<'EOF'
local counter = 0
local threads = {}
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end
-- Per thread; globals, so that done() can read them with thread:get().
refresh = ""
rotated, not_rotated, refused = 0, 0, 0
function init(args)
  local i = 0
  for line in io.lines(args[1]) do
    i = i + 1
    if i == tid then refresh = line end
  end
  if refresh == "" then error("no refresh token for wrk thread " .. tostring(tid)) end
end
local headers = { ["Content-Type"] = "application/json" }
function request()
  return wrk.format("POST", nil, headers, '{"refresh":"' .. refresh .. '"}')
end
function response(status, hdrs, body)
  if status == 200 then
    local r = body:match('"refresh"%s*:%s*"([^"]+)"')
    if r then
      refresh = r
      rotated = rotated + 1
    else
      not_rotated = not_rotated + 1
    end
  else
    refused = refused + 1
  end
end
EOF
        cat "$TMP/done.lua"
        cat <<'EOF'
local summary_done = done
function done(summary, latency, requests)
  summary_done(summary, latency, requests)
  local r, n, f = 0, 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("rotated")
    n = n + t:get("not_rotated")
    f = f + t:get("refused")
  end
  io.write(string.format('BENCH_REFRESH {"chains":%d,"rotated":%d,"not_rotated":%d,"refused":%d}\n', #threads, r, n, f))
end
EOF
    } >"$TMP/refresh.lua"
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

# JWT mode (with jwt.refresh_in_body): logs in as USER and prints "ACCESS REFRESH" (one PBKDF2 each).
jwt_login() { # USER
    local out
    out=$(curl -sS --max-time 30 -X POST "http://$ADDR/rest-auth/login/" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}") || die "JWT login request failed"
    printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["access"] and d["refresh"]; print(d["access"], d["refresh"])' ||
        die "JWT login failed: $out"
}

# Scenario 7's chained refreshes: one wrk thread per chain (line of TOKENS). The server's log
# lines of the run give its own count of 200 answers and their durations (handler time, without
# wrk's correction of latencies for coordinated omission) next to what wrk saw.
refresh_scenario() { # NAME PID LOG TOKENS USERS
    local name=$1 pid=$2 log=$3 tokens=$4 n l0
    n=$(wc -l <"$tokens")
    wait_idle "$pid"
    l0=$(wc -l <"$log")
    prime "$n"
    run_wrk "$name" "$pid" "$n" "$n" 30 "$DURATION" "$TMP/refresh.lua" "http://$ADDR/rest-auth/token/refresh/" "$tokens"
    wait_idle "$pid"
    tail -n +"$((l0 + 1))" "$log" | grep ' POST /rest-auth/token/refresh/ 200 ' >"$TMP/$name.log" || true
    python3 - "$RES/$name.json" "$TMP/$name.wrk.txt" "$TMP/$name.log" "$5" <<'EOF'
import json, re, sys
p = sys.argv[1]; w = json.load(open(p))
line = next((l for l in open(sys.argv[2]) if l.startswith("BENCH_REFRESH ")), None)
if line is None:
    sys.exit("no BENCH_REFRESH line from wrk (%s)" % w["name"])
r = json.loads(line.split(" ", 1)[1])
took = sorted(float(m.group(1)) for l in open(sys.argv[3]) for m in [re.search(r" 200 ([0-9.]+)ms ", l)] if m)
def pct(q): return took[min(len(took) - 1, int(q * len(took)))] if took else None
secs = w["duration_us"] / 1e6
w.update(users=int(sys.argv[4]), chains=r["chains"], rotated=r["rotated"], not_rotated=r["not_rotated"], refused=r["refused"],
         rotations_per_s=r["rotated"] / secs, server_200=len(took),
         server_p50_ms=pct(0.5), server_p99_ms=pct(0.99), server_max_ms=took[-1] if took else None,
         cpu_per_refresh_us=w["server_cpu_s"] / r["rotated"] * 1e6 if r["rotated"] else None,
         chained=r["rotated"] > 0 and r["not_rotated"] == 0 and r["refused"] == 0 and w["non2xx"] == 0)
json.dump(w, open(p, "w"))
EOF
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

get_scenario() { # NAME PID USERS [SCRIPT PATH]: GET /user/ with get.lua unless another script and path are given
    local script=${4:-$TMP/get.lua} url=http://$ADDR/rest-auth/${5:-user/}
    prime "$GET_CONNS"
    wrk -t"$(min "$WRK_THREADS" "$GET_CONNS")" -c"$GET_CONNS" -d"${WARMUP}s" -s "$script" "$url" >/dev/null 2>&1 || true
    prime "$GET_CONNS"
    run_wrk "$1" "$2" "$GET_CONNS" "$(min "$WRK_THREADS" "$GET_CONNS")" 10 "$DURATION" "$script" "$url"
    python3 -c 'import json,sys; p=sys.argv[1]; w=json.load(open(p)); w["users"]=int(sys.argv[2]); json.dump(w,open(p,"w"))' "$RES/$1.json" "$3"
}

min() { echo $(($1 < $2 ? $1 : $2)); }

brief() { # one line per scenario while running
    python3 - "$RES/$1.json" >&2 <<'EOF'
import json, sys
w = json.load(open(sys.argv[1]))
extra = ", %.1f ms CPU/login over %d logins" % (w["cpu_per_login_s"] * 1000, w["logins"]) if w.get("cpu_per_login_s") else ""
if w.get("rotated") is not None:
    extra += ", %d rotations over %d chains (%d answered 200 without a new refresh token, %d refused; the server answered %d 200s)" % (
        w["rotated"], w["chains"], w["not_rotated"], w["refused"], w["server_200"])
    if w["server_200"]:
        extra += ", server-side p50 %.2f ms, p99 %.2f ms, max %.1f ms" % (w["server_p50_ms"], w["server_p99_ms"], w["server_max_ms"])
if w.get("db_cores") is not None:
    extra += ", PostgreSQL backends %.2f cores" % w["db_cores"]
    if w.get("db_waiting") is not None:
        extra += " (%.2f waiting for a CPU on average)" % w["db_waiting"]
print("    %s: %s req/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d, server %.2f cores, machine busy %.2f cores, starved connections %s%s" % (
    w["name"], format(round(w["rps"], 1), ","), w["p50_us"] / 1000, w["p99_us"] / 1000, w["non2xx"],
    w["server_cores"], w["machine_busy_cores"], w.get("starved_connections", "-"), extra))
EOF
}

# --- scenario 6: PostgreSQL (helpers) ----------------------------------------------------
# psql takes its connection from PG* variables (set by pg_env from the URL), so that no
# password is on a command line; restauth gets its URL and secret through its environment.
pg_env() { # URL: prints export lines of PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE…
    python3 - "$1" <<'EOF'
import shlex, sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
if p.scheme not in ("postgres", "postgresql"):
    sys.exit("not a postgres:// URL")
q = dict(u.parse_qsl(p.query))
env = {"PGHOST": q.get("host") or p.hostname or "localhost", "PGPORT": str(q.get("port") or p.port or 5432)}
if p.username: env["PGUSER"] = u.unquote(p.username)
if p.password: env["PGPASSWORD"] = u.unquote(p.password)
env["PGDATABASE"] = u.unquote(p.path.lstrip("/")) or env.get("PGUSER", "postgres")
for key, name in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"), ("connect_timeout", "PGCONNECT_TIMEOUT")):
    if key in q: env[name] = q[key]
for k, v in env.items(): print("export %s=%s" % (k, shlex.quote(v)))
EOF
}

pg_url() { # URL DBNAME [HOST:PORT]: the URL with another database (and, given HOST:PORT, that address, without TLS)
    python3 - "$@" <<'EOF'
import sys, urllib.parse as u
url, db = sys.argv[1], sys.argv[2]
p = u.urlsplit(url)
netloc, q = p.netloc, u.parse_qsl(p.query, keep_blank_values=True)
if len(sys.argv) > 3:
    userinfo = netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + sys.argv[3]
    q = [(k, v) for k, v in q if k not in ("sslmode", "sslrootcert", "host", "hostaddr", "port")] + [("sslmode", "disable")]
print(u.urlunsplit((p.scheme, netloc, "/" + u.quote(db), u.urlencode(q), "")))
EOF
}

pgq() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; } # the maintenance database unless -d is given

# pg_serve URL [VAR=VALUE…]: restauth on PostgreSQL, for start_server (the exec keeps the pid).
# The mail worker only polls once an hour, so that it adds no statements to the counts.
pg_serve() {
    local url=$1 kv
    shift
    cd "$TMP" || exit 1
    export RESTAUTH_DATABASE_URL=$url RESTAUTH_SECURITY_SECRET_KEY=$PG_SECRET RESTAUTH_MAIL_POLL_INTERVAL=1h
    for kv in "$@"; do export "${kv?}"; done
    exec "$BIN" --config "$TMP/auth.toml" serve
}

# Waits until no session is connected to the benchmark database: a backend writes its
# statistics when it exits, so pg_stat_database is exact once its nodes have stopped.
pg_quiesce() {
    local i
    for i in $(seq 1 100); do
        [ "$(pgq -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$PG_DB'")" = 0 ] && return 0
        sleep 0.1
    done
    say "warning: sessions on $PG_DB still open after 10 s; its statistics may lag"
}

pg_stat_snap() { # NAME: the database's transaction and row counters, once every node has disconnected
    pg_quiesce
    pgq -F ' ' -c "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched FROM pg_stat_database WHERE datname = '$PG_DB'" \
        >"$RES/pgstat_$1.txt"
    echo "$1" >>"$RES/pgstat_order.txt"
}

# pg_requests NAME LOG...: requests that reach the database (not the priming ones), from the nodes' log lines.
pg_requests() {
    local name=$1
    shift
    python3 - "$RES/pg_requests.json" "$name" "$@" <<'EOF'
import json, os, sys
path, name, logs = sys.argv[1], sys.argv[2], sys.argv[3:]
d = json.load(open(path)) if os.path.exists(path) else {}
c = {"get": 0, "login": 0, "other": 0}
for log in logs:
    for line in open(log, errors="replace"):
        if " GET /rest-auth/user/ " in line: c["get"] += 1
        elif " POST /rest-auth/login/ " in line: c["login"] += 1
        elif " /rest-auth/" in line: c["other"] += 1
d[name] = c
json.dump(d, open(path, "w"))
EOF
}

# CPU of the PostgreSQL backends serving the benchmark database, and the time they spent runnable
# but waiting for a CPU (/proc/PID/schedstat, field 2, ns): "pid ticks wait_ns" per backend.
# PostgreSQL on this machine only.
pg_backend_ticks() {
    [ "$PG_LOCAL" = 1 ] || return 0
    local p w
    for p in $(pgq -c "SELECT pid FROM pg_stat_activity WHERE datname = '$PG_DB'"); do
        [ -r "/proc/$p/stat" ] || continue
        w=$(awk '{ print $2 }' "/proc/$p/schedstat" 2>/dev/null) || w=0
        echo "$p $(cpu_ticks "$p" 2>/dev/null) ${w:-0}"
    done
}
pg_ticks_delta() { # BEFORE AFTER: "ticks wait_ns" used in between by the backends alive at the end
    awk 'NR == FNR { t[$1] = $2; w[$1] = $3; next }
         $2 != "" { d += $2 - ($1 in t ? t[$1] : 0); q += $3 - ($1 in w ? w[$1] : 0) }
         END { printf "%d %d\n", d, q }' "$1" "$2"
}
pg_add_db_cpu() { # NAME "TICKS WAIT_NS"
    python3 - "$RES/$1.json" "$2" "$CLK_TCK" "$PG_LOCAL" <<'EOF'
import json, sys
p = sys.argv[1]; w = json.load(open(p))
ticks, wait_ns = (int(x) for x in sys.argv[2].split())
if sys.argv[4] == "1":
    w["db_cpu_s"] = ticks / int(sys.argv[3])
    w["db_cores"] = w["db_cpu_s"] / w["wall_s"]
    w["db_runqueue_wait_s"] = wait_ns / 1e9                  # runnable backends waiting for a CPU, summed
    w["db_waiting"] = w["db_runqueue_wait_s"] / w["wall_s"]  # backends waiting for a CPU, on average
json.dump(w, open(p, "w"))
EOF
}

# GET /user/ on the node at $ADDR, as scenario 1 (warm-up, priming, GET_CONNS connections).
pg_get_scenario() { # NAME PID
    prime "$GET_CONNS"
    wrk -t"$(min "$WRK_THREADS" "$GET_CONNS")" -c"$GET_CONNS" -d"${WARMUP}s" -s "$TMP/get.lua" "http://$ADDR/rest-auth/user/" >/dev/null 2>&1 || true
    prime "$GET_CONNS"
    pg_backend_ticks >"$TMP/$1.db0"
    run_wrk "$1" "$2" "$GET_CONNS" "$(min "$WRK_THREADS" "$GET_CONNS")" 10 "$DURATION" "$TMP/get.lua" "http://$ADDR/rest-auth/user/"
    pg_backend_ticks >"$TMP/$1.db1"
    pg_add_db_cpu "$1" "$(pg_ticks_delta "$TMP/$1.db0" "$TMP/$1.db1")"
    python3 -c 'import json,sys; p=sys.argv[1]; w=json.load(open(p)); w["users"]=int(sys.argv[2]); json.dump(w,open(p,"w"))' "$RES/$1.json" "$USERS_SMALL"
}

# The database's own ceiling for scenario 6's GET: pgbench (libpq, C, no HTTP) runs restauth's
# token lookup, prepared, with the same number of clients and threads as wrk has connections and
# threads, for DURATION: how many of those statements PostgreSQL serves on this machine to the
# lightest client there is. Writes $RES/NAME.json (tps) or nothing when pgbench is missing.
pg_ceiling() { # NAME KEY
    command -v pgbench >/dev/null || { say "warning: pgbench not installed: no database ceiling"; return 0; }
    local hash
    hash=$(printf '%s' "$2" | sha256sum | cut -d' ' -f1)
    # The statement of src/accounts/tokens.rs (users.* for its column list: the same columns).
    printf '%s\n' "SELECT tokens.id, users.* FROM tokens JOIN users ON users.id = tokens.user_id WHERE tokens.key_sha256 = '\\x$hash'::bytea AND tokens.expires_at > extract(epoch FROM now())::bigint;" >"$TMP/ceiling.sql"
    pgbench -n -M prepared -c "$GET_CONNS" -j "$(min "$WRK_THREADS" "$GET_CONNS")" -T "$DURATION" -f "$TMP/ceiling.sql" "$PG_DB" \
        >"$TMP/$1.pgbench.txt" 2>&1 || { cat "$TMP/$1.pgbench.txt" >&2; say "warning: pgbench failed: no database ceiling"; return 0; }
    python3 - "$TMP/$1.pgbench.txt" "$RES/$1.json" "$1" "$GET_CONNS" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
tps = float(re.search(r"tps = ([0-9.]+)", text).group(1))
rows = re.search(r"number of transactions actually processed: ([0-9]+)", text)
json.dump(dict(name=sys.argv[3], tps=tps, clients=int(sys.argv[4]), transactions=int(rows.group(1)) if rows else None), open(sys.argv[2], "w"))
PY
    say "    $1: pgbench, restauth's token lookup, $GET_CONNS clients: $(python3 -c 'import json,sys; print(format(round(json.load(open(sys.argv[1]))["tps"]), ","))' "$RES/$1.json") statements/s"
}

# The same GET /user/ load spread over the nodes of PG_PIDS / PG_ADDRS at once: one wrk per node
# (1 thread), GET_CONNS split between them; NAME.json sums them (req/s, CPU), NAME_<i>.json per node.
pg_multi_get() { # NAME
    local name=$1 n=${#PG_PIDS[@]} i c0 m0 t0 jobs=() conns=()
    for i in "${!PG_PIDS[@]}"; do conns[i]=$((GET_CONNS / n + (i < GET_CONNS % n ? 1 : 0))); done
    for i in "${!PG_PIDS[@]}"; do ADDR=${PG_ADDRS[i]}; prime "${conns[i]}"; done
    for i in "${!PG_PIDS[@]}"; do
        wrk -t1 -c"${conns[i]}" -d"${WARMUP}s" -s "$TMP/get.lua" "http://${PG_ADDRS[i]}/rest-auth/user/" >/dev/null 2>&1 &
        jobs+=($!)
    done
    wait "${jobs[@]}" || true
    for i in "${!PG_PIDS[@]}"; do ADDR=${PG_ADDRS[i]}; prime "${conns[i]}"; done
    pg_backend_ticks >"$TMP/$name.db0"
    c0=0
    for i in "${!PG_PIDS[@]}"; do c0=$((c0 + $(cpu_ticks "${PG_PIDS[i]}"))); done
    m0=$(machine_busy)
    t0=$(date +%s.%N)
    jobs=()
    for i in "${!PG_PIDS[@]}"; do
        ADDR=${PG_ADDRS[i]}
        run_wrk "${name}_$((i + 1))" "${PG_PIDS[i]}" "${conns[i]}" 1 10 "$DURATION" "$TMP/get.lua" "http://$ADDR/rest-auth/user/" &
        jobs+=($!)
    done
    for i in "${!jobs[@]}"; do wait "${jobs[i]}" || die "wrk failed on node $((i + 1)) ($name)"; done
    local c1=0 m1 t1
    for i in "${!PG_PIDS[@]}"; do c1=$((c1 + $(cpu_ticks "${PG_PIDS[i]}"))); done
    m1=$(machine_busy)
    t1=$(date +%s.%N)
    pg_backend_ticks >"$TMP/$name.db1"
    python3 - "$RES" "$name" "$n" "$((c1 - c0))" "$((m1 - m0))" "$t0" "$t1" "$CLK_TCK" "$USERS_SMALL" <<'EOF'
import json, sys
res, name, n, cpu, busy, t0, t1, hz, users = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
nodes = [json.load(open("%s/%s_%d.json" % (res, name, i + 1))) for i in range(n)]
wall = t1 - t0
def total(k): return sum(w[k] for w in nodes)
starved = [w.get("starved_connections") for w in nodes]
w = dict(name=name, nodes=n, connections=total("connections"), requests=total("requests"), bytes=total("bytes"),
         duration_us=max(w["duration_us"] for w in nodes), non2xx=total("non2xx"), connect_errors=total("connect_errors"),
         read_errors=total("read_errors"), write_errors=total("write_errors"), timeouts=total("timeouts"),
         rps=total("rps"), ok_rps=total("ok_rps"),
         # percentiles cannot be added: the worst node's
         p50_us=max(w["p50_us"] for w in nodes), p90_us=max(w["p90_us"] for w in nodes), p99_us=max(w["p99_us"] for w in nodes),
         max_us=max(w["max_us"] for w in nodes), mean_us=sum(w["mean_us"] * w["requests"] for w in nodes) / max(total("requests"), 1),
         server_cpu_s=cpu / hz, server_cores=cpu / hz / wall, machine_busy_cores=busy / hz / wall, wall_s=wall,
         starved_connections=None if None in starved else sum(starved), users=users,
         per_node=[dict(rps=x["rps"], p50_us=x["p50_us"], p99_us=x["p99_us"], connections=x["connections"], server_cores=x["server_cores"]) for x in nodes])
json.dump(w, open("%s/%s.json" % (res, name), "w"))
EOF
    pg_add_db_cpu "$name" "$(pg_ticks_delta "$TMP/$name.db0" "$TMP/$name.db1")"
}

# pg_start_nodes NAME [VAR=VALUE…]: PG_NODES nodes on the benchmark database (PG_PIDS, PG_ADDRS, PG_LOGS).
pg_start_nodes() {
    local name=$1 i
    shift
    PG_PIDS=()
    PG_ADDRS=()
    PG_LOGS=()
    for i in $(seq 1 "$PG_NODES"); do
        start_server "$TMP/pg-$name$i.log" pg_serve "$PG_BENCH_URL" "$@"
        PG_PIDS+=("$STARTED_PID")
        PG_ADDRS+=("$STARTED_ADDR")
        PG_LOGS+=("$TMP/pg-$name$i.log")
    done
}
pg_stop_nodes() { # NAME: stops them, counts their requests, reads the database's counters
    local pid
    for pid in "${PG_PIDS[@]}"; do stop_server "$pid"; done
    pg_requests "$1" "${PG_LOGS[@]}"
    pg_stat_snap "$1"
}

# Scenario 2 on the PostgreSQL node PID (log LOG): logins/s, server and database CPU per successful login.
pg_login_scenario() { # NAME PID LOG
    local name=$1 pid=$2 log=$3 n0 n1 c0 c1
    wait_idle "$pid"
    n0=$(grep -c ' POST /rest-auth/login/ 200 ' "$log" || true)
    c0=$(cpu_ticks "$pid")
    pg_backend_ticks >"$TMP/$name.db0"
    prime "$LOGIN_CONNS"
    run_wrk "$name" "$pid" "$LOGIN_CONNS" "$(min "$WRK_THREADS" "$LOGIN_CONNS")" 60 "$DURATION" "$TMP/login.lua" \
        "http://$ADDR/rest-auth/login/" "$USERS_SMALL"
    wait_idle "$pid"
    c1=$(cpu_ticks "$pid")
    pg_backend_ticks >"$TMP/$name.db1"
    n1=$(grep -c ' POST /rest-auth/login/ 200 ' "$log" || true)
    python3 - "$RES/$name.json" "$((n1 - n0))" "$((c1 - c0))" "$CLK_TCK" "$USERS_SMALL" "$(pg_ticks_delta "$TMP/$name.db0" "$TMP/$name.db1")" "$PG_LOCAL" <<'EOF'
import json, sys
p = sys.argv[1]; w = json.load(open(p))
logins, ticks, hz, dbt = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[6].split()[0])
w.update(users=int(sys.argv[5]), logins=logins, server_cpu_total_s=ticks / hz,
         cpu_per_login_s=(ticks / hz / logins) if logins else None)
if sys.argv[7] == "1":
    w.update(db_cpu_s=dbt / hz, db_cores=dbt / hz / w["wall_s"], db_cpu_per_login_s=(dbt / hz / logins) if logins else None)
json.dump(w, open(p, "w"))
EOF
}

# Round trips at the wire: a node connected through bench/pgcount.py; its statements are
# prepared by a warm-up (2 logins, 5 GETs), then PG_COUNT_N GETs and 3 logins are counted.
cat >"$TMP/pgreq.py" <<'EOF'
import http.client, json, sys
addr, kind, n, arg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
host, port = addr.rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), timeout=60)
bad = 0
for i in range(n):
    if kind == "get":
        c.request("GET", "/rest-auth/user/", headers={"Authorization": "Token " + arg})
    else:
        body = json.dumps({"username": "bench%07d" % (2 + i % 50), "password": arg})
        c.request("POST", "/rest-auth/login/", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    bad += not 200 <= r.status < 300
if bad:
    sys.exit("pgreq: %d of %d %s requests failed" % (bad, n, kind))
EOF
pg_count_snap() { # NAME: the relay's counters now, in $RES/pgcount_NAME.json
    local i
    rm -f "$TMP/pgcount.state"
    kill -USR1 "$PGCOUNT_PID"
    for i in $(seq 1 50); do [ -s "$TMP/pgcount.state" ] && break; sleep 0.1; done
    cp "$TMP/pgcount.state" "$RES/pgcount_$1.json" || die "no counters from bench/pgcount.py"
}
pg_count() { # NAME THROTTLE(true|false)
    local name=$1 pid key
    start_server "$TMP/$name.log" pg_serve "$PG_COUNT_URL" "RESTAUTH_THROTTLE_ENABLED=$2"
    pid=$STARTED_PID
    ADDR=$STARTED_ADDR
    key=$(login_key)
    python3 "$TMP/pgreq.py" "$ADDR" login 1 "$PASSWORD" || die "login through the counting relay failed"
    python3 "$TMP/pgreq.py" "$ADDR" get 5 "$key" || die "GET /user/ through the counting relay failed"
    pg_count_snap "${name}_0"
    python3 "$TMP/pgreq.py" "$ADDR" get "$PG_COUNT_N" "$key" || die "GET /user/ through the counting relay failed"
    pg_count_snap "${name}_1"
    python3 "$TMP/pgreq.py" "$ADDR" login 3 "$PASSWORD" || die "login through the counting relay failed"
    pg_count_snap "${name}_2"
    stop_server "$pid"
}

# Scenario 6's database: created, its schema applied by restauth itself (`user create` opens it),
# and seeded with the same users as the SQLite file, all with user 1's one real PBKDF2 hash.
# Returns non-zero (the phase is then skipped, with the reason) instead of stopping the benchmark.
pg_setup() {
    PG_SKIP_REASON="psql is not installed"
    command -v psql >/dev/null || return 1
    PG_SKIP_REASON="BENCH_POSTGRES_URL is not a postgres:// URL"
    local envs
    envs=$(pg_env "$PG_ADMIN_URL") || return 1
    eval "$envs"
    PG_SKIP_REASON="cannot connect to PostgreSQL at $PGHOST:$PGPORT"
    PG_VERSION=$(pgq -c 'SHOW server_version' 2>"$TMP/pg_setup.err") || { cat "$TMP/pg_setup.err" >&2; return 1; }
    PG_DB=restauth_bench_$(printf '%s' "$STAMP" | tr 'A-Z' 'a-z')
    PG_SKIP_REASON="CREATE DATABASE $PG_DB failed (the role needs CREATEDB)"
    pgq -c "CREATE DATABASE $PG_DB" 2>"$TMP/pg_setup.err" || { cat "$TMP/pg_setup.err" >&2; return 1; }
    PG_DB_CREATED=1
    PG_BENCH_URL=$(pg_url "$PG_ADMIN_URL" "$PG_DB")
    PG_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
    case $PGHOST in 127.* | localhost | ::1 | /*) PG_LOCAL=1 ;; *) PG_LOCAL=0 ;; esac
    PG_SKIP_REASON="restauth could not create its schema and user 1 on PostgreSQL"
    printf '%s\n' "$PASSWORD" | (
        cd "$TMP" && export RESTAUTH_DATABASE_URL=$PG_BENCH_URL RESTAUTH_SECURITY_SECRET_KEY=$PG_SECRET &&
            "$BIN" --config "$TMP/auth.toml" user create --username bench0000001 --email bench0000001@bench.invalid \
                --password-stdin --skip-validation
    ) >/dev/null || return 1
    PG_SKIP_REASON="seeding PostgreSQL failed"
    pgq -d "$PG_DB" -v total="$USERS_SMALL" <<'EOF' || return 1
BEGIN;
-- The same rows as bench/seed.py: bench0000002 … up to :total, user 1's hash, verified, active.
INSERT INTO users (id, username, username_lower, email, email_verified, first_name, last_name, password, is_active, date_joined, last_login)
SELECT i, n.name, n.name, n.name || '@bench.invalid', 1, '', '', t.password, 1, extract(epoch FROM now())::bigint, NULL
  FROM (SELECT password, (SELECT max(id) FROM users) AS top FROM users WHERE id = 1) AS t,
       generate_series(t.top + 1, :total) AS i,
       LATERAL (SELECT 'bench' || lpad(i::text, 7, '0') AS name) AS n;
-- Explicit ids: move the identity's sequence past them.
SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users)) \g /dev/null
COMMIT;
ANALYZE users;
EOF
    [ "$(pgq -d "$PG_DB" -c 'SELECT count(*) FROM users')" = "$USERS_SMALL" ] || return 1
    PG_SKIP_REASON=""
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

# Scenario 6's database, prepared now so that a PostgreSQL problem is known before the long part.
PG_PHASE=0
PG_SKIP_REASON=""
if [ "$SKIP_POSTGRES" = 1 ]; then
    PG_SKIP_REASON="SKIP_POSTGRES=1"
elif [ -z "$PG_ADMIN_URL" ]; then
    PG_SKIP_REASON="no BENCH_POSTGRES_URL or RESTAUTH_TEST_POSTGRES_URL"
else
    say "scenario 6: PostgreSQL database for $USERS_SMALL users"
    if pg_setup; then
        PG_PHASE=1
        say "    PostgreSQL $PG_VERSION at $PGHOST:$PGPORT, database $PG_DB (dropped at exit), $USERS_SMALL users"
    else
        say "warning: scenario 6 (PostgreSQL) skipped: $PG_SKIP_REASON"
    fi
fi

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

# --- scenario 7: JWT mode ----------------------------------------------------------------
# A server of its own with auth.mode = "jwt" on the same database (as many users as scenario 5
# saw), before scenario 6 so that it runs near the baseline. Access tokens live 1 h, so that none
# expires during the run; the refresh token is also sent in answer bodies, where wrk reads it.
# Tokens come from REFRESH_CONNS logins (one PBKDF2 each): each starts the session of one
# refresh chain, and the first one's access token serves the GET and verify runs.
JWT_PHASE=0
JWT_SKIP_REASON=""
if [ "$SKIP_JWT" = 1 ]; then
    JWT_SKIP_REASON="SKIP_JWT=1"
else
    case $REFRESH_CONNS in '' | *[!0-9]* | 0*) die "REFRESH_CONNS=$REFRESH_CONNS: a number of connections, at least 1" ;; esac
    JWT_PHASE=1
    JWT_USERS=$(sql 'SELECT count(*) FROM users')
    start_server "$TMP/restauth-jwt.log" env -C "$TMP" RESTAUTH_AUTH_MODE=jwt RESTAUTH_JWT_ACCESS_LIFETIME=1h \
        RESTAUTH_JWT_REFRESH_IN_BODY=true "$BIN" --config "$TMP/auth.toml" serve
    SERVER=$STARTED_PID
    ADDR=$STARTED_ADDR
    say "scenario 7: JWT mode on $ADDR, $REFRESH_CONNS logins for tokens"
    : >"$TMP/refresh.tokens"
    for i in $(seq 1 "$REFRESH_CONNS"); do
        JWT_PAIR=$(jwt_login "$(printf 'bench%07d' "$i")")
        [ "$i" = 1 ] && write_jwt_lua "${JWT_PAIR% *}"
        printf '%s\n' "${JWT_PAIR#* }" >>"$TMP/refresh.tokens"
    done
    wait_idle "$SERVER"
    say "scenario 7: GET /user/ with a Bearer token, $GET_CONNS connections, $JWT_USERS users"
    get_scenario j7_get "$SERVER" "$JWT_USERS" "$TMP/bearer.lua" user/
    brief j7_get
    say "scenario 7: POST token/verify/, $GET_CONNS connections"
    get_scenario j7_verify "$SERVER" "$JWT_USERS" "$TMP/verify.lua" token/verify/
    brief j7_verify
    say "scenario 7: POST token/refresh/, $REFRESH_CONNS chains (one connection and one wrk thread each)"
    refresh_scenario j7_refresh "$SERVER" "$TMP/restauth-jwt.log" "$TMP/refresh.tokens" "$JWT_USERS"
    brief j7_refresh
    stop_server "$SERVER"
    SERVER_5XX=$((SERVER_5XX + $(grep -cE ' 5[0-9][0-9] [0-9.]+ms ' "$TMP/restauth-jwt.log" || true)))
fi

# --- scenario 6: the same on PostgreSQL, one node and several --------------------------------
# Every node is started for one measurement and stopped after it, and pg_stat_database is read
# with no session on the database (each backend writes its counters when it exits), so the
# counters' difference covers exactly that node's life; k0, a node started and stopped without
# a request, measures what a node's start and stop cost by themselves.
PG_SPLIT=$(((WORKERS + PG_NODES - 1) / PG_NODES))
if [ "$PG_PHASE" = 1 ]; then
    PG_T0=$(date +%s)
    pg_stat_snap start
    start_server "$TMP/pg-k0.log" pg_serve "$PG_BENCH_URL"
    sleep 1
    stop_server "$STARTED_PID"
    pg_requests k0 "$TMP/pg-k0.log"
    pg_stat_snap k0

    start_server "$TMP/pg-get1.log" pg_serve "$PG_BENCH_URL"
    SERVER=$STARTED_PID
    ADDR=$STARTED_ADDR
    PG_KEY=$(login_key)
    write_get_lua "$PG_KEY"
    say "scenario 6: GET /user/ on PostgreSQL, 1 node ($ADDR), $GET_CONNS connections"
    pg_get_scenario p6_get "$SERVER"
    brief p6_get
    stop_server "$SERVER"
    pg_requests get1 "$TMP/pg-get1.log"
    pg_stat_snap get1

    pg_start_nodes nodes
    say "scenario 6: GET /user/ on $PG_NODES nodes of one PostgreSQL database (${PG_ADDRS[*]}), $WORKERS workers each, $GET_CONNS connections split"
    pg_multi_get p6_get_nodes
    brief p6_get_nodes
    pg_stop_nodes nodes

    if [ "$PG_SPLIT_WORKERS" = 1 ]; then
        # The same machine's threads as one node: WORKERS shared out between the nodes.
        pg_start_nodes split "RESTAUTH_SERVER_WORKERS=$PG_SPLIT"
        say "scenario 6: the same with $PG_SPLIT workers per node ($PG_NODES × $PG_SPLIT, one node has $WORKERS)"
        pg_multi_get p6_get_split
        brief p6_get_split
        pg_stop_nodes split
    fi

    start_server "$TMP/pg-login.log" pg_serve "$PG_BENCH_URL"
    SERVER=$STARTED_PID
    ADDR=$STARTED_ADDR
    say "scenario 6: POST /login/ on PostgreSQL, $LOGIN_CONNS connections"
    pg_login_scenario p6_login "$SERVER" "$TMP/pg-login.log"
    brief p6_login
    stop_server "$SERVER"
    pg_requests login "$TMP/pg-login.log"
    pg_stat_snap login

    # After the last pg_stat_database bracket, so that its statements count in none.
    say "scenario 6: the database's ceiling for the GET's statement, pgbench, $GET_CONNS clients"
    pg_ceiling p6_ceiling "$PG_KEY"

    # Round trips at the wire (the relay is only ever in front of these counting nodes).
    case $PGHOST in
    /*) say "warning: PostgreSQL on a Unix socket: round trips not counted (the relay speaks TCP)" ;;
    *)
        python3 "$ROOT/bench/pgcount.py" "$PGHOST" "$PGPORT" "$TMP/pgcount.state" >"$TMP/pgcount.out" 2>&1 &
        PGCOUNT_PID=$!
        PIDS+=("$PGCOUNT_PID")
        for i in $(seq 1 100); do grep -q '^listening on ' "$TMP/pgcount.out" && break; sleep 0.1; done
        PGCOUNT_ADDR=$(sed -n 's/^listening on //p' "$TMP/pgcount.out")
        [ -n "$PGCOUNT_ADDR" ] || { cat "$TMP/pgcount.out" >&2; die "bench/pgcount.py did not start"; }
        PG_COUNT_URL=$(pg_url "$PG_ADMIN_URL" "$PG_DB" "$PGCOUNT_ADDR")
        say "scenario 6: round trips of $PG_COUNT_N GET /user/ and 3 logins, counted at the wire (throttle off, then on)"
        pg_count count_off false
        pg_count count_on true
        stop_server "$PGCOUNT_PID"
        ;;
    esac
    PG_S=$(($(date +%s) - PG_T0))
else
    PG_S=0
fi

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
    GIT_REV GIT_DIRTY BARE_IDLE_HWM THREADS_END SERVER_5XX \
    PG_PHASE PG_SKIP_REASON PG_NODES PG_COUNT_N PG_S PG_SPLIT JWT_PHASE JWT_SKIP_REASON REFRESH_CONNS
[ "$PG_PHASE" = 1 ] && export PG_VERSION PG_DB PG_LOCAL
python3 - <<'EOF'
import json, os, platform

E = os.environ
ORDER = ["baseline", "s1_compare", "s1_get_small", "s2_login_small", "s3_get_flood", "s3_flood", "s1_get_large", "s2_login_large",
         "s5_legit", "s5_legit_attacked", "s5_attack", "j7_get", "j7_verify", "j7_refresh", "p6_get", "p6_get_nodes", "p6_get_split", "p6_login"]
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
def figure(name, value, note, digits=2):  # reported next to the targets, with none of its own
    targets.append(dict(name=name, value=value, target="-", met=None, note=note, digits=digits))

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

# --- scenario 7: JWT mode ---
jw = dict(ran=E["JWT_PHASE"] == "1", skipped=E["JWT_SKIP_REASON"] or None)
if jw["ran"]:
    base = s["baseline"]["ok_rps"]
    g, v, r = s["j7_get"], s["j7_verify"], s["j7_refresh"]
    # Token mode's GET /user/ at the same number of users (scenario 4's when the million were seeded).
    tk = next((k for k in ("s1_get_large", "s1_get_small") if k in s and s[k]["users"] == g["users"]), "s1_get_small")
    jw.update(users=g["users"], refresh_chains=r["chains"], token_mode_scenario=tk,
              refresh=dict(rotations_per_s=r["rotations_per_s"], rotated=r["rotated"], not_rotated=r["not_rotated"],
                           refused=r["refused"], server_200=r["server_200"], chained=r["chained"],
                           cpu_per_refresh_us=r["cpu_per_refresh_us"], server_p50_ms=r["server_p50_ms"],
                           server_p99_ms=r["server_p99_ms"], server_max_ms=r["server_max_ms"]),
              ratios=dict(get_bearer_vs_baseline=ratio(g["ok_rps"], base), verify_vs_baseline=ratio(v["ok_rps"], base),
                          get_bearer_vs_token=ratio(g["ok_rps"], s[tk]["ok_rps"]),
                          refresh_vs_baseline=ratio(r["rotations_per_s"], base)))
    target("GET /user/ with a Bearer token vs bare hyper (req/s ratio)", jw["ratios"]["get_bearer_vs_baseline"], ">=", 0.7,
           "scenario 7 (JWT mode) / baseline, same wrk settings")
    target("POST token/verify/ vs bare hyper (req/s ratio)", jw["ratios"]["verify_vs_baseline"], ">=", 0.7,
           "scenario 7 (JWT mode) / baseline, same wrk settings")
    figure("GET /user/, Bearer (JWT) vs Token (req/s ratio)", jw["ratios"]["get_bearer_vs_token"],
           "scenario 7 / %s (token mode), same run, %d users" % (tk, g["users"]))
    figure("token/refresh/ rotations/s vs bare hyper", jw["ratios"]["refresh_vs_baseline"],
           "scenario 7: %d chains, each refresh presenting the token the previous answer gave" % r["chains"]
           + ("" if r["chained"] else "; NOT every answer rotated: the chains broke, see scenarios.j7_refresh"), digits=3)

# --- scenario 6: PostgreSQL ---
pg = dict(ran=E["PG_PHASE"] == "1", skipped=E["PG_SKIP_REASON"] or None)
if pg["ran"]:
    R = E["RES"]
    def stat(name):
        v = [int(x) for x in open(os.path.join(R, "pgstat_%s.txt" % name)).read().split()]
        return dict(zip(("xact_commit", "xact_rollback", "tup_returned", "tup_fetched"), v))
    def delta(a, b): return {k: b[k] - a[k] for k in a}
    order = open(os.path.join(R, "pgstat_order.txt")).read().split()  # start, k0, get1, nodes, [split], login
    snaps = {k: stat(k) for k in order}
    req = json.load(open(os.path.join(R, "pg_requests.json")))
    nodes = int(E["PG_NODES"])
    # Each bracket is one node's (or one set of nodes') life: the counters' difference, minus what
    # a node's start and stop cost alone (k0, per node), minus the login that fetched the key.
    d = {b: delta(snaps[a], snaps[b]) for a, b in zip(order, order[1:])}
    k0 = d["k0"]
    n_login = req["login"]["login"]
    per = {"login": {k: (d["login"][k] - k0[k]) / n_login if n_login else None for k in k0}}
    for b, label, n_nodes in (("get1", "get_1_node", 1), ("nodes", "get_%d_nodes" % nodes, nodes), ("split", "get_%d_nodes_split" % nodes, nodes)):
        if b in d and req[b]["get"]:
            per[label] = {k: (d[b][k] - n_nodes * k0[k] - req[b]["login"] * (per["login"][k] or 0)) / req[b]["get"] for k in k0}
    wire = {}
    for mode in ("off", "on"):
        paths = [os.path.join(R, "pgcount_count_%s_%d.json" % (mode, i)) for i in range(3)]
        if not all(os.path.exists(x) for x in paths):
            continue
        a, b, c = (json.load(open(x)) for x in paths)
        def part(x, y, n):
            stmts = {}
            for table in ("run", "simple"):
                for sql, count in y[table].items():
                    diff = count - x[table].get(sql, 0)
                    if diff:
                        stmts[" ".join(sql.split())] = diff / n
            per = (y["round_trips"] - x["round_trips"]) / n
            last = y["sequence"][len(y["sequence"]) - round(per):] if per == round(per) else None
            return dict(requests=n, round_trips=per,
                        prepared=sum(y["prepared"].values()) - sum(x["prepared"].values()), statements=stmts,
                        last_request=[" ".join(q.split()) for q in last] if last is not None else None)
        wire["throttle_" + mode] = dict(get=part(a, b, int(E["PG_COUNT_N"])), login=part(b, c, 3), opaque=c["opaque"])
    pg.update(server_version=E["PG_VERSION"], address="%s:%s" % (E["PGHOST"], E["PGPORT"]), database=E["PG_DB"],
              users=int(E["USERS_SMALL"]), nodes=nodes, db_cpu_measured=E["PG_LOCAL"] == "1",
              requests=req, pg_stat_database=snaps, per_request_pg_stat=per, wire=wire, seconds=int(E["PG_S"]),
              ratios=dict(
                  get_pg_vs_sqlite=ratio(s["p6_get"]["ok_rps"], s["s1_get_small"]["ok_rps"]),
                  login_pg_vs_sqlite=ratio(s["p6_login"]["ok_rps"], s["s2_login_small"]["ok_rps"]),
                  login_cpu_pg_vs_sqlite=ratio(s["p6_login"]["cpu_per_login_s"], s["s2_login_small"]["cpu_per_login_s"]),
                  get_nodes_vs_1_node=ratio(s["p6_get_nodes"]["ok_rps"], s["p6_get"]["ok_rps"]),
                  get_nodes_split_vs_1_node=ratio(s["p6_get_split"]["ok_rps"], s["p6_get"]["ok_rps"]) if "p6_get_split" in s else None),
              workers=dict(one_node=int(E["WORKERS"]), split_per_node=int(E["PG_SPLIT"]) if "p6_get_split" in s else None))
    # CPU per GET /user/ (µs): restauth's own, and the PostgreSQL backends'; and how long the
    # backends waited for a CPU while runnable (per request): what bounds req/s on a small machine.
    def us(w, key): return None if w.get(key) is None else w[key] / max(w["requests"], 1) * 1e6
    pg["cpu_per_get_us"] = {k: dict(restauth=us(s[k], "server_cpu_s"), postgres=us(s[k], "db_cpu_s"), postgres_runqueue_wait=us(s[k], "db_runqueue_wait_s"))
                            for k in ("s1_get_small", "p6_get", "p6_get_nodes", "p6_get_split") if k in s}
    target("GET /user/ on PostgreSQL / on SQLite (req/s ratio)", pg["ratios"]["get_pg_vs_sqlite"], ">=", 0.4,
           "scenario 6, 1 node / scenario 1, same run")
    ceiling_path = os.path.join(R, "p6_ceiling.json")
    if os.path.exists(ceiling_path):
        ceiling = json.load(open(ceiling_path))
        pg["database_ceiling"] = ceiling
        pg["ratios"]["get_pg_vs_database_ceiling"] = ratio(s["p6_get"]["ok_rps"], ceiling["tps"])
        figure("GET /user/ on PostgreSQL / the database's ceiling", pg["ratios"]["get_pg_vs_database_ceiling"],
               "pgbench running the same lookup with %d clients: %s statements/s" % (ceiling["clients"], format(round(ceiling["tps"]), ",")), digits=3)
    if "throttle_off" in wire:
        target("database round trips per GET /user/ (PostgreSQL)", wire["throttle_off"]["get"]["round_trips"], "<=", 1,
               "counted at the wire (Sync + Query messages), warm statements")

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
                  users_large=None if E["SKIP_MILLION"] == "1" else int(E["USERS_LARGE"]),
                  postgres_nodes=int(E["PG_NODES"]), postgres_count_requests=int(E["PG_COUNT_N"]),
                  refresh_connections=int(E["REFRESH_CONNS"])),
    scenarios=s,
    pbkdf2=pb,
    footprint=dict(idle_rss_kb=int(E["IDLE_RSS_KB"]), peak_rss_kb=int(E["PEAK_RSS_KB"]), final_rss_kb=int(E["FINAL_RSS_KB"]),
                   threads_at_end=int(E["THREADS_END"]), stripped_binary_bytes=int(E["STRIPPED_BYTES"]),
                   binary_bytes=int(E["BIN_BYTES"]), baseline_peak_rss_kb=int(E["BARE_IDLE_HWM"])),
    server_5xx_in_log=int(E["SERVER_5XX"]),
    targets=targets,
    postgres=pg,
    jwt=jw,
    timing=dict(total_s=int(E["TOTAL_S"]), build_s=int(E["BUILD_S"]), seed_large_s=int(E["SEED_S"]), postgres_s=int(E["PG_S"])),
)
json.dump(out, open(E["OUT"], "w"), indent=2)

# --- the table ---
def ms(us): return f"{us / 1000:.2f}"
dbcol = pg["ran"] and pg["db_cpu_measured"]  # the PostgreSQL backends' CPU, on scenario 6's rows
rows = [("scenario", "users", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx", "srv cores") + (("db cores",) if dbcol else ()) + ("busy cores", "starved")]
label = dict(baseline="baseline: bare hyper GET", s1_compare="1. GET /user/, COMPARE_BIN", s1_get_small="1. GET /user/", s2_login_small="2. POST /login/",
             s3_get_flood="3. GET /user/ under flood", s3_flood="3. (the login flood)",
             s1_get_large="4. GET /user/", s2_login_large="4. POST /login/",
             s5_legit="5. legitimate logins", s5_legit_attacked="5. the same, under attack", s5_attack="5. (the attack, 429s)",
             j7_get="7. GET /user/, Bearer (JWT)", j7_verify="7. POST token/verify/", j7_refresh="7. POST token/refresh/, chained",
             p6_get="6. GET /user/, PostgreSQL", p6_get_nodes="6. GET /user/, PG, %s nodes × %s workers" % (E["PG_NODES"], E["WORKERS"]),
             p6_get_split="6. GET /user/, PG, %s nodes × %s workers" % (E["PG_NODES"], E["PG_SPLIT"]),
             p6_login="6. POST /login/, PostgreSQL")
for k in ORDER:
    if k not in s: continue
    w = s[k]
    errs = w["non2xx"] + w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"]
    users = {"baseline": "-", "s3_get_flood": E["USERS_SMALL"], "s3_flood": E["USERS_SMALL"]}.get(k, str(w.get("users", E["USERS_SMALL"])))
    rows.append((label[k], f"{int(users):,}" if users.isdigit() else users, str(w["connections"]), f"{w['rps']:,.1f}",
                 ms(w["p50_us"]), ms(w["p99_us"]), f"{w['non2xx']}" + (f" (+{errs - w['non2xx']} sock)" if errs > w["non2xx"] else ""),
                 f"{w['server_cores']:.2f}") + ((f"{w['db_cores']:.2f}" if w.get("db_cores") is not None else "-",) if dbcol else ()) +
                (f"{w['machine_busy_cores']:.2f}", "-" if w.get("starved_connections") is None else str(w["starved_connections"])))
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
if jw["ran"]:
    r, q, x = jw["ratios"], jw["refresh"], s["j7_refresh"]
    def f2(v): return "-" if v is None else f"{v:.2f}"
    print(f"JWT mode (scenario 7), {jw['users']:,} users: GET /user/ with a Bearer token {f2(r['get_bearer_vs_baseline'])}× the baseline, "
          f"{f2(r['get_bearer_vs_token'])}× token mode ({label[jw['token_mode_scenario']]}); token/verify/ {f2(r['verify_vs_baseline'])}× the baseline")
    print(f"  token/refresh/: {q['rotations_per_s']:,.1f} rotations/s over {jw['refresh_chains']} chains, "
          + (f"{q['cpu_per_refresh_us']:.0f} µs server CPU each, " if q["cpu_per_refresh_us"] is not None else "")
          + (f"in the server p50 {q['server_p50_ms']:.2f} ms, p99 {q['server_p99_ms']:.2f} ms, max {q['server_max_ms']:.1f} ms; "
             if q["server_200"] else "")
          + f"{q['rotated']} answers with a new refresh token, {q['not_rotated']} without, {q['refused']} refused "
          f"(the server answered {q['server_200']} 200s)"
          + ("" if q["chained"] else "; THE CHAINS BROKE: this is not the rotation rate"))
else:
    print(f"JWT mode (scenario 7): skipped, {jw['skipped']}")
if pg["ran"]:
    r = pg["ratios"]
    def f2(v): return "-" if v is None else f"{v:.2f}"
    def z(v): return 0.0 if abs(v) < 5e-4 else v  # no "-0.000" from subtracting the node's start
    print()
    print(f"PostgreSQL {pg['server_version']} at {pg['address']}, database {pg['database']} (dropped at exit), {pg['users']:,} users; "
          f"scenario 6 took {pg['seconds']} s")
    print(f"  PostgreSQL / SQLite, same run: GET /user/ {f2(r['get_pg_vs_sqlite'])} (req/s), login {f2(r['login_pg_vs_sqlite'])} (logins/s), "
          f"{f2(r['login_cpu_pg_vs_sqlite'])} (server CPU per login)")
    print(f"  GET /user/ on {pg['nodes']} nodes / on 1 node (total req/s): {f2(r['get_nodes_vs_1_node'])} ({E['WORKERS']} workers each)"
          + (f", {f2(r['get_nodes_split_vs_1_node'])} ({E['PG_SPLIT']} workers each)" if r["get_nodes_split_vs_1_node"] is not None else ""))
    for k, c in pg["cpu_per_get_us"].items():
        if c["postgres"] is None and k != "s1_get_small": continue
        print(f"  per GET /user/, {label[k][3:] if k != 's1_get_small' else 'GET /user/, SQLite'}: restauth CPU {c['restauth']:.1f} µs"
              + (f", PostgreSQL backends CPU {c['postgres']:.1f} µs, backends waiting for a CPU {c['postgres_runqueue_wait']:.1f} µs" if c["postgres"] is not None else ""))
    if s["p6_login"].get("cpu_per_login_s"):
        x = s["p6_login"]
        print(f"  server CPU per login on PostgreSQL: {x['cpu_per_login_s'] * 1000:.1f} ms over {x['logins']} logins"
              + (f"; PostgreSQL backends {x['db_cpu_per_login_s'] * 1000:.2f} ms per login" if x.get("db_cpu_per_login_s") is not None else ""))
    per = pg["per_request_pg_stat"]
    print("  per request, from pg_stat_database (node start/stop subtracted): " + "; ".join(
        f"{k.replace('_', ' ')}: {z(v['xact_commit']):.3f} transactions, {z(v['xact_rollback']):.3f} rolled back, {z(v['tup_returned']):.1f} rows returned"
        for k, v in per.items() if v["xact_commit"] is not None))
    for mode, w in pg["wire"].items():
        print(f"  round trips at the wire, {mode.replace('_', ' ')}: GET /user/ {w['get']['round_trips']:.2f} "
              f"({w['get']['requests']} requests), login {w['login']['round_trips']:.2f} ({w['login']['requests']} logins)"
              + ("; the stream was encrypted, nothing counted" if w["opaque"] else ""))
        for what in ("get", "login"):
            # the last request's round trips in order when every request made the same number, else the totals
            seq = w[what]["last_request"]
            items = [(1, q) for q in seq] if seq is not None else sorted(((n, q) for q, n in w[what]["statements"].items()), reverse=True)
            for i, (n, sql) in enumerate(items):
                print(f"      {what if i == 0 else '':5s} {n:5.2f} x  {sql[:110]}{'…' if len(sql) > 110 else ''}")
else:
    print(f"PostgreSQL (scenario 6): skipped, {pg['skipped']}")
print()
tw = max(len(t["name"]) for t in targets)
print("target".ljust(tw), "   value".rjust(13), "  target", "  result")
for t in targets:
    v = t.get("label", "no 2xx") if t["value"] is None else f"{t['value']:.{t.get('digits', 2)}f}"
    r = "n/a" if t["met"] is None else ("met" if t["met"] else "MISSED")
    print(t["name"].ljust(tw), v.rjust(13), t["target"].rjust(8), " ", r)
print()
print(f"machine: {E['NPROC']} CPUs, {E['MODEL']}, sha_ni {'yes' if E['SHA_NI'] == 'true' else 'no'}; load at start {E['LOAD_AT_START']}; "
      f"run took {E['TOTAL_S']} s (build {E['BUILD_S']} s, 1M seed {E['SEED_S']} s, PostgreSQL {E['PG_S']} s)")
print(f"JSON: {E['OUT']}")
EOF

# --- security figures (timings, so here and not in the tests) -------------------
if [ "${SKIP_SECURITY:-0}" != 1 ]; then
    bash "$ROOT/bench/security.sh"
fi
