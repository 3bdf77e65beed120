#!/usr/bin/env bash
# Runs one JavaScript client test suite (an official SDK under node:test) against a promptops
# binary.
# Usage: run.sh SUITE_DIR TEST_FILE /path/to/promptops
#   (ctest passes e.g. tests/js/openai openai.test.mjs $<TARGET_FILE:promptops>)
# Installs the suite's locked dependencies (npm ci) when node_modules is missing or older than
# its package-lock.json.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 SUITE_DIR TEST_FILE /path/to/promptops" >&2
  exit 2
fi
suite="$(cd "$1" && pwd)"
test_file="$2"
export PROMPTOPS_BINARY="${3:-${PROMPTOPS_BINARY:-}}"
if [[ -z "$PROMPTOPS_BINARY" ]]; then
  echo "usage: $0 SUITE_DIR TEST_FILE /path/to/promptops" >&2
  exit 2
fi
if [[ ! -x "$PROMPTOPS_BINARY" ]]; then
  echo "$PROMPTOPS_BINARY is not an executable (build the promptops target first)" >&2
  exit 1
fi
# Absolute, because the test runs from the suite's directory.
PROMPTOPS_BINARY="$(cd "$(dirname "$PROMPTOPS_BINARY")" && pwd)/$(basename "$PROMPTOPS_BINARY")"
cd "$suite"
# The SDKs must not pick up a developer's real settings; the tests pass their own.
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_ORG_ID OPENAI_PROJECT_ID OPENAI_LOG
# The Langfuse SDK logs every failed fetch at ERROR; its test provokes some on purpose.
export LANGFUSE_LOG_LEVEL="${LANGFUSE_LOG_LEVEL:-NONE}"
# npm ci writes node_modules/.package-lock.json; when it is missing or older than
# package-lock.json, the installed tree is stale.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
exec node --test --test-reporter=spec "$test_file"
