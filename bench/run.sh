#!/usr/bin/env bash
# Ingestion benchmark of Errhound with the shared harness (../shared/bench): a corpus of real
# sentry-python envelopes (50 error sites + long tail), sent by `blast` over keep-alive
# connections, with the drain (events grouped and stored) measured through /metrics.
#
#   bench/run.sh [BATCHES] [CONCURRENCY]        default: 20 batches of 20 000 events, c16
#
# Writes results/raw/*.json (one per batch) and prints the per-batch table and the medians.
# Environment:
#   BENCH_HARNESS  the harness to copy (default ../shared/bench)
#   BENCH_WORK     scratch directory for the harness copy, its venv and corpus
#                  (default ~/.cache/errhound-bench)
#   BENCH_PORT     port for the server (default 9300)
#   BENCH_ALERTS   unset: the first start's rules as they are; `off`: no alert rules; `on`: the
#                  default rule plus a webhook rule to a receiver that is down (bench/alert_rules.py)
#   BENCH_DROP_INDEX  an index dropped right after start, to price what it costs ingest
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BATCHES=${1:-20}
CONCURRENCY=${2:-16}
HARNESS=${BENCH_HARNESS:-$ROOT/../shared/bench}
WORK=${BENCH_WORK:-$HOME/.cache/errhound-bench}
PORT=${BENCH_PORT:-9300}
H="$WORK/harness"
# Names the results of a variant apart, e.g. errhound-alerts-on-c16-b3.
VARIANT="errhound${BENCH_ALERTS:+-alerts-$BENCH_ALERTS}${BENCH_DROP_INDEX:+-without-$BENCH_DROP_INDEX}"

if [ ! -d "$H" ]; then
  mkdir -p "$WORK"
  cp -r "$HARNESS" "$H"
fi
if [ ! -x "$H/.venv/bin/python" ]; then
  python3 -m venv "$H/.venv"
  "$H/.venv/bin/pip" install --quiet -r "$H/requirements.txt"
fi
[ -x "$H/blast/target/release/blast" ] || (cd "$H/blast" && cargo build --release --quiet)
CORPUS="$H/corpus/c50k.jsonl.gz"
[ -f "$CORPUS" ] || "$H/.venv/bin/python" "$H/make_corpus.py" -n 50000 --seed 1 -o "$CORPUS"

cargo build --release --quiet -p errhound
RUN="$WORK/run"
rm -rf "$RUN"
mkdir -p "$RUN" "$ROOT/bench/results/raw"
# With alerting on, deliveries are due a second after their issue (not the default 30 s), so the
# sender works against the dead receiver during the batches rather than after them.
SERVER_ENV=(ERRHOUND_NOTIFY__ALLOW_PRIVATE_TARGETS=true)
[ -z "${BENCH_ALERTS:-}" ] || SERVER_ENV+=(ERRHOUND_NOTIFY__DIGEST_DELAY_S=1)
env "${SERVER_ENV[@]}" "$ROOT/target/release/errhound" serve --data-dir "$RUN/data" --bind "127.0.0.1:$PORT" >"$RUN/out.txt" 2>"$RUN/err.txt" &
echo $! >"$RUN/server.pid"
trap 'kill "$(cat "$RUN/server.pid")" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^DSN:' "$RUN/out.txt" 2>/dev/null && break; sleep 0.1; done
DSN=$(sed -n 's/^DSN: //p' "$RUN/out.txt")
if [ -n "${BENCH_ALERTS:-}" ]; then
  ADMIN=$(sed -n 's/^Login: \([^ ]*\).*/\1/p' "$RUN/out.txt")
  TOKEN=$("$ROOT/target/release/errhound" --data-dir "$RUN/data" token create --email "$ADMIN" --name bench | tail -1)
  # Nothing listens one port up: every webhook delivery is refused and retried.
  python3 "$ROOT/bench/alert_rules.py" "$BENCH_ALERTS" "http://127.0.0.1:$PORT" "$TOKEN" "http://127.0.0.1:$((PORT + 1))/hook"
fi
if [ -n "${BENCH_DROP_INDEX:-}" ]; then
  python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=30); c.execute('drop index ' + sys.argv[2]); c.commit()" "$RUN/data/errhound.db" "$BENCH_DROP_INDEX"
  echo "dropped index $BENCH_DROP_INDEX"
fi
METRIC="curl -s 127.0.0.1:$PORT/metrics | awk '/^NAME /{v=\$2} END{print v+0}'"
DB="$RUN/data/errhound.db"
DB_BYTES="python3 -c \"import sqlite3; c=sqlite3.connect('file:$DB?mode=ro', uri=True); print(c.execute('pragma page_count').fetchone()[0]*c.execute('pragma page_size').fetchone()[0])\""

for i in $(seq 1 "$BATCHES"); do
  offset=$(( (i - 1) * 20000 % 50000 ))
  "$H/.venv/bin/python" "$H/load.py" --corpus "$CORPUS" --dsn "$DSN" --count 20000 --offset "$offset" \
    --concurrency "$CONCURRENCY" --adapter command \
    --adapter-opt processed_cmd="${METRIC/NAME/errhound_events_processed_total}" \
    --adapter-opt groups_cmd="${METRIC/NAME/errhound_issues_created_total}" \
    --adapter-opt db_bytes_cmd="$DB_BYTES" \
    --adapter-opt pid_file="$RUN/server.pid" --adapter-opt storage="$RUN/data" \
    --label "$VARIANT-c$CONCURRENCY-b$i" --out "$ROOT/bench/results/raw/$VARIANT-c$CONCURRENCY-b$i.json" \
    | grep -E '^(send|drain|server):' | sed "s/^/[batch $i] /"
done

# Steady-state footprint: after the last batch, wait for the idle checkpoint and spool cleanup.
sleep 8
total_events=$(eval "${METRIC/NAME/errhound_events_processed_total}")
total_bytes=$(du -sb "$RUN/data" | cut -f1)
echo
echo "after $BATCHES batches: $total_events events, data directory $total_bytes bytes" \
  "($(( total_bytes / total_events )) B/event), issues $(eval "${METRIC/NAME/errhound_issues_created_total}")"
if [ -n "${BENCH_ALERTS:-}" ]; then
  # What alerting did meanwhile: the outbox by state and the attempts by plugin and outcome.
  curl -s "127.0.0.1:$PORT/metrics" | grep -E '^errhound_(outbox_deliveries|notification_deliveries_total|alert_jobs)' || true
fi
"$H/.venv/bin/python" "$H/summarize.py" --group-by "($VARIANT-c[0-9]+)" $(ls -1v "$ROOT"/bench/results/raw/"$VARIANT"-c"$CONCURRENCY"-b*.json)
