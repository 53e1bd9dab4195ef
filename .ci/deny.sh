#!/usr/bin/env bash
# cargo-deny over the workspace (deny.toml): licences, banned crates and sources always; the
# RUSTSEC advisories whenever their database (a GitHub repository) can be fetched from this
# machine, and it says so when it cannot. cargo-deny is built once (debug profile: it runs
# for seconds, and builds in a fraction of the release build's time).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --debug --quiet
cargo deny check licenses bans sources
if timeout 60 git ls-remote --heads https://github.com/RustSec/advisory-db >/dev/null 2>&1; then
  cargo deny check advisories
else
  echo "deny: advisories NOT checked: the RustSec database (github.com) cannot be reached from here"
fi
