#!/usr/bin/env bash
# Installs Debian packages Moat needs: the build's (a C toolchain, pkg-config, Hyperscan),
# SpamAssassin's rule files (package spamassassin: Moat loads its rules, it does not run it),
# plus any named as arguments. Used by deploy/quickstart.sh and tests/run.sh; sudo when not root.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# libhyperscan-dev is Hyperscan on x86_64; other architectures use the vectorscan fork.
if [ "$(dpkg --print-architecture)" = "amd64" ]; then HS=libhyperscan-dev; else HS=libvectorscan-dev; fi
$SUDO apt-get install -y -qq build-essential pkg-config "$HS" spamassassin "$@" >/dev/null
