#!/usr/bin/env bash
# Regenerates the SDKs' generated layers from sdk/openapi.json (which `moat openapi` prints;
# tests/api-contract.sh fails when either is stale):
#   python: sdk/python/moat/_api/ by openapi-python-client 0.29.1 (PyPI)
#   typescript: sdk/typescript/src/schema.ts by openapi-typescript 7.10.1 (npm)
# Usage: OPENAPI_PYTHON_CLIENT=path/to/openapi-python-client sdk/generate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
"${OPENAPI_PYTHON_CLIENT:-openapi-python-client}" generate --path sdk/openapi.json --output-path "$gen/api" \
  --meta none >/dev/null
rm -rf sdk/python/moat/_api
cp -r "$gen/api" sdk/python/moat/_api
(cd sdk/typescript && npx --yes openapi-typescript@7.10.1 ../openapi.json -o src/schema.ts >/dev/null)
