#!/usr/bin/env python3
"""Side-by-side benchmark: Moat against Postfix's smtp-sink, Rspamd and SpamAssassin.

A fair side-by-side protocol on one machine, loopback only:

1. one generated corpus (moat-corpus: DKIM-signed RSA/Ed25519/both/unsigned, some broken), its
   SPF/DKIM/DMARC records served by dnsmasq, and one policy set (2 500 literals + 20 regexes)
   given to every engine in its own form;
2. each server pinned to CPU 1 (taskset), the load generator (moat-loadtest) to CPU 0;
3. a correctness pass: every engine scans every corpus message once, and its DKIM, SPF, DMARC
   results and matched rules are compared with the corpus's expectations; an engine whose
   results differ gets no throughput figure;
4. closed-loop peak (server CPU-us per message from utime+stime of every server process in
   /proc, messages/s), then open-loop latency at 25/50/75/90 % of that engine's own peak;
5. a Markdown table printed and appended to bench/RESULTS.md with the command that made it.

Run through bench/compare.sh (installs the peers and builds the release binaries).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
SERVER_CPU = "1"
CLIENT_CPU = "0"
DNS_PORT = 5353
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[compare] {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def wait_port(port, timeout=60.0, what=""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what or 'server'} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def session_pids(sid):
    """Every live process of a session (the server and all its workers)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is state (field 3); session id is field 6.
        if int(fields[3]) == sid:
            pids.append(int(entry))
    return pids


