// The TypeScript SDK (its compiled dist/) against a live Moat, run by tests/api-contract.sh:
// the seed's threat-feed example, every threat through cursor pagination, a domain created, a
// quarantined message released, a typed error, and a 429 waited out on a loopback server.
import assert from "node:assert/strict";
import http from "node:http";
import { Moat, MoatError } from "../dist/index.js";

const moat = new Moat(process.env.MOAT_API, process.env.MOAT_TOKEN);

const feed = await moat.threats.list({ severity: "critical", limit: 10 });
for (const t of feed.threats) console.log(t.type, t.from, t.action);

const every = [];
for await (const t of moat.threats.iter({ limit: 1 })) every.push(t);
assert.deepEqual(every.map((t) => t.type).sort(), ["policy", "spam"]);

const domain = await moat.domains.create({
  domain: "sdk-typescript.example",
  real_mx_host: process.env.MOAT_SINK,
});
assert.equal(domain.status, "pending_mx_verification");
assert.ok((await moat.domains.list()).some((d) => d.id === domain.id));

let held;
for await (const q of moat.quarantine.iter({ status: "quarantined", threat_type: "spam", limit: 1 })) {
  held = q;
  break;
}
assert.ok(held, "a quarantined spam message");
const released = await moat.quarantine.release(held.id);
assert.equal(released.status, "released");

await assert.rejects(moat.domains.get("no-such-domain"), (e) => {
  assert.ok(e instanceof MoatError);
  assert.equal(e.status, 404);
  assert.equal(e.code, "not_found");
  return true;
});

let calls = 0;
const server = http.createServer((req, res) => {
  calls += 1;
  if (calls === 1) {
    res.writeHead(429, { "Retry-After": "1", "Content-Type": "application/problem+json" });
    res.end('{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"slow down","code":"rate_limited"}');
  } else {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end('{"threats": []}');
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}`;
const started = Date.now();
assert.deepEqual((await new Moat(base, "moat_test_x").threats.list()).threats, []);
assert.equal(calls, 2);
assert.ok(Date.now() - started >= 1000);
calls = 0;
await assert.rejects(new Moat(base, "x", { maxRetries: 0 }).threats.list(), (e) => {
  assert.equal(e.status, 429);
  assert.equal(e.code, "rate_limited");
  assert.equal(e.retryAfter, 1);
  return true;
});
server.close();
console.log(`typescript sdk: ${every.length} threats over ${every.length} pages, domain created, 1 released, 404 typed, 429 retried`);
