#!/usr/bin/env bash
# Property-based check of the API against its own OpenAPI description: schemathesis sends
# thousands of generated requests (valid and not) and fails on any 5xx answer.
# Usage: .ci/schemathesis.sh [afterword-binary]   (default: target/debug/afterword)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/debug/afterword}"
command -v schemathesis >/dev/null 2>&1 || python3 -m pip install -q 'schemathesis>=4,<5'

TMP="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
cat >"$TMP/afterword.toml" <<CONF
listen = "127.0.0.1:$PORT"
database_url = "sqlite://$TMP/fuzz.db"
[[site]]
id = "default"
origins = ["*"]
[limits]
comments_per_ip_per_minute = 0
CONF
"$BIN" serve --config "$TMP/afterword.toml" 2>"$TMP/server.log" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

# A moderator's session, so the admin API is explored past its login check. Logging out
# would end it midway, and no generated current password is right: both are left out.
printf 'fuzz moderator password\n' | "$BIN" admin create fuzz --config "$TMP/afterword.toml" >/dev/null
LOGIN="$(curl -fsS -c "$TMP/jar" -H 'Content-Type: application/json' \
  -d '{"username":"fuzz","password":"fuzz moderator password"}' \
  "http://127.0.0.1:$PORT/api/v1/admin/login")"
CSRF="$(printf '%s' "$LOGIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')"
SESSION="$(awk '$6 == "afterword_session" { print $7 }' "$TMP/jar")"
[ -n "$CSRF" ] && [ -n "$SESSION" ]

# One worker: two took 156 s instead of 200 s alone, but no shorter CI run beside the
# tests (665 s, between two runs of one worker at 609 s and 711 s).
schemathesis run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --header "Cookie: afterword_session=$SESSION" \
  --header "X-CSRF-Token: $CSRF" \
  --exclude-path /api/v1/admin/logout \
  --exclude-path /api/v1/admin/password \
  --checks not_a_server_error \
  --max-examples 150 \
  --seed 20261127 \
  --no-color
# The server must still be up, and must not have logged a panic.
kill -0 "$PID"
! grep -q "panicked" "$TMP/server.log"