def cpu_seconds(sid):
    """utime+stime (plus reaped children's) of every process in the server's session."""
    total = 0
    for pid in session_pids(sid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime are fields 14-17 (indexes 11-14 after the comm).
        total += sum(int(x) for x in fields[11:15])
    return total / CLK_TCK


def rss_kib(sid):
    total = 0
    for pid in session_pids(sid):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Server:
    """A server process started in its own session, pinned to the server CPU."""

    def __init__(self, name, cmd, port, logdir, env=None, cwd=None):
        self.name, self.port = name, port
        self.log = open(os.path.join(logdir, f"{name}.log"), "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU] + cmd,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env=env, cwd=cwd)
        self.sid = self.proc.pid
        wait_port(port, 120, name)

    def stop(self):
        try:
            os.killpg(self.sid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.sid, signal.SIGKILL)
            self.proc.wait()
        # Workers that outlive the leader.
        for pid in session_pids(self.sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def loadtest(extra, json_path=None, results=None, timeout=None):
    cmd = ["taskset", "-c", CLIENT_CPU, os.path.join(REL, "moat-loadtest")] + extra
    if json_path:
        cmd += ["--json", json_path]
    if results:
        cmd += ["--results", results]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode not in (0,):
        sys.stderr.write(out.stdout + out.stderr)
        raise RuntimeError(f"moat-loadtest failed ({out.returncode}): {' '.join(extra)}")
    if json_path:
        with open(json_path) as f:
            return json.load(f)
    return out.stdout


# ---------------------------------------------------------------------------------------------
# The correctness gate: what each engine said about each message, in one vocabulary.

def read_manifest(corpus):
    rows = {}
    with open(os.path.join(corpus, "manifest.tsv")) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            r = dict(zip(header, line.rstrip("\n").split("\t")))
            r["policies"] = set() if r["policies"] == "-" else set(r["policies"].split(","))
            rows[r["file"]] = r
    return rows


def from_symbols(symbols, table):
    """First value of `table` ([(symbol, value)]) whose symbol fired, else 'none'."""
    for sym, value in table:
        if sym in symbols:
            return value
    return "none"


RSPAMD = {
    "dkim": [("R_DKIM_ALLOW", "pass"), ("R_DKIM_REJECT", "fail"), ("R_DKIM_PERMFAIL", "fail"),
             ("R_DKIM_TEMPFAIL", "temperror")],
    "spf": [("R_SPF_ALLOW", "pass"), ("R_SPF_FAIL", "fail"), ("R_SPF_SOFTFAIL", "softfail"),
            ("R_SPF_NEUTRAL", "neutral"), ("R_SPF_DNSFAIL", "temperror"),
            ("R_SPF_PERMFAIL", "permerror")],
    "dmarc": [("DMARC_POLICY_ALLOW", "pass"), ("DMARC_POLICY_SOFTFAIL", "fail"),
              ("DMARC_POLICY_REJECT", "fail"), ("DMARC_POLICY_QUARANTINE", "fail"),
              ("DMARC_BAD_POLICY", "permerror"), ("DMARC_DNSFAIL", "temperror")],
}
SPAMASSASSIN = {
    "dkim": [("DKIM_VALID", "pass"), ("DKIM_INVALID", "fail")],
    "spf": [("SPF_PASS", "pass"), ("SPF_FAIL", "fail"), ("SPF_SOFTFAIL", "softfail"),
            ("SPF_NEUTRAL", "neutral"), ("T_SPF_TEMPERROR", "temperror"),
            ("T_SPF_PERMERROR", "permerror")],
    "dmarc": [("DMARC_PASS", "pass"), ("DMARC_NONE", "fail"), ("DMARC_REJECT", "fail"),
              ("DMARC_QUAR", "fail")],
}


def parse_symbol_results(path, table):
    out = {}
    with open(path) as f:
        for line in f:
            name, _, detail = line.rstrip("\n").partition("\t")
            symbols = set(detail.split(",")) if detail else set()
            out[name] = {
                "dkim": from_symbols(symbols, table["dkim"]),
                "spf": from_symbols(symbols, table["spf"]),
                "dmarc": from_symbols(symbols, table["dmarc"]),
                "policies": {s for s in symbols if s.startswith("MOAT_")},
            }
    return out


def moat_results(db):
    """Moat's verdicts, read from its SQLite store after the pass (subject carries [cNNNNN])."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    out = {}
    for subject, findings, auth in con.execute("SELECT subject, findings, auth FROM verdicts"):
        if not subject.startswith("[c"):
            continue
        name = subject[1:7] + ".eml"
        a = json.loads(auth) if auth else None
        dkim = "none"
        if a and a.get("dkim"):
            results = [d.get("result") for d in a["dkim"]]
            dkim = "pass" if "pass" in results else results[0]
        out[name] = {
            "dkim": dkim,
            "spf": a["spf"]["result"] if a else "none",
            "dmarc": a["dmarc"]["result"] if a else "none",
            "policies": {f["rule"] for f in json.loads(findings) if f["rule"].startswith("MOAT_")},
        }
    con.close()
    return out


def gate(name, results, manifest, workdir):
    """Messages where an engine's results differ from the corpus's expectations."""
    diffs = []
    for file, exp in manifest.items():
        got = results.get(file)
        if got is None:
            diffs.append(f"{file}: no result")
            continue
        for key in ("dkim", "spf", "dmarc"):
            if got[key] != exp[key]:
                diffs.append(f"{file}: {key} {got[key]} (expected {exp[key]})")
        if got["policies"] != exp["policies"]:
            diffs.append(f"{file}: rules {sorted(got['policies'])} (expected {sorted(exp['policies'])})")
    with open(os.path.join(workdir, f"{name}.differences.txt"), "w") as f:
        f.write("\n".join(diffs) + ("\n" if diffs else ""))
    differing = len({d.split(":")[0] for d in diffs})
    log(f"{name}: {len(manifest) - differing} of {len(manifest)} messages as expected"
        + (f"; differences in {name}.differences.txt, e.g. {diffs[0]}" if diffs else ""))
    return differing


# ---------------------------------------------------------------------------------------------
# The engines.

def start_dnsmasq(corpus, logdir):
    conf = os.path.join(corpus, "dnsmasq.conf")
    cmd = ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
           f"--port={DNS_PORT}", "--listen-address=127.0.0.1", "--bind-interfaces",
           # Authoritative for everything: a name not in the corpus's records is NXDOMAIN,
           # as on the internet, never REFUSED.
           "--local=/#/",
           # Records carry a TTL as on the internet (dnsmasq's default for its own records is
           # 0, which would defeat every engine's cache): the warm-cache mode of the protocol.
           "--local-ttl=3600",
           f"--conf-file={conf}", "--log-queries", f"--log-facility={logdir}/dnsmasq.queries",
           "--cache-size=10000", "--user=root"]
    proc = subprocess.Popen(["taskset", "-c", CLIENT_CPU] + cmd, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    if proc.poll() is not None:
        raise RuntimeError("dnsmasq did not start")
    return proc


def dns_queries(logdir):
    try:
        with open(os.path.join(logdir, "dnsmasq.queries")) as f:
            return sum(1 for line in f if " query[" in line)
    except OSError:
        return 0


def fresh_dir(work, name):
    """An empty directory for one engine's configuration and state."""
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


class SmtpSink:
    name = "smtp-sink"
    port = 2600
    protocol = "smtp"
    gated = False

    def start(self, work, corpus):
        return Server(self.name, ["smtp-sink", "-u", "nobody", f"127.0.0.1:{self.port}", "1024"],
                      self.port, work)

    def results(self, work, corpus, path):
        return None


class Moat:
    name = "moat"
    port = 2525
    protocol = "smtp"
    gated = True
    sink_port = 2601
    api_port = 8089

    def start(self, work, corpus):
        d = fresh_dir(work, "moat")
        self.dir = d
        self.config = os.path.join(d, "moat.toml")
        with open(self.config, "w") as f:
            f.write(f"""data_dir = "{d}/data"
hostname = "mx.moatbench.org"
[smtp]
listen = "127.0.0.1:{self.port}"
shards = 1
pin_shards = false
starttls = false
max_connections_per_ip = 100000
[api]
listen = "127.0.0.1:{self.api_port}"
workers = 1
[dns]
nameservers = ["127.0.0.1:{DNS_PORT}"]
[relay]
timeout_secs = 30
""")
        moat = os.path.join(REL, "moat")
        run([moat, "--config", self.config, "domain", "add", "acme.moatbench.org",
             "--real-mx", f"127.0.0.1:{self.sink_port}", "--customer", "bench",
             # The sink listens on loopback: the operator's exception for this domain.
             "--allow-internal"],
            stdout=subprocess.DEVNULL)
        run([moat, "--config", self.config, "policy", "add",
             os.path.join(corpus, "moat-policies.json"), "--customer", "bench"],
            stdout=subprocess.DEVNULL)
        # The domain's real server: a counting sink on the client CPU, for the whole session.
        self.sink_status = os.path.join(d, "sink.json")
        self.sink = subprocess.Popen(
            ["taskset", "-c", CLIENT_CPU, os.path.join(REL, "moat-loadtest"), "--sink",
             f"127.0.0.1:{self.sink_port}", "--sink-only", "--messages", "1000000000000",
             "--sink-wait", "100000", "--json", self.sink_status],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        server = Server(self.name, [moat, "--config", self.config, "up"], self.port, work,
                        env=dict(os.environ, RUST_LOG="warn"))
        return server

    def db(self):
        return os.path.join(self.dir, "data", "moat.db")

    def results(self, work, corpus, path):
        # Verdict writes are batched: wait until every corpus message has its verdict.
        want = len(read_manifest(corpus))
        deadline = time.time() + 60
        while time.time() < deadline:
            got = moat_results(self.db())
            if len(got) >= want:
                break
            time.sleep(0.5)
        return got

    def delivered_check(self, timeout=120):
        """Every verdict `deliver` must reach the downstream sink: lost mail is reported."""
        deadline = time.time() + timeout
        while True:
            con = sqlite3.connect(f"file:{self.db()}?mode=ro", uri=True)
            (want,) = con.execute("SELECT count(DISTINCT queue_id) FROM verdicts WHERE action = 'deliver'").fetchone()
            con.close()
            try:
                with open(self.sink_status) as f:
                    got = json.load(f)["received"]
            except (OSError, ValueError):
                got = 0
            if got >= want or time.time() > deadline:
                return want, got
            time.sleep(1)

    def stop_extra(self):
        try:
            os.killpg(self.sink.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.sink.wait()


class Rspamd:
    name = "rspamd"
    port = 11333
    protocol = "rspamd"
    gated = True

    def start(self, work, corpus):
        d = fresh_dir(work, "rspamd")
        etc, local = os.path.join(d, "etc"), os.path.join(d, "local")
        shutil.copytree("/etc/rspamd", etc)
        for sub in ("local.d", "override.d"):
            shutil.rmtree(os.path.join(etc, sub), ignore_errors=True)
            os.makedirs(os.path.join(local, sub), exist_ok=True)
        for sub in ("db", "run", "log"):
            os.makedirs(os.path.join(d, sub))
        # The stock rule files (rspamd.lua: hundreds of regexp rules) give way to the policy set.
        rules = os.path.join(d, "rules.lua")
        with open(rules, "w") as f:
            f.write("config['regexp'] = config['regexp'] or {}\n")
            with open(os.path.join(corpus, "rspamd-rules.lua")) as src:
                f.write(src.read())
        common = os.path.join(etc, "common.conf")
        with open(common) as f:
            text = f.read()
        with open(common, "w") as f:
            f.write(text.replace('lua = "$RULESDIR/rspamd.lua"', f'lua = "{rules}"'))
        # Only dkim, spf, dmarc and regexp run: every other module is switched off.
        keep = {"dkim", "spf", "dmarc", "regexp"}
        for conf in os.listdir(os.path.join(etc, "modules.d")):
            mod = conf.rsplit(".", 1)[0]
            if mod not in keep:
                with open(os.path.join(local, "override.d", f"{mod}.conf"), "w") as f:
                    f.write("enabled = false;\n")
        with open(os.path.join(local, "local.d", "options.inc"), "w") as f:
            f.write(f'dns {{ nameserver = ["127.0.0.1:{DNS_PORT}"]; timeout = 2s; retransmits = 2; }}\n'
                    'local_addrs = [];\n')
        with open(os.path.join(local, "override.d", "worker-normal.inc"), "w") as f:
            f.write(f'bind_socket = "127.0.0.1:{self.port}";\ncount = 1;\nmime = true;\n')
        with open(os.path.join(local, "override.d", "worker-controller.inc"), "w") as f:
            f.write('bind_socket = "127.0.0.1:11334";\ncount = 1;\n')
        with open(os.path.join(local, "override.d", "worker-proxy.inc"), "w") as f:
            f.write('bind_socket = "127.0.0.1:11332";\ncount = 1;\nmilter = yes;\n'
                    'upstream "local" { default = yes; self_scan = yes; }\n')
        with open(os.path.join(local, "override.d", "logging.inc"), "w") as f:
            f.write(f'type = "file";\nfilename = "{d}/log/rspamd.log";\nlevel = "error";\n')
        # rspamd drops privileges to _rspamd.
        run(["chown", "-R", "_rspamd:_rspamd", d])
        cmd = ["rspamd", "-f", "-u", "_rspamd", "-g", "_rspamd", "-c", os.path.join(etc, "rspamd.conf"),
               f"--var=CONFDIR={etc}", f"--var=LOCAL_CONFDIR={local}",
               f"--var=DBDIR={d}/db", f"--var=RUNDIR={d}/run", f"--var=LOGDIR={d}/log"]
        return Server(self.name, cmd, self.port, work)

    def results(self, work, corpus, path):
        return parse_symbol_results(path, RSPAMD)


class SpamAssassin:
    name = "spamassassin"
    port = 7830
    protocol = "spamc"
    gated = True

    def start(self, work, corpus):
        d = fresh_dir(work, "spamassassin")
        rules, site = os.path.join(d, "rules"), os.path.join(d, "site")
        os.makedirs(rules)
        os.makedirs(site)
        # Only the checks under test: DKIM, SPF and DMARC rules, and the policy set.
        for f in ("10_default_prefs.cf", "25_dkim.cf", "25_spf.cf"):
            shutil.copy(os.path.join("/usr/share/spamassassin", f), rules)
        shutil.copy(os.path.join(corpus, "spamassassin.cf"), os.path.join(rules, "90_moat_policies.cf"))
        # No DMARC: SpamAssassin's DMARC plugin resolves through Mail::DMARC, which asks the
        # system resolver (/etc/resolv.conf) rather than `dns_server`, so it would leave the
        # loopback DNS fixture (and wait on the network). SpamAssassin therefore reports no
        # DMARC result, and the correctness gate says so.
        for pre in os.listdir("/etc/spamassassin"):
            if pre.endswith(".pre") and pre != "sa-compile.pre":
                with open(os.path.join("/etc/spamassassin", pre)) as src:
                    lines = [l for l in src if "Plugin::DMARC" not in l]
                with open(os.path.join(site, pre), "w") as dst:
                    dst.writelines(lines)
        with open(os.path.join(site, "local.cf"), "w") as f:
            f.write(f"""use_bayes 0
bayes_auto_learn 0
skip_rbl_checks 1
dns_available yes
dns_server 127.0.0.1:{DNS_PORT}
trusted_networks 127.0.0.0/8
internal_networks 127.0.0.0/8
envelope_sender_header Return-Path
use_pyzor 0
use_razor2 0
use_dcc 0
""")
        cmd = ["spamd", "--syslog=stderr", f"--listen=127.0.0.1:{self.port}", "--max-children=2",
               "--min-children=2", "--min-spare=1", "--max-spare=2", "-u", "nobody",
               f"--configpath={rules}", f"--siteconfigpath={site}", "--nouser-config",
               "--allowed-ips=127.0.0.1"]
        return Server(self.name, cmd, self.port, work)

    def results(self, work, corpus, path):
        return parse_symbol_results(path, SPAMASSASSIN)


ENGINES = {e.name: e for e in (SmtpSink(), Moat(), Rspamd(), SpamAssassin())}


# ---------------------------------------------------------------------------------------------

def target_args(engine, corpus):
    return ["--target", f"127.0.0.1:{engine.port}", "--protocol", engine.protocol,
            "--corpus", corpus]


def measure(engine, server, args, corpus, work, extra, tag):
    """One load run; returns its loadtest figures plus server CPU-us per answered message."""
    before = cpu_seconds(server.sid)
    out = loadtest(target_args(engine, corpus) + extra,
                   json_path=os.path.join(work, f"{engine.name}.{tag}.json"),
                   timeout=args.seconds * 4 + 300)
    out["cpu_s"] = cpu_seconds(server.sid) - before
    answered = out["accepted"] + out["rejected"]
    out["cpu_us_per_msg"] = out["cpu_s"] * 1e6 / answered if answered else None
    return out


def idle_rss(server, engine, args, conns=1000):
    """Memory held per open connection: RSS with `conns` idle SMTP sessions minus RSS before."""
    before = rss_kib(server.sid)
    proc = subprocess.Popen(["taskset", "-c", CLIENT_CPU, os.path.join(REL, "moat-loadtest"),
                             "--target", f"127.0.0.1:{engine.port}", "--idle", str(conns),
                             "--hold", "6"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = before
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline:
        peak = max(peak, rss_kib(server.sid))
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
        log(f"{engine.name}: {conns} idle connections did not finish within 60 s; no figure")
        return None
    out, _ = proc.communicate()
    if proc.returncode != 0:
        log(f"{engine.name}: idle connections failed: {out.strip()}")
        return None
    log(f"{engine.name}: {conns} idle connections: RSS {before / 1024:.1f} -> {peak / 1024:.1f} MiB")
    return peak - before


def wait_idle(server, name, timeout=180):
    """Waits until a freshly started server stops using CPU on its own (Rspamd compiles its
    Hyperscan databases in a helper process after it starts listening; until then it scans
    with PCRE, and the compile would be billed to the measured runs)."""
    deadline = time.time() + timeout
    quiet = 0
    last = cpu_seconds(server.sid)
    while time.time() < deadline and quiet < 3:
        time.sleep(1)
        now = cpu_seconds(server.sid)
        quiet = quiet + 1 if now - last < 0.05 else 0
        last = now
    if quiet < 3:
        log(f"{name}: still busy {timeout} s after start; measuring anyway")


def bench_engine(engine, args, corpus, work, manifest):
    log(f"{engine.name}: starting")
    server = engine.start(work, corpus)
    wait_idle(server, engine.name)
    row = {"name": engine.name, "rss_kib_idle": rss_kib(server.sid)}
    try:
        q0 = dns_queries(work)
        if engine.gated:
            res_path = os.path.join(work, f"{engine.name}.results.tsv")
            loadtest(target_args(engine, corpus)
                     + ["--connections", "4", "--messages", str(len(manifest))],
                     results=res_path, timeout=3600)
            results = engine.results(work, corpus, res_path)
            row["differing"] = gate(engine.name, results, manifest, work)
            row["dns_per_msg"] = (dns_queries(work) - q0) / len(manifest)
        else:
            row["differing"] = None
        # Warm-up, then the closed-loop peak (median of the runs).
        measure(engine, server, args, corpus, work,
                ["--connections", str(args.connections), "--duration", str(args.warmup)], "warmup")
        peaks = []
        for r in range(args.runs):
            peaks.append(measure(engine, server, args, corpus, work,
                                 ["--connections", str(args.connections),
                                  "--duration", str(args.seconds)], f"peak{r}"))
        peaks.sort(key=lambda p: p["msgs_per_s"])
        peak = peaks[len(peaks) // 2]
        row["peak"] = peak
        row["spread"] = ((peaks[-1]["msgs_per_s"] - peaks[0]["msgs_per_s"]) / peak["msgs_per_s"]
                         if peak["msgs_per_s"] else 0)
        row["rss_kib_load"] = rss_kib(server.sid)
        log(f"{engine.name}: peak {peak['msgs_per_s']:.0f} msg/s, "
            f"{peak['cpu_us_per_msg'] or 0:.0f} server CPU-us/msg")
        row["loads"] = {}
        for pct in args.loads:
            rate = peak["msgs_per_s"] * pct / 100
            if rate <= 0:
                continue
            row["loads"][pct] = measure(engine, server, args, corpus, work,
                                        ["--connections", str(args.connections), "--rate",
                                         f"{rate:.2f}", "--duration", str(args.seconds)],
                                        f"load{pct}")
        # Memory per connection is Moat's figure (smtp-sink does not take 1 000 idle
        # sessions within a minute here; the scan-only peers hold no SMTP sessions).
        if isinstance(engine, Moat):
            row["rss_per_1000_conns_kib"] = idle_rss(server, engine, args)
        if isinstance(engine, Moat):
            want, got = engine.delivered_check()
            row["lost"] = want - got
            log(f"moat: {got} of {want} delivered verdicts reached the downstream sink")
    finally:
        server.stop()
        if hasattr(engine, "stop_extra"):
            engine.stop_extra()
    return row


def fmt(x, spec=".0f"):
    return "—" if x is None else format(x, spec)


def table(rows, args):
    by = {r["name"]: r for r in rows}
    floor = by.get("smtp-sink")
    moat = by.get("moat")
    loads = " | ".join(f"{p} %" for p in args.loads)
    lines = ["| system | verdicts as expected | server CPU-µs/msg | msg/s (closed loop) | msg/s per server core | "
             f"× Moat's CPU-µs | DNS q/msg | RSS MiB | +RSS per 1 000 idle conns MiB | p50 / p99 / p99.9 ms at {loads} of own peak |",
             "|---" * (9 + len(args.loads)) + "|"]
    for r in rows:
        ok = r["differing"] in (None, 0)
        n = args.messages
        verdicts = "floor (no checks)" if r["differing"] is None else f"{n - r['differing']}/{n}"
        peak = r["peak"]
        cpu = peak["cpu_us_per_msg"]
        if not ok:
            lines.append(f"| {r['name']} | {verdicts} (differs: no throughput figure) | — | — | — | — | "
                         f"{fmt(r.get('dns_per_msg'), '.2f')} | — | — |" + " — |" * len(args.loads))
            continue
        ratio = None
        if moat and moat["peak"]["cpu_us_per_msg"] and cpu and r is not moat:
            ratio = cpu / moat["peak"]["cpu_us_per_msg"]
        lat = []
        for pct in args.loads:
            m = r["loads"].get(pct)
            lat.append("—" if not m else f"{m['p50_ms']:.1f} / {m['p99_ms']:.1f} / {m['p999_ms']:.1f}")
        lines.append(
            f"| {r['name']} | {verdicts} | {fmt(cpu)} | {peak['msgs_per_s']:.0f} | "
            f"{fmt(1e6 / cpu if cpu else None)} | {fmt(ratio, '.1f') if ratio else ('1' if r is moat else '—')} | "
            f"{fmt(r.get('dns_per_msg'), '.2f')} | {r['rss_kib_load'] / 1024:.0f} | "
            f"{fmt(r['rss_per_1000_conns_kib'] / 1024 if r.get('rss_per_1000_conns_kib') is not None else None, '.1f')} | "
            + " | ".join(lat) + " |")
    summary = []
    if moat and moat["differing"] == 0 and moat["peak"]["cpu_us_per_msg"]:
        mc = moat["peak"]["cpu_us_per_msg"]
        if floor and floor["peak"]["cpu_us_per_msg"]:
            f = floor["peak"]["cpu_us_per_msg"]
            summary.append(f"- Moat's full path / smtp-sink floor: {mc / f:.1f}× the CPU-µs per message "
                           f"(target ≤ 2×): {'met' if mc / f <= 2 else 'not met'}.")
        for peer, target in (("rspamd", 10), ("spamassassin", 100)):
            p = by.get(peer)
            if p and p["differing"] == 0 and p["peak"]["cpu_us_per_msg"]:
                x = p["peak"]["cpu_us_per_msg"] / mc
                summary.append(f"- {peer} / Moat: {x:.1f}× Moat's CPU-µs per message (target ≥ {target}×): "
                               f"{'met' if x >= target else 'not met'}.")
            elif p:
                measured = p["peak"]["cpu_us_per_msg"]
                summary.append(f"- {peer}: its results differ from the corpus on {p['differing']} messages, "
                               f"so no ratio (see {peer}.differences.txt in the work directory"
                               + (f"; it spent {measured:.0f} CPU-µs per message doing different work)"
                                  if measured else ")") + ".")
        if "lost" in moat:
            summary.append(f"- Moat: {moat['lost']} delivered messages missing at the downstream sink.")
    return "\n".join(lines), "\n".join(summary)


def environment():
    def cmd(c):
        try:
            return subprocess.run(c, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    model = next((l.split(":", 1)[1].strip() for l in cmd(["lscpu"]).splitlines()
                  if l.startswith("Model name")), "?")
    return (f"{model}, {os.cpu_count()} CPUs, kernel {platform.release()}; "
            f"{cmd(['rspamd', '--version']).splitlines()[0] if shutil.which('rspamd') else 'no rspamd'}; "
            f"{cmd(['spamd', '--version']).splitlines()[0] if shutil.which('spamd') else 'no spamd'}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=2000, help="corpus size (default 2000)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--seconds", type=float, default=20, help="each measured run (default 20)")
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--runs", type=int, default=1, help="closed-loop runs per engine; median reported")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--loads", type=lambda s: [int(x) for x in s.split(",")], default=[25, 50, 75, 90])
    p.add_argument("--systems", default="smtp-sink,moat,rspamd,spamassassin")
    p.add_argument("--work", default=os.path.join(ROOT, "target", "compare"))
    p.add_argument("--results-md", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    p.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = p.parse_args()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in systems:
        if s not in ENGINES:
            sys.exit(f"unknown system {s}; known: {', '.join(ENGINES)}")

    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    corpus = os.path.join(work, "corpus")
    run([os.path.join(REL, "moat-corpus"), "--out", corpus, "--messages", str(args.messages),
         "--seed", str(args.seed)], stdout=subprocess.DEVNULL)
    manifest = read_manifest(corpus)
    total_bytes = sum(int(r["bytes"]) for r in manifest.values())
    log(f"corpus: {len(manifest)} messages, {total_bytes / len(manifest):.0f} bytes on average")
    dns = start_dnsmasq(corpus, work)
    rows = []
    try:
        for s in systems:
            rows.append(bench_engine(ENGINES[s], args, corpus, work, manifest))
    finally:
        os.killpg(dns.pid, signal.SIGTERM)
    tbl, summary = table(rows, args)
    command = "bench/compare.sh " + " ".join(sys.argv[1:])
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = (f"## {stamp}\n\nCommand: `{command.strip()}`  \n"
              f"Corpus: {len(manifest)} messages (seed {args.seed}), {total_bytes / len(manifest):.0f} bytes on average; "
              f"policy set 2 500 literals + 20 regexes; {args.connections} connections; "
              f"{args.runs} × {args.seconds:.0f} s closed loop, open loop {args.seconds:.0f} s per load.  \n"
              f"Environment: {environment()}; server on CPU {SERVER_CPU}, load generator on CPU {CLIENT_CPU}.\n\n"
              f"{tbl}\n\n{summary}\n")
    print()
    print(report)
    if not args.no_record:
        new = not os.path.exists(args.results_md)
        with open(args.results_md, "a") as f:
            if new:
                f.write("# Side-by-side results\n\nEach run of `bench/compare.sh` appends a section "
                        "(method: `bench/compare.py`'s docstring).\n\n")
            f.write(report + "\n")
        log(f"appended to {os.path.relpath(args.results_md, ROOT)}")


if __name__ == "__main__":
    main()
