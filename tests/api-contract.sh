#!/usr/bin/env bash
# The API against its own OpenAPI document, with real outside tools (run by tests/run.sh after
# `cargo test`, so target/debug/moat is built):
#   1. starts `moat up` on loopback in a temporary directory and seeds it over real SMTP and HTTP
#      (a domain, the crypto policy, three messages: one clean, one policy hit, one GTUBE);
#   2. generates a Python client from /v1/openapi.json with openapi-python-client (PyPI) and
#      lists the threat feed with it, checking the entries against what was sent;
#   3. checks that sdk/openapi.json and the SDKs' generated layers are current, builds the
#      TypeScript SDK and runs each SDK's smoke script (sdk/*/examples) against the live API;
#   4. runs schemathesis (PyPI) over every operation (examples, coverage, fuzzing, stateful
#      links) with every check except positive_data_acceptance (see below); any 5xx, any answer
#      that breaks the schema, an undocumented status code or a missing 405 fails the run.
# It writes target/conformance/api-contract.txt. The Python tools live in a venv under target/.
#
# positive_data_acceptance is left out on purpose: it expects every schema-valid body to be
# accepted, but some rules are semantic and stay in code (a domain name must be a domain name, a
# regular expression must compile, an expiry must be in the future), answered with 422.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/api-contract-venv
if [ ! -x "$venv/bin/st" ] || [ ! -x "$venv/bin/openapi-python-client" ]; then
  python3 -m venv "$venv" 2>/dev/null || {
    ./deploy/install-packages.sh python3-venv
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis==4.*' 'openapi-python-client==0.*'
fi

work=$(mktemp -d)
moat_pid=""
sink_pid=""
cleanup() {
  if [ -n "$moat_pid" ]; then kill "$moat_pid" 2>/dev/null || true; wait "$moat_pid" 2>/dev/null || true; fi
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; fi
  if [ -n "${KEEP_CONTRACT_LOG:-}" ]; then cp "$work/schemathesis.log" target/schemathesis.log; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
smtp_port=$(free_port)
api_port=$(free_port)
cat >"$work/moat.toml" <<EOF
data_dir = "$work/data"
hostname = "moat.localhost"
[smtp]
listen = "127.0.0.1:$smtp_port"
[api]
listen = "127.0.0.1:$api_port"
# The fuzzer sends thousands of requests; the limiter itself has its own tests.
rate_limit_per_hour = 10000000
rate_limit_per_minute = 10000000
auth_failures_per_minute = 10000000
[dns]
static_zone = "$work/zone"
[relay]
# The sink below is the customers' real server, on loopback.
allow_internal_targets = ["127.0.0.0/8"]
[spamassassin]
# Compiled once per checkout, shared with the other tests.
cache_dir = "$PWD/target/sa-cache"
EOF
printf 'acme.example MX 10 moat.localhost\n' >"$work/zone"
# The customers' real mail server: a small SMTP sink on loopback, so releases are delivered.
sink_port=$(free_port)
python3 - "$sink_port" >"$work/sink.log" 2>&1 <<'PY' &
import socketserver, sys

class Sink(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 sink ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                while (l := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    pass
                self.wfile.write(b"250 2.0.0 taken\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            elif verb == b"EHLO":
                self.wfile.write(b"250-sink\r\n250 8BITMIME\r\n")
            else:
                self.wfile.write(b"250 ok\r\n")

socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
sink_pid=$!
moat=target/debug/moat
token=$($moat --config "$work/moat.toml" token create --customer acme)
$moat --config "$work/moat.toml" up >"$work/moat.log" 2>&1 &
moat_pid=$!
base="http://127.0.0.1:$api_port"
for _ in $(seq 150); do
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$base/api/v1/openapi" 2>/dev/null && break
  sleep 0.2
done

MOAT_API="$base" MOAT_TOKEN="$token" MOAT_SMTP_PORT="$smtp_port" MOAT_SINK="127.0.0.1:$sink_port" \
  MOAT_ZONE="$work/zone" python3 - <<'PY'
"""Seeds the running Moat: a domain (verified through the static zone), the crypto policy, and
three messages over SMTP."""
import json, os, smtplib, time, urllib.request

base, token = os.environ["MOAT_API"], os.environ["MOAT_TOKEN"]

def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)

domain = call("POST", "/v1/domains", {"domain": "acme.example", "real_mx_host": os.environ["MOAT_SINK"], "delivery_mode": "spool"})
assert domain["status"] == "pending_mx_verification", domain
# Ownership: the verification TXT record, published in the static zone.
record = domain["verification_record"]
with open(os.environ["MOAT_ZONE"], "a") as zone:
    zone.write(f'{record["name"]} TXT "{record["value"]}"\n')
verified = call("POST", f"/v1/domains/{domain['id']}/verify")
assert verified["verified"] and verified["domain"]["status"] == "active", verified
call("POST", "/v1/policies", {"name": "crypto", "condition": {"subject_contains": ["bitcoin", "crypto wallet"]}, "action": "quarantine"})
time.sleep(2.5)  # the scanner picks the policy up at its next reload
gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
messages = [
    ("Lunch on Friday", "Shall we meet at noon?"),
    ("Claim your free Bitcoin today", "Send us your crypto wallet seed."),
    ("Hello", gtube),
]
with smtplib.SMTP("127.0.0.1", int(os.environ["MOAT_SMTP_PORT"]), timeout=30) as s:
    for i, (subject, body) in enumerate(messages):
        msg = (f"From: Mallory <mallory@sender.test>\r\nTo: ceo@acme.example\r\nSubject: {subject}\r\n"
               f"Date: Mon, 23 Nov 2026 10:00:0{i} +0000\r\nMessage-ID: <contract-{i}@sender.test>\r\n\r\n{body}\r\n")
        s.sendmail("mallory@sender.test", ["ceo@acme.example"], msg)
for _ in range(100):
    if len(call("GET", "/v1/verdicts")["data"]) >= 3:
        break
    time.sleep(0.2)
PY

# 2. A generated Python client lists the threat feed.
rm -rf "$work/client"
"$venv/bin/openapi-python-client" generate --url "$base/v1/openapi.json" --output-path "$work/client" \
  --overwrite >"$work/generate.log" 2>&1 || { cat "$work/generate.log"; exit 1; }
client_out=$(PYTHONPATH="$work/client" MOAT_API="$base" MOAT_TOKEN="$token" "$venv/bin/python" - <<'PY'
import os
from moat_api_client import AuthenticatedClient
from moat_api_client.api.threats import list_threats
from moat_api_client.models import ThreatFeed

client = AuthenticatedClient(base_url=os.environ["MOAT_API"], token=os.environ["MOAT_TOKEN"])
feed = list_threats.sync(client=client)
assert isinstance(feed, ThreatFeed), feed
kinds = sorted(t.type_.value for t in feed.threats)
assert kinds == ["policy", "spam"], kinds
for t in feed.threats:
    assert t.from_ == "mallory@sender.test" and t.target == "ceo@acme.example", t
    assert t.action.value == "quarantined", t
    print(f"{t.id} {t.type_.value} {t.severity.value} {t.from_} -> {t.target} {t.detected_at.isoformat()} {t.action.value}")
spam_only = list_threats.sync(client=client, type_=feed.threats[0].type_, limit=1)
assert len(spam_only.threats) == 1
PY
)
echo "$client_out"

# 3. The SDKs (sdk/): the committed document and generated layers are what this build
# produces, then each SDK's smoke script runs against the live API (list threats through
# cursors, create a domain, release a quarantined message, a typed 404, a 429 retried).
./target/debug/moat openapi | diff -u sdk/openapi.json - >"$work/openapi.diff" || {
  echo "sdk/openapi.json is stale: run \`moat openapi > sdk/openapi.json\` and sdk/generate.sh"
  head -n 40 "$work/openapi.diff"; exit 1; }
"$venv/bin/openapi-python-client" generate --path sdk/openapi.json --output-path "$work/py-api" \
  --meta none >/dev/null 2>&1
diff -r -x __pycache__ sdk/python/moat/_api "$work/py-api" >/dev/null || {
  echo "sdk/python/moat/_api is stale: run sdk/generate.sh"; exit 1; }
command -v npm >/dev/null || ./deploy/install-packages.sh npm
(cd sdk/typescript && npm ci --no-audit --no-fund --silent &&
  npx openapi-typescript ../openapi.json -o "$work/schema.ts" >/dev/null 2>&1 &&
  diff -q src/schema.ts "$work/schema.ts" >/dev/null &&
  npx tsc -p .) || { echo "the TypeScript SDK does not build, or src/schema.ts is stale"; exit 1; }
sdk_env=(MOAT_API="$base" MOAT_TOKEN="$token" MOAT_SINK="127.0.0.1:$sink_port")
py_sdk=$(env "${sdk_env[@]}" "$venv/bin/python" sdk/python/examples/smoke.py | tail -n 1)
ts_sdk=$(env "${sdk_env[@]}" node sdk/typescript/examples/smoke.mjs | tail -n 1)
echo "$py_sdk"; echo "$ts_sdk"

# 4. schemathesis over the whole API.
set +e
"$venv/bin/st" run "$base/v1/openapi.json" --url "$base" -H "Authorization: Bearer $token" \
  --checks all --exclude-checks positive_data_acceptance --max-examples 40 \
  --seed 20261123 --no-color >"$work/schemathesis.log" 2>&1
st_status=$?
set -e
tail -n 25 "$work/schemathesis.log"
mkdir -p target/conformance
summary=$(grep -E '^\s+[0-9]+ generated' "$work/schemathesis.log" | tr -s ' ' | sed 's/^ //')
{
  echo "api-contract: python client listed $(echo "$client_out" | grep -c .) threats; schemathesis: ${summary:-no summary} (exit $st_status)"
  echo "sdk: $py_sdk"
  echo "sdk: $ts_sdk"
} >target/conformance/api-contract.txt
if ! kill -0 "$moat_pid" 2>/dev/null; then
  echo "moat died during the run"; tail -n 50 "$work/moat.log"; exit 1
fi
if [ "$st_status" -ne 0 ]; then
  grep -v '^\s*$' "$work/schemathesis.log" | head -n 200
  exit "$st_status"
fi
