#!/usr/bin/env bash
# Server time of the web UI's issue list and issue detail (and the REST issue list) on a large
# project: 1 000 000 events in 10 000 issues, generated through the store's ingest write path by
# `crates/store/examples/gen_ui_data.rs`.
#
#   bench/ui.sh [REQUESTS]        default: 30 measured requests per page (after 3 warm-up ones)
#
# Prints a markdown table with the median and p95 of curl's time_total over loopback (keep-alive
# is not used: every request is a fresh connection, so the figures include the connect, well
# under a millisecond on loopback).
# Environment:
#   UI_BENCH_DIR     where the generated data directory is kept (default ~/.cache/errhound-ui-bench)
#   UI_BENCH_EVENTS  events to generate (default 1000000)
#   UI_BENCH_ISSUES  issues to generate (default 10000)
#   UI_BENCH_REGEN   1: generate the data again even if a copy exists (it is regenerated anyway
#                    when older than a day, since the data covers the 14 days before generation)
#   UI_BENCH_PORT    port for the server (default 9310)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REQUESTS=${1:-30}
WORK=${UI_BENCH_DIR:-$HOME/.cache/errhound-ui-bench}
EVENTS=${UI_BENCH_EVENTS:-1000000}
ISSUES=${UI_BENCH_ISSUES:-10000}
PORT=${UI_BENCH_PORT:-9310}
DATA="$WORK/data-$EVENTS-$ISSUES"
STAMP="$DATA/.generated"
EMAIL=admin@errhound.local
PASSWORD=ui-bench-password
BASE="http://127.0.0.1:$PORT"
BIN="$ROOT/target/release/errhound"

cargo build --release --quiet -p errhound
cargo build --release --quiet -p errhound-store --example gen_ui_data
mkdir -p "$WORK"

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap stop_server EXIT

start_server() {
  ERRHOUND_ADMIN_PASSWORD=$PASSWORD ERRHOUND_LOG__LEVEL=${ERRHOUND_LOG__LEVEL:-warn} \
    "$BIN" serve --data-dir "$DATA" --bind "127.0.0.1:$PORT" >"$WORK/out.txt" 2>"$WORK/err.txt" &
  SERVER_PID=$!
  for _ in $(seq 300); do
    curl -sf -o /dev/null "$BASE/_health" && return 0
    sleep 0.1
  done
  echo "server did not start; see $WORK/err.txt" >&2
  exit 1
}

if [ "${UI_BENCH_REGEN:-0}" = 1 ] || [ ! -f "$STAMP" ] ||
  [ $(($(date +%s) - $(cat "$STAMP"))) -gt 86400 ]; then
  rm -rf "$DATA"
  start_server # the first start creates the organization, the project and the admin
  stop_server
  started=$(date +%s)
  "$ROOT/target/release/examples/gen_ui_data" "$DATA" "$EVENTS" "$ISSUES"
  echo "generated in $(($(date +%s) - started)) s" >&2
  date +%s >"$STAMP"
fi

