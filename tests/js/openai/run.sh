#!/usr/bin/env bash
# Runs the official openai SDK compatibility test against a promptops binary.
# Usage: run.sh /path/to/promptops   (ctest passes $<TARGET_FILE:promptops>)
# Installs the locked dependencies (npm ci) when node_modules is missing or older than the lock.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export PROMPTOPS_BINARY="${1:-${PROMPTOPS_BINARY:-}}"
if [[ -z "$PROMPTOPS_BINARY" ]]; then
  echo "usage: $0 /path/to/promptops" >&2
  exit 2
fi
if [[ ! -x "$PROMPTOPS_BINARY" ]]; then
  echo "$PROMPTOPS_BINARY is not an executable (build the promptops target first)" >&2
  exit 1
fi
# Absolute, because the test runs from this directory.
PROMPTOPS_BINARY="$(cd "$(dirname "$PROMPTOPS_BINARY")" && pwd)/$(basename "$PROMPTOPS_BINARY")"
cd "$here"
# The SDK must not pick up a developer's real OpenAI settings; the test passes its own.
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_ORG_ID OPENAI_PROJECT_ID OPENAI_LOG
# npm ci writes node_modules/.package-lock.json; when it is missing or older than
# package-lock.json, the installed tree is stale.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
exec node --test --test-reporter=spec openai.test.mjs
