"""The Python SDK against a live Moat (run by tests/api-contract.sh): the seed's threat-feed
example, every threat through cursor pagination, a domain created, a quarantined message
released, a typed error, and a 429 waited out on a loopback server that asks for it."""
import http.server
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from moat import Moat, MoatError  # noqa: E402

client = Moat(os.environ["MOAT_API"], token=os.environ["MOAT_TOKEN"])

# The seed's example, with Moat's names (type_, from_).
for threat in client.threats.list(severity="critical", limit=10).threats:
    print(threat.type_.value, threat.from_, threat.action.value)

every = list(client.threats.iter(limit=1))  # one per page: the cursor is followed
assert sorted(t.type_.value for t in every) == ["policy", "spam"], every

domain = client.domains.create("sdk-python.example", real_mx_host=os.environ["MOAT_SINK"])
assert domain.status.value == "pending_mx_verification", domain
assert any(d.id == domain.id for d in client.domains.list())

held = next(client.quarantine.iter(status="quarantined", threat_type="policy", limit=1))
released = client.quarantine.release(held.id)
assert released.status.value == "released", released

try:
    client.domains.get("no-such-domain")
    raise AssertionError("a missing domain must raise")
except MoatError as e:
    assert (e.status, e.code) == (404, "not_found"), e


class Limited(http.server.BaseHTTPRequestHandler):
    calls = 0

    def do_GET(self):
        Limited.calls += 1
        if Limited.calls == 1:
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/problem+json")
            body = b'{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"slow down","code":"rate_limited"}'
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            body = b'{"threats": []}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Limited)
threading.Thread(target=server.serve_forever, daemon=True).start()
started = time.monotonic()
feed = Moat(f"http://127.0.0.1:{server.server_port}", token="moat_test_x").threats.list()
assert feed.threats == [] and Limited.calls == 2 and time.monotonic() - started >= 1.0
Limited.calls = 0
try:
    Moat(f"http://127.0.0.1:{server.server_port}", token="x", max_retries=0).threats.list()
    raise AssertionError("429 without retries must raise")
except MoatError as e:
    assert (e.status, e.code, e.retry_after) == (429, "rate_limited", 1.0), e
server.shutdown()
print(f"python sdk: {len(every)} threats over {len(every)} pages, domain created, 1 released, 404 typed, 429 retried")
