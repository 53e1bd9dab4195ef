#!/usr/bin/env bash
# README's run command in CI: `./deploy/quickstart.sh` as written (it installs what it needs,
# builds the release binary, compiles SpamAssassin's rules and runs `moat up`), then README's
# "First steps once it runs" block, taken from README.md and run by bash against it. Only the
# ports differ (MOAT_CONFIG names a config on free loopback ports, as the quick start allows),
# so a machine that already uses 2525 or 8080 does not fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
smtp=$(free_port)
api=$(free_port)
cat >"$work/moat.toml" <<TOML
data_dir = "$work/data"
[smtp]
listen = "127.0.0.1:$smtp"
[api]
listen = "127.0.0.1:$api"
TOML
export MOAT_CONFIG="$work/moat.toml"
./deploy/quickstart.sh >"$work/quickstart.log" 2>&1 &
pid=$!
for _ in $(seq 1800); do
  if curl -fsS "http://127.0.0.1:$api/v1/openapi.json" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "deploy/quickstart.sh stopped before Moat answered:"; tail -n 40 "$work/quickstart.log"; exit 1
  fi
  sleep 1
done
curl -fsS "http://127.0.0.1:$api/v1/openapi.json" >/dev/null || {
  echo "Moat did not answer within 30 minutes"; tail -n 40 "$work/quickstart.log"; exit 1; }
block=$(awk '/^## First steps once it runs/ {f=1; next} f && /^```sh$/ {c=1; next} c && /^```$/ {exit} c {print}' README.md)
[ -n "$block" ] || { echo "README.md has no first-steps block"; exit 1; }
block=${block//127.0.0.1:2525/127.0.0.1:$smtp}
block=${block//127.0.0.1:8080/127.0.0.1:$api}
out=$(cd "$work" && ln -s "$OLDPWD/target" target && bash -euo pipefail -c "$block" 2>&1) || {
  echo "README's first steps failed:"; echo "$out"; tail -n 40 "$work/quickstart.log"; exit 1; }
echo "$out" | grep -q '"crypto"' || { echo "the policy was not created: $out"; exit 1; }
echo "$out" | grep -q '2 messages:' || { echo "moat check --summary did not run: $out"; exit 1; }
# The message swaks sent is held by the new policy.
for _ in $(seq 100); do
  if ./target/release/moat quarantine list --customer acme | grep -q 'free bitcoin'; then
    echo "quickstart: deploy/quickstart.sh ran Moat; README's first steps passed against it"
    exit 0
  fi
  sleep 0.2
done
echo "the swaks message is not in quarantine"; ./target/release/moat quarantine list --customer acme; exit 1
