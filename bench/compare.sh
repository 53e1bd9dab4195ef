#!/usr/bin/env bash
# Side-by-side benchmark from a fresh checkout, in one command: installs the peers from Debian
# (Postfix for smtp-sink, Rspamd, SpamAssassin with spamd, dnsmasq for the DNS fixture), builds
# Moat, the corpus generator and the load generator in release, then runs bench/compare.py,
# which prints the table and appends it to bench/RESULTS.md. Loopback only; every run is bounded.
# Options are compare.py's: --messages N --seconds S --runs R --connections C --systems a,b,...
set -euo pipefail
cd "$(dirname "$0")/.."
# Postfix asks how to configure itself; smtp-sink needs none of it.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v smtp-sink >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
fi
./deploy/install-packages.sh postfix rspamd spamassassin spamc libmail-dkim-perl libmail-spf-perl \
  libcryptx-perl dnsmasq-base util-linux python3
cargo build --release -p moat -p moat-loadtest -p moat-bench --bins
# The servers run as their own users (rspamd as _rspamd, spamd and smtp-sink as nobody), which
# needs root to set up.
exec $SUDO python3 bench/compare.py "$@"