start_server
JAR="$WORK/cookies.txt"
rm -f "$JAR"
csrf=$(curl -s -c "$JAR" -b "$JAR" "$BASE/auth/login/" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -s -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf=$csrf" \
  --data-urlencode "email=$EMAIL" --data-urlencode "password=$PASSWORD" "$BASE/auth/login/"
TOKEN=$("$BIN" token create --data-dir "$DATA" --email "$EMAIL" 2>/dev/null | tail -1)

DB="$DATA/errhound.db"
sql() { python3 -c "import sqlite3,sys; c=sqlite3.connect('file:$DB?mode=ro', uri=True); print(c.execute(sys.argv[1]).fetchone()[0])" "$1"; }
PROJECT=$(sql "SELECT id FROM projects WHERE slug = 'default'")
HOT=$(sql "SELECT id FROM issues WHERE project_id = $PROJECT ORDER BY times_seen DESC LIMIT 1")
TAIL=$(sql "SELECT id FROM issues WHERE project_id = $PROJECT ORDER BY times_seen, id DESC LIMIT 1")
HOT_EVENTS=$(sql "SELECT times_seen FROM issues WHERE id = $HOT")
TAIL_EVENTS=$(sql "SELECT times_seen FROM issues WHERE id = $TAIL")
TOTAL=$(sql "SELECT COUNT(*) FROM events")
ISSUE_COUNT=$(sql "SELECT COUNT(*) FROM issues")
LIST="$BASE/organizations/errhound/issues/?project=$PROJECT"

get() { curl -s -b "$JAR" "$1"; }
# The next-page link of the list, and the previous-event link of the hottest issue's page.
PAGE2=$(get "$LIST" | grep -o 'href="[^"]*cursor=[0-9]*%3A[0-9]*%3A0[^"]*"' | head -1 | sed 's/^href="//; s/"$//; s/&#38;/\&/g; s/&amp;/\&/g' || true)
OLDER=$(get "$BASE/organizations/errhound/issues/$HOT/" | grep -o "href=\"/organizations/errhound/issues/$HOT/events/[0-9a-f]\{32\}/\"" | head -1 | sed 's/^href="//; s/"$//' || true)
[ -n "$PAGE2" ] || { echo "no page-2 link on the list" >&2; exit 1; }
[ -n "$OLDER" ] || { echo "no older-event link on the issue page" >&2; exit 1; }

measure() { # name url [header]
  local name=$1 url=$2 header=${3:-X-Bench: 1} status
  status=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" -H "$header" "$url")
  [ "$status" = 200 ] || { echo "$name: HTTP $status for $url" >&2; exit 1; }
  for _ in 1 2 3; do curl -s -o /dev/null -b "$JAR" -H "$header" "$url"; done
  for _ in $(seq "$REQUESTS"); do
    curl -s -o /dev/null -w '%{time_total}\n' -b "$JAR" -H "$header" "$url"
  done | sort -n | awk -v name="$name" '{ t[NR] = $1 * 1000 } END {
      m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
      p = t[int(NR * 0.95 + 0.999999)]
      printf "| %s | %.1f | %.1f |\n", name, m, p }'
}

echo
echo "Data: $TOTAL events, $ISSUE_COUNT issues in one project; hottest issue $HOT ($HOT_EVENTS events), tail issue $TAIL ($TAIL_EVENTS events); $REQUESTS requests per page."
echo
echo "| page | median ms | p95 ms |"
echo "| --- | ---: | ---: |"
measure "issue list, default (unresolved, last seen, 14 days)" "$LIST"
measure "issue list, sorted by events" "$LIST&sort=freq"
measure "issue list, sorted by first seen" "$LIST&sort=new"
measure "issue list, sorted by users" "$LIST&sort=user"
measure "issue list, tag search \`feature:cart\`" "$LIST&query=is%3Aunresolved%20feature%3Acart"
measure "issue list, tag search \`environment:development\` + rare \`customer:customer-t\`" "$LIST&query=is%3Aunresolved%20customer%3Acustomer-t%20environment%3Adevelopment"
measure "issue list, free text \`TimeoutError\`" "$LIST&query=is%3Aunresolved%20TimeoutError"
measure "issue list, page 2 (cursor)" "$BASE$PAGE2"
measure "issue detail, hottest issue ($HOT_EVENTS events)" "$BASE/organizations/errhound/issues/$HOT/"
measure "issue detail, tail issue ($TAIL_EVENTS events)" "$BASE/organizations/errhound/issues/$TAIL/"
measure "issue detail, older event of the hottest issue" "$BASE$OLDER"
measure "issue detail, oldest event of the hottest issue" "$BASE/organizations/errhound/issues/$HOT/events/oldest/"
measure "REST API issue list (\`/api/0/projects/.../issues/\`)" "$BASE/api/0/projects/errhound/default/issues/" "Authorization: Bearer $TOKEN"
measure "REST API issue list, sorted by events" "$BASE/api/0/projects/errhound/default/issues/?sort=freq" "Authorization: Bearer $TOKEN"
