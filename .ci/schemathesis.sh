#!/usr/bin/env bash
# Schemathesis (property-based API testing, from PyPI) against the release binary
# and the OpenAPI document it serves at P/schema/: a bounded number of generated
# requests per operation, checking that no answer is a 5xx and that every answer
# matches the document.
#
# Everything stays on loopback: restauth listens on 127.0.0.1 (a free port), and
# Facebook and Twitter are a small local stand-in (so the social endpoints run
# their whole path: 200, provider refusals, e-mail clashes) instead of the real
# providers. Throttling is turned off for the run (RESTAUTH_THROTTLE_ENABLED=false):
# with it on, nearly every generated request would stop at the 429 and the
# endpoints behind it would go untested; the throttle has its own tests.
#
# Knobs (environment): SCHEMATHESIS_MAX_EXAMPLES (default 30 per operation),
# SCHEMATHESIS_SEED (default: random; the seed is printed for reproduction),
# RESTAUTH_BIN (a binary to test instead of building the release one),
# SCHEMATHESIS_KEEP_WORK=1 (keep the temporary directory with the server log).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-30}"
SEED="${SCHEMATHESIS_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
CHECKS=not_a_server_error,response_schema_conformance
started=$(date +%s)

tmp_root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
work=$(mktemp -d "$tmp_root/restauth-schemathesis.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "${SCHEMATHESIS_KEEP_WORK:-}" ]; then
        echo "kept $work (server.log, provider and schemathesis output)"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Schemathesis in a venv, kept between runs on the same machine ----------
python=$(command -v python3.11 || command -v python3 || true)
if [ -z "$python" ]; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv
    python=$(command -v python3)
fi
venv="$tmp_root/restauth-ci-venvs/schemathesis-$SCHEMATHESIS_VERSION"
if [ ! -x "$venv/bin/schemathesis" ] || \
   [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    echo "== installing schemathesis $SCHEMATHESIS_VERSION"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! "$python" -m venv "$venv" 2>/dev/null; then
        rm -rf "$venv"
        apt-get update -qq && apt-get install -y -qq python3-venv
        "$python" -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$venv/bin/schemathesis" --version

# --- The release binary ------------------------------------------------------
if [ -n "${RESTAUTH_BIN:-}" ]; then
    bin="$RESTAUTH_BIN"
else
    # The shipped release profile (no LTO, parallel codegen: see Cargo.toml).
    echo "== cargo build --release --bin restauth"
    cargo build --release --bin restauth
    target_dir=$(cargo metadata --format-version 1 --no-deps \
        | "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    bin="$target_dir/release/restauth"
fi

# --- A stand-in for Facebook's Graph API and Twitter's verify_credentials ----
# Deterministic per token: about a quarter are refused, the rest are profiles
# whose ids derive from the token (half of them with an e-mail address).
cat > "$work/provider.py" <<'PY'
import hashlib, json, re, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def digest(token):
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()

class Provider(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def profile(self, prefix, token):
        h = digest(token)
        if int(h[0], 16) % 4 == 0:
            return None
        p = {"name": f"Fuzz {h[:6]}", "first_name": "Fuzz", "last_name": h[:6]}
        if int(h[1], 16) % 2 == 0:
            p["email"] = f"{prefix}-{h[:8]}@example.com"
        return h, p

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path.endswith("/oauth/access_token"):
            code = query.get("code", "")
            if int(digest(code)[0], 16) % 4 == 0:
                return self.answer(400, {"error": {"message": "Invalid verification code format."}})
            return self.answer(200, {"access_token": "fb-" + digest(code)[:16], "token_type": "bearer"})
        if url.path.endswith("/me"):
            found = self.profile("fb", query.get("access_token", ""))
            if found is None:
                return self.answer(400, {"error": {"message": "Invalid OAuth access token."}})
            h, p = found
            return self.answer(200, {"id": "fb" + h[:12], **p})
        if url.path.endswith("/1.1/account/verify_credentials.json"):
            header = self.headers.get("Authorization", "")
            m = re.search(r'oauth_token="([^"]*)"', header)
            found = self.profile("tw", urllib.parse.unquote(m.group(1)) if m else "")
            if found is None:
                return self.answer(401, {"errors": [{"code": 89, "message": "Invalid or expired token."}]})
            h, p = found
            return self.answer(200, {"id_str": "tw" + h[:12], "screen_name": "fuzz_" + h[:8], **p})
        self.answer(404, {"error": "not found"})

server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
PY
"$python" "$work/provider.py" "$work/provider.port" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/provider.port" ] && break; sleep 0.1; done
provider="http://127.0.0.1:$(cat "$work/provider.port")"

# --- One backend and auth mode: the server, Schemathesis, the summary -----------
# Token mode against SQLite, then JWT mode against PostgreSQL when
# RESTAUTH_TEST_POSTGRES_URL names a server (as .ci/run exports it), else JWT
# mode against SQLite too: both modes and both backends in two runs. Each run
# has a directory of its own.
run_backend() {
local backend=$1 mode=$2
local dir="$work/$backend-$mode"
mkdir -p "$dir"
echo "== backend: $backend, auth.mode = $mode"
# --- The server ----------------------------------------------------------------
cat > "$dir/auth.toml" <<TOML
[server]
bind = "127.0.0.1:0"

[database]
path = "$dir/restauth.sqlite3"

[security]
password_iterations = 1000

[auth]
mode = "$mode"

[jwt]
# Outlives the run: the one access token authenticates every request.
access_lifetime = "1d"

[mail]
spool_dir = "$dir/mail"

[social.facebook]
app_id = "schemathesis"
app_secret = "schemathesis-secret"
graph_url = "$provider"
callback_url = "http://localhost:8000/fb-callback"
timeout = "5s"

[social.twitter]
consumer_key = "schemathesis"
consumer_secret = "schemathesis-secret"
api_url = "$provider"
timeout = "5s"
TOML
export RESTAUTH_THROTTLE_ENABLED=false
if [ "$backend" = postgres ]; then
    # A database of its own on the test server, and the secret every node needs there.
    db=restauth_schemathesis
    admin="$RESTAUTH_TEST_POSTGRES_URL"
    psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    export RESTAUTH_DATABASE_URL="${admin%%\?*}"
    RESTAUTH_DATABASE_URL="${RESTAUTH_DATABASE_URL%/*}/$db?${admin#*\?}"
    export RESTAUTH_SECURITY_SECRET_KEY="schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
else
    unset RESTAUTH_DATABASE_URL RESTAUTH_SECURITY_SECRET_KEY
fi
"$bin" --config "$dir/auth.toml" serve 2> "$dir/server.log" &
pids+=($!)
server_pid=$!
addr=""
for _ in $(seq 300); do
    addr=$(sed -n 's|^.* restauth: listening on http://||p' "$dir/server.log" | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$addr" ]; then
    echo "restauth did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
fi
base="http://$addr/rest-auth"
echo "== restauth listening on $base"

# A user (e-mail verified by the CLI) and a token (a key, or a JWT access token)
# for the operations behind one.
password="schemathesis-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$password" | "$bin" --config "$dir/auth.toml" user create \
    --username schemathesis --email schemathesis@example.com --password-stdin --skip-validation
token=$("$python" - "$base/login/" "$password" <<'PY'
import json, sys, urllib.request
body = json.dumps({"username": "schemathesis", "password": sys.argv[2]}).encode()
req = urllib.request.Request(sys.argv[1], data=body, headers={"Content-Type": "application/json"})
answer = json.load(urllib.request.urlopen(req, timeout=30))
print("Token " + answer["key"] if "key" in answer else "Bearer " + answer["access"])
PY
)

# --- Schemathesis --------------------------------------------------------------
# Two runs with the same token: everything but `POST /logout/`, then that one
# (it revokes the token, so it must come last).
status=0
cd "$dir"   # Schemathesis keeps local state in the working directory
run() {
    local name=$1
    shift
    echo "== schemathesis ($name): --max-examples $MAX_EXAMPLES --seed $SEED --checks $CHECKS"
    "$venv/bin/schemathesis" run "$base/schema/" \
        --header "Authorization: $token" \
        --checks "$CHECKS" \
        --max-examples "$MAX_EXAMPLES" \
        --seed "$SEED" \
        --request-timeout 30 \
        --no-color \
        --generation-database none \
        "$@" 2>&1 | tee "$dir/$name.out" || status=1
}
# /health is outside the prefix (a path-level server "/"), covered by tests/health.rs.
run main --exclude-operation-id logout --exclude-operation-id health
run logout --include-operation-id logout

# --- Summary -------------------------------------------------------------------
"$python" - "$dir" "$(( $(date +%s) - started ))" "$status" "$backend, $mode mode" <<'PY'
import collections, re, sys
work, seconds, status, backend = sys.argv[1:5]
generated, outcomes = 0, []
for name in ("main", "logout"):
    try:
        text = open(f"{work}/{name}.out", encoding="utf-8", errors="replace").read()
    except OSError:
        outcomes.append(f"{name}: no output")
        continue
    m = re.search(r"^Test cases:\s*\n\s*(\d+) generated, (.*)$", text, re.M)
    if m:
        generated += int(m.group(1))
        outcomes.append(f"{name}: {m.group(1)} generated, {m.group(2).strip()}")
    else:
        outcomes.append(f"{name}: no test-case count")
codes = collections.Counter()
per_route = collections.defaultdict(collections.Counter)
line = re.compile(r"^\d{4}-\d\d-\d\dT[\d:]{8}Z ([A-Z]+) (\S+) (\d{3}) ")
for l in open(f"{work}/server.log", encoding="utf-8", errors="replace"):
    m = line.match(l)
    if m:
        method, path, code = m.groups()
        codes[code] += 1
        # Group /socialaccounts/<id>/disconnect/ and the like under one key.
        path = re.sub(r"/socialaccounts/[^/]+/disconnect", "/socialaccounts/{id}/disconnect", path)
        per_route[(method, path.rstrip("/") + "/")][code] += 1
print("responses per route (method path: status×count):")
for (method, path), c in sorted(per_route.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    if sum(c.values()) >= 5:
        print(f"  {method} {path}: " + " ".join(f"{k}×{v}" for k, v in sorted(c.items())))
by_status = ", ".join(f"{k}: {v}" for k, v in sorted(codes.items()))
print(f"schemathesis summary ({backend}): {generated} test cases ({'; '.join(outcomes)}); "
      f"server answered {sum(codes.values())} requests ({by_status}); "
      f"exit status {status}; {seconds} s in all")
PY
if [ "$status" -ne 0 ]; then
    echo "schemathesis found failures on $backend (seed $SEED); server messages other than request lines:" >&2
    grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z [A-Z]+ ' "$dir/server.log" | tail -n 50 >&2 || true
fi
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
cd "$work"
[ "$status" -eq 0 ] || overall=1
}

overall=0
run_backend sqlite token
if [ -n "${RESTAUTH_TEST_POSTGRES_URL:-}" ]; then
    run_backend postgres jwt
else
    echo "== Schemathesis on PostgreSQL skipped: RESTAUTH_TEST_POSTGRES_URL is not set; JWT mode on SQLite"
    run_backend sqlite jwt
fi
exit "$overall"
