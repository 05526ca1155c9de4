#!/usr/bin/env bash
# Runs Errhound's whole test suite on this machine:
#   formatting and lints, unit tests, the store suite on SQLite and on a real PostgreSQL,
#   and end-to-end tests that start `errhound serve` and send events with the official
#   Python, Node and Rust SDKs.
#
# It installs what the tests need into the repository (target/sdk-venv, tests/sdk/node/node_modules,
# tests/sdk/rust/target, tests/idp/node_modules) and starts a throwaway PostgreSQL on 127.0.0.1
# unless TEST_POSTGRES_URL names one, and one test OpenID provider for the whole run (its log:
# target/test-idp.log). Needs: cargo (Rust 1.95), python3 with venv, node + npm, PostgreSQL server
# binaries.
#
# Environment:
#   TEST_POSTGRES_URL   use this PostgreSQL (admin URL) instead of starting one
#   TEST_OIDC_ISSUER  use this running test IdP (tests/idp/oidc.mjs) instead of starting one
#   FUZZ_SECONDS        also run each fuzz target this long (default 0 = skip; CI sets it)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export NO_PROXY=127.0.0.1,localhost
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy || true

step() { printf '\n==> %s\n' "$*"; }

step "Python SDK (sentry-sdk) and the SMTP sink (aiosmtpd) into target/sdk-venv"
if [ ! -x target/sdk-venv/bin/python ]; then
  mkdir -p target
  python3 -m venv target/sdk-venv
fi
target/sdk-venv/bin/pip install --quiet --disable-pip-version-check -r tests/sdk/python/requirements.txt
export SDK_PYTHON="$ROOT/target/sdk-venv/bin/python"

step "Node SDK (@sentry/node) into tests/sdk/node/node_modules"
(cd tests/sdk/node && npm ci --no-audit --no-fund --loglevel=error)
export SDK_NODE_DIR="$ROOT/tests/sdk/node"

step "Browser tests (playwright-core, Debian chromium) into tests/ui/node_modules"
(cd tests/ui && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
export UI_TESTS_DIR="$ROOT/tests/ui"

step "sentry-cli (npm @sentry/cli) into tests/cli/node_modules"
(cd tests/cli && npm ci --no-audit --no-fund --loglevel=error)
export SENTRY_CLI="$ROOT/tests/cli/node_modules/.bin/sentry-cli"

step "Test OpenID provider (oidc-provider) into tests/idp/node_modules"
(cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)

step "Rust SDK (sentry crate) sender"
(cd tests/sdk/rust && cargo build --quiet)
export SDK_RUST_SENDER="$ROOT/tests/sdk/rust/target/debug/errhound-sdk-rust-sender"

PG_DIR=""
IDP_DIR=""
IDP_PID=""
cleanup() {
  stop_idp
  stop_postgres
}
trap cleanup EXIT
stop_idp() {
  if [ -n "$IDP_PID" ]; then
    kill "$IDP_PID" 2>/dev/null || true
    wait "$IDP_PID" 2>/dev/null || true
  fi
  [ -z "$IDP_DIR" ] || rm -rf "$IDP_DIR"
}
stop_postgres() {
  if [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ]; then
    run_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
run_as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ -z "${TEST_POSTGRES_URL:-}" ]; then
  step "PostgreSQL on 127.0.0.1 (throwaway cluster)"
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$PG_BIN" ]; then
    echo "PostgreSQL server binaries not found (install the 'postgresql' package) or set TEST_POSTGRES_URL" >&2
    exit 1
  fi
  PG_DIR=$(mktemp -d /tmp/errhound-test-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  run_as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 >/dev/null
  run_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=300" start >/dev/null
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
fi

if [ -z "${TEST_OIDC_ISSUER:-}" ]; then
  step "test OpenID provider on 127.0.0.1 (tests/idp/oidc.mjs, log in target/test-idp.log)"
  IDP_DIR=$(mktemp -d /tmp/errhound-test-idp.XXXXXX)
  # Its stdin is a pipe this script holds open (fd 9): it exits when the script does, however
  # the script ends; the EXIT trap stops it as well.
  mkfifo "$IDP_DIR/stdin"
  node tests/idp/oidc.mjs --port 0 <"$IDP_DIR/stdin" >"$IDP_DIR/ready" 2>target/test-idp.log &
  IDP_PID=$!
  exec 9>"$IDP_DIR/stdin"
  for _ in $(seq 1 300); do
    grep -q '"issuer"' "$IDP_DIR/ready" && break
    kill -0 "$IDP_PID" 2>/dev/null || { cat target/test-idp.log >&2; echo "the test IdP exited" >&2; exit 1; }
    sleep 0.1
  done
  TEST_OIDC_ISSUER=$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$IDP_DIR/ready")
  if [ -z "$TEST_OIDC_ISSUER" ]; then
    echo "the test IdP did not print its issuer within 30 s (target/test-idp.log)" >&2
    exit 1
  fi
  export TEST_OIDC_ISSUER
  echo "issuer $TEST_OIDC_ISSUER"
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "tests (SQLite, PostgreSQL at $TEST_POSTGRES_URL, end-to-end with real SDKs)"
# A snapshot (insta) that is missing or differs fails the run and nothing is written: new
# snapshots are reviewed and committed, never created by the test run.
export INSTA_UPDATE="${INSTA_UPDATE:-no}"
# nextest, never plain `cargo test`: .config/nextest.toml gives the memory-measuring tests the
# machine to themselves and the browser tests a second core.
if ! cargo nextest --version >/dev/null 2>&1; then
  step "cargo-nextest (not found: building it from crates.io)"
  cargo install --locked cargo-nextest
fi
cargo nextest run --workspace --no-fail-fast

if [ "${FUZZ_SECONDS:-0}" != 0 ]; then
  step "fuzz smoke run (${FUZZ_SECONDS}s per target)"
  ./fuzz/smoke.sh "$FUZZ_SECONDS"
fi

step "all tests passed"
