#!/usr/bin/env bash
# Sets up and runs Moat on the embedded default (scanner + API on SQLite) on a Debian machine:
# installs the system packages Moat builds against, builds the release binary, runs `moat up`.
# Data lives in ./moat-data, SMTP listens on :2525 and the API on :8080 unless MOAT_CONFIG
# names a config file (see deploy/moat.example.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

# swaks and curl: the README's first steps use them.
./deploy/install-packages.sh swaks curl

cargo build --release -p moat --bin moat
# SpamAssassin's rules are compiled to Hyperscan once (a minute or two) and cached in the data
# directory; later starts load them in a fraction of a second.
echo "Loading SpamAssassin's rules (the first time compiles them: a minute or two)..."
./target/release/moat spam rules
echo
echo "Moat is starting. In another shell, as a first customer:"
echo "  TOKEN=\$(./target/release/moat token create --customer acme)"
echo "  ./target/release/moat domain add acme.example --real-mx mail.acme.example:25 --customer acme"
echo "  curl -H \"Authorization: Bearer \$TOKEN\" http://127.0.0.1:8080/v1/me"
echo "(README.md, 'First steps once it runs', goes on from there.)"
echo
exec ./target/release/moat up
