#!/usr/bin/env bash
# Instructions per proxied request (all of promptops' threads, trace writer included), counted by
# callgrind: a figure that does not move with the machine's noise, and that needs no hardware
# performance counters (virtual machines often have none). For A/B comparisons of two builds.
#
#   bench/instructions.sh [BIN...]        (default: build/promptops)
#
# Each binary runs under callgrind as `promptops serve` in front of a mock upstream (nginx
# returning a fixed chat.completion, as in gateway_bench.sh) and answers requests for 3 s to warm
# up; then its counters are zeroed and one keep-alive connection sends requests for REQ_SECONDS
# (default 8) seconds (~10k requests under callgrind). Prints instructions per request (total / the
# requests wrk completed; traces, metrics and the writer's batches included) and keeps each
# profile in KEEP_DIR if set (read them with callgrind_annotate --inclusive=yes).
set -euo pipefail
BUILD=build
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || {
  echo "bench: valgrind is missing (run scripts/setup)"
  exit 1
}
BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=("$BIN")
REQ_SECONDS=${REQ_SECONDS:-8}

free_port MOCK_PORT
start_nginx nginx 1 "
  server {
    listen 127.0.0.1:$MOCK_PORT;
    location / { default_type application/json; return 200 '$MOCK_COMPLETION'; }
  }"
cat >"$WORK/promptops.yaml" <<CONF
providers:
  mock: {type: openai, base_url: "http://127.0.0.1:$MOCK_PORT/v1"}
models:
  mock-model: {provider: mock, pricing: {input_per_1m: 1, output_per_1m: 2}}
gateway:
  cache: {enabled: false}
  trace_bodies: none
CONF
write_chat_lua "$WORK/post.lua" mock-model

i=0
for bin in "${BINS[@]}"; do
  i=$((i + 1))
  dir="$WORK/run$i"
  mkdir -p "$dir"
  PO_BIN="$bin" PO_DATA="$dir/data" PO_OUT="$dir/serve" \
    PO_WRAP="valgrind --tool=callgrind --callgrind-out-file=$dir/callgrind.out" \
    start_promptops --config "$WORK/promptops.yaml"
  pid=$PO_PID
  url="http://127.0.0.1:$PO_PORT/v1/chat/completions"
  wrk -t1 -c1 -d3s -s "$WORK/post.lua" "$url" >/dev/null  # warm-up
  sleep 1  # the writer stores the warm-up's traces
  callgrind_control -z "$pid" >/dev/null 2>&1
  out=$(wrk -t1 -c1 -d"${REQ_SECONDS}s" -s "$WORK/post.lua" "$url")
  sleep 1  # ... and the measured requests' traces, which count
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 0.5
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  profile=$(ls -t "$dir"/callgrind.out.* | head -1)
  total=$(callgrind_annotate "$profile" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  [ -z "${KEEP_DIR:-}" ] || { mkdir -p "$KEEP_DIR"; cp "$profile" "$KEEP_DIR/callgrind.$i.out"; }
  awk -v b="$bin" -v t="$total" -v r="$requests" -v e="${non2xx:-0}" 'BEGIN {
    printf "%s: %d requests (%d non-2xx), %.0f instructions per request\n", b, r, e, (r > 0 ? t / r : 0) }'
done
