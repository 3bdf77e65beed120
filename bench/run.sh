#!/usr/bin/env bash
# make bench: measures the registry's hot read path over HTTP with wrk, side by side with nginx
# serving the same bytes as a static file (the baseline, measured in the same run), then runs the
# in-process benchmarks (handler latency, render and push throughput; trace storage per row; the
# HTTP/1.1 parser against Beast's), the
# gateway bench (bench/gateway_bench.sh) and the gateway's instructions per request under
# callgrind (bench/instructions.sh).
#
#   bench/run.sh [BUILD_DIR] [SECONDS]
#
# Writes the report to bench/results/latest.md and prints it. Needs wrk and nginx (scripts/setup).
set -euo pipefail
BUILD=${1:-build}
SECONDS_PER_RUN=${2:-10}
source "$(dirname "$0")/lib.sh"

# 1. promptops with demo data on a free port.
start_promptops --demo
PORT=$PO_PORT
URL="http://127.0.0.1:$PORT/api/v1/prompts/support%2Frefund-bot?label=production"

# 2. nginx serving the identical response body as a static file (baseline).
mkdir -p "$WORK/www"
curl -sf -H "Authorization: Bearer $KEY" "$URL" >"$WORK/www/prompt.json"
free_port NGINX_PORT
start_nginx nginx 2 "
  default_type application/json;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
  }"
BASE_URL="http://127.0.0.1:$NGINX_PORT/prompt.json"

AUTH="Authorization: Bearer $KEY"
read -r P1_RPS P1_P50 P1_P99 <<<"$(wrk_measure 1 1 "$URL" -H "$AUTH")"
read -r N1_RPS N1_P50 N1_P99 <<<"$(wrk_measure 1 1 "$BASE_URL")"
read -r P64_RPS P64_P50 P64_P99 <<<"$(wrk_measure 2 64 "$URL" -H "$AUTH")"
read -r N64_RPS N64_P50 N64_P99 <<<"$(wrk_measure 2 64 "$BASE_URL")"
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$PO_PID/status")


mkdir -p "$ROOT/bench/results"
REPORT="$ROOT/bench/results/latest.md"
{
  echo "# promptops benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); wrk and the servers share it."
  echo "Request: GET /api/v1/prompts/support%2Frefund-bot?label=production ($(wc -c <"$WORK/www/prompt.json") bytes JSON), ${SECONDS_PER_RUN}s per run."
  echo "Baseline: nginx $(nginx -v 2>&1 | sed 's/.*\///') (2 workers) serving the same bytes as a static file."
  echo
  echo "| concurrency | server | requests/s | p50 us | p99 us | rps vs nginx |"
  echo "|---|---|---|---|---|---|"
  echo "| 1 | promptops | $P1_RPS | $P1_P50 | $P1_P99 | $(ratio "$P1_RPS" "$N1_RPS") |"
  echo "| 1 | nginx static | $N1_RPS | $N1_P50 | $N1_P99 | 1.00 |"
  echo "| 64 | promptops | $P64_RPS | $P64_P50 | $P64_P99 | $(ratio "$P64_RPS" "$N64_RPS") |"
  echo "| 64 | nginx static | $N64_RPS | $N64_P50 | $N64_P99 | 1.00 |"
  echo
  echo "promptops RSS after the runs: $((RSS_KB / 1024)) MiB"
  echo
  echo "## In-process (server-side work without the socket)"
  echo
  "$ROOT/$BUILD/registry_bench" --seconds 3
  echo
  echo "## Trace storage (what the trace writer spends per trace)"
  echo
  "$ROOT/$BUILD/trace_store_bench"
  echo
  echo "## HTTP/1.1 parser: the gateway's two messages, ours against Beast's basic_parser"
  echo
  "$ROOT/$BUILD/http_parser_bench"
} | tee "$REPORT"

# The gateway: promptops vs nginx proxy_pass in front of the same mock upstream, and concurrent
# simulated streams.
echo
"$ROOT/bench/gateway_bench.sh" "$BUILD" "$SECONDS_PER_RUN" "${PROMPTOPS_BENCH_STREAMS:-10000}"

# Instructions per proxied request under callgrind (deterministic; no hardware counters needed).
echo
echo "## Gateway: instructions per proxied request (callgrind)"
echo
if command -v valgrind >/dev/null; then
  "$ROOT/bench/instructions.sh" "$ROOT/$BUILD/promptops"
else
  echo "skipped: valgrind is missing (run scripts/setup)"
fi
