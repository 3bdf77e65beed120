#!/usr/bin/env bash
# Gateway benchmark (part of make bench): promptops in front of a mock upstream, side by side with
# nginx proxy_pass in front of the same mock, in one run, plus many concurrent simulated streams.
#
#   [ROUNDS=3] [C1_ROUNDS=4*ROUNDS] [C1_SECONDS=2] [BUSY_POLL_US=200] bench/gateway_bench.sh [BUILD_DIR] [SECONDS] [STREAMS]
#
# Two reference proxies: nginx proxy_pass in the mock's own worker (one process does proxy and
# mock: no cross-process hop), and nginx proxy_pass as its own process with 2 workers. Each path
# is measured ROUNDS times, interleaved, and reported as the median. Concurrency 1 runs as
# C1_ROUNDS short rounds of C1_SECONDS (default 4 x ROUNDS rounds of 2 s): the machine's
# scheduling drifts within seconds, so the added latency is taken within each round (promptops
# minus the direct path measured moments before) and reported as the median of those paired
# differences, next to the per-path medians. At concurrency 1 a second
# promptops with its data directory on tmpfs is measured too, to show what the trace
# database's disk I/O adds to the tail. A third promptops runs with busy polling
# (`--busy-poll-us`, BUSY_POLL_US, default 200), measured at both concurrencies.
#
# The mock upstream is nginx returning a fixed chat.completion (no model behind it), so the
# figures measure the proxies, not a model. Everything listens on 127.0.0.1.
set -euo pipefail
BUILD=${1:-build}
SECS=${2:-10}
STREAMS=${3:-10000}
SECONDS_PER_RUN=$SECS
source "$(dirname "$0")/lib.sh"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port MOCK_PORT
free_port PROXY_PORT
free_port SEP_PORT
UPSTREAM="upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 256; }"
PROXY_LOCATION='location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection ""; }'

# The mock upstream, and the first reference proxy served by the mock's own worker.
start_nginx nginx 1 "
  $UPSTREAM
  server {  # the mock upstream
    listen 127.0.0.1:$MOCK_PORT;
    location / { default_type application/json; return 200 '$MOCK_COMPLETION'; }
  }
  server {  # the reference proxy
    listen 127.0.0.1:$PROXY_PORT;
    $PROXY_LOCATION
  }"

# A second reference: nginx proxy_pass as its own process with 2 workers (as many as promptops
# has network threads, and as `worker_processes auto` gives here), in front of the same mock.
# Unlike the proxy above, it does not share a worker with the mock, so each request crosses
# processes as it does through promptops.
start_nginx nginx2 2 "
  $UPSTREAM
  server {
    listen 127.0.0.1:$SEP_PORT;
    $PROXY_LOCATION
  }"

cat >"$WORK/promptops.yaml" <<CONF
providers:
  mock: {type: openai, base_url: "http://127.0.0.1:$MOCK_PORT/v1"}
  sim:
    type: simulated
    simulated: {ttft_median_ms: 50, ttft_p99_ms: 200, tokens_per_second: 20, max_tokens_default: 20}
models:
  mock-model: {provider: mock, pricing: {input_per_1m: 1, output_per_1m: 2}}
  sim-stream: {provider: sim}
gateway:
  cache: {enabled: false}
  trace_bodies: none
CONF
start_promptops --config "$WORK/promptops.yaml"
# A second promptops, same configuration, with its data directory on tmpfs (no block device),
# measured at concurrency 1 only: the difference to the first is what the trace database's disk
# I/O adds to the tail (docs/performance.md, fifth session). Skipped without a writable /dev/shm.
PT_PORT=""
if SHM=$(mktemp -d /dev/shm/promptops-bench-XXXXXX 2>/dev/null); then
  EXTRA_DIRS+=("$SHM")
  MAIN_PID=$PO_PID MAIN_PORT=$PO_PORT
  PO_DATA="$SHM/data" PO_OUT="$WORK/serve-tmpfs" start_promptops --config "$WORK/promptops.yaml"
  PT_PORT=$PO_PORT
  PO_PID=$MAIN_PID PO_PORT=$MAIN_PORT
fi
# A third promptops, same configuration, with busy polling on (`--busy-poll-us`, BUSY_POLL_US,
# default 200): its network threads poll for that long after an event instead of sleeping at
# once, which takes the wake-ups of an idle vCPU out of the hop (docs/performance.md, fourteenth
# session). Measured at both concurrencies, with its own data directory on the same disk.
BUSY_POLL_US=${BUSY_POLL_US:-200}
MAIN_PID=$PO_PID MAIN_PORT=$PO_PORT
PO_DATA="$WORK/data-busy" PO_OUT="$WORK/serve-busy" start_promptops --config "$WORK/promptops.yaml" \
  --busy-poll-us "$BUSY_POLL_US"
PB_PORT=$PO_PORT PB_PID=$PO_PID
PO_PID=$MAIN_PID PO_PORT=$MAIN_PORT
sleep 0.3

write_chat_lua "$WORK/post.lua" mock-model
# The machine is shared: every path is measured ROUNDS times, the paths interleaved round by
# round, and each figure is the median of its rounds (requests/s and the two percentiles taken
# separately), so that a noisy minute does not land on one path only.
ROUNDS=${ROUNDS:-3}
declare -A RUNS
measure() {  # NAME THREADS CONNECTIONS PORT: appends "rps p50 p99" to RUNS[NAME]
  RUNS[$1]+="$(wrk_measure "$2" "$3" "http://127.0.0.1:$4/v1/chat/completions" -s "$WORK/post.lua");"
}
column_of() {  # NAME FIELD(1=requests/s, 2=p50, 3=p99) -> that figure of every round, one per line
  echo "${RUNS[$1]}" | tr ';' '\n' | awk -v f="$2" 'NF {print $f}'
}
median() {  # FORMAT -> the median of the numbers on stdin, printed with FORMAT (n/a if none)
  sort -g | awk -v fmt="$1" '{v[NR] = $1}
    END {if (NR == 0) print "n/a"; else printf fmt "\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
median_of() { column_of "$1" "$2" | median "%.10g"; }  # NAME FIELD -> its median over the rounds
PO_RSS_LOAD=0
# CPU time stolen by the hypervisor during the measurements (the 8th field of /proc/stat's cpu
# line): a share above a few percent means the figures of this run are not comparable.
STEAL0=$(awk '/^cpu / {print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
C1_ROUNDS=${C1_ROUNDS:-$((4 * ROUNDS))}
C1_SECONDS=${C1_SECONDS:-2}
SECONDS_PER_RUN=$C1_SECONDS
# promptops' own time per request (its promptops_gateway_overhead_seconds histogram: the request's
# duration in the gateway minus the upstream exchange), over the c1 rounds: the buckets' counts
# before and after them.
overhead_buckets() {  # -> "le count" lines, summed over models
  curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PO_PORT/metrics" |
    awk -F'le="' '/^promptops_gateway_overhead_seconds_bucket/ {split($2, a, "\"} "); c[a[1]] += a[2]}
      END {for (le in c) print le, c[le]}'
}
OVERHEAD0=$(overhead_buckets)
for _ in $(seq 1 "$C1_ROUNDS"); do
  measure D 1 1 "$MOCK_PORT"
  measure P 1 1 "$PO_PORT"
  measure B 1 1 "$PB_PORT"
  [ -z "$PT_PORT" ] || measure T 1 1 "$PT_PORT"
  measure N 1 1 "$PROXY_PORT"
  measure Q 1 1 "$SEP_PORT"
done
OVERHEAD1=$(overhead_buckets)
# "p50 <= X us, p99 <= Y us (N requests)": the smallest bucket bound holding the quantile.
OVERHEAD_C1=$(join -a2 -e0 -o '2.1,1.2,2.2' <(echo "$OVERHEAD0" | sort) <(echo "$OVERHEAD1" | sort) |
  awk '{d = $3 - $2; if ($1 == "+Inf") n = d; else {le[++k] = $1; c[k] = d}}
    END {
      if (n <= 0) {print "n/a"; exit}
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (le[j] + 0 < le[i] + 0) {
        t = le[i]; le[i] = le[j]; le[j] = t; t = c[i]; c[i] = c[j]; c[j] = t }
      q50 = "> " le[k] * 1e6; q99 = q50
      for (i = k; i >= 1; i--) { if (c[i] >= 0.5 * n) q50 = "<= " le[i] * 1e6; if (c[i] >= 0.99 * n) q99 = "<= " le[i] * 1e6 }
      printf "p50 %s us, p99 %s us (%d requests)", q50, q99, n
    }')
SECONDS_PER_RUN=$SECS
for _ in $(seq 1 "$ROUNDS"); do
  measure P64 2 64 "$PO_PORT"
  RSS_NOW=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$PO_PID/status")
  [ "$RSS_NOW" -gt "$PO_RSS_LOAD" ] && PO_RSS_LOAD=$RSS_NOW
  measure N64 2 64 "$PROXY_PORT"
  measure Q64 2 64 "$SEP_PORT"
  measure B64 2 64 "$PB_PORT"
done
# CPU per proxied request at concurrency 64 (perf stat on the proxy's processes for 2 s in the
# middle of a 5 s run; requests from wrk's rate): a cost that the machine's noise moves far less
# than requests/s. promptops (all its threads, trace writer included) against nginx as its own
# process (its workers; the mock's process is not counted for either). CPU time comes from the
# task-clock software event, which every machine has; cycles only where the machine exposes
# hardware counters (a VM often does not). Skipped without perf or when perf may not count
# another process's events.
cpu_per_request() {  # PORT PIDS(comma-separated) -> "CPU_us_per_request kilocycles_per_request", n/a where unknown
  local port=$1 pids=$2 rate
  [ -n "$PERF" ] || { echo "n/a n/a"; return; }
  wrk -t2 -c64 -d5s -s "$WORK/post.lua" "http://127.0.0.1:$port/v1/chat/completions" >"$WORK/cyc_wrk.out" &
  local w=$!
  sleep 1.5
  "$PERF" stat -x, -e task-clock,cycles -p "$pids" -o "$WORK/cyc.txt" -- sleep 2 >/dev/null 2>&1 || true
  wait "$w"
  rate=$(awk '/^Requests\/sec/ {print $2}' "$WORK/cyc_wrk.out")
  # task-clock is in milliseconds of CPU; cycles is a count or "<not supported>".
  awk -F, -v r="${rate:-0}" '
    $3 ~ /^task-clock/ && $1 ~ /^[0-9.]+$/ {ms = $1}
    $3 ~ /^cycles/ && $1 ~ /^[0-9]+$/ {c = $1}
    END {
      if (r <= 0) {print "n/a n/a"; exit}
      printf "%s %s\n", (ms != "" ? sprintf("%.1f", ms * 1000 / (r * 2)) : "n/a"),
                         (c != "" ? sprintf("%.1f", c / (r * 2) / 1000) : "n/a")
    }' "$WORK/cyc.txt" 2>/dev/null || echo "n/a n/a"
}
PERF=$(command -v perf || true)
SEP_WORKERS=$(pgrep -P "$(cat "$WORK/nginx2/nginx.pid")" | paste -sd, -)
CPU_P=() CPU_Q=() CYC_P=() CYC_Q=()
for _ in 1 2 3; do
  read -r us kc <<<"$(cpu_per_request "$PO_PORT" "$PO_PID")"
  CPU_P+=("$us") CYC_P+=("$kc")
  read -r us kc <<<"$(cpu_per_request "$SEP_PORT" "$SEP_WORKERS")"
  CPU_Q+=("$us") CYC_Q+=("$kc")
done
# Throughput ratios per round (the paths of one round ran within the same half minute), median.
round_ratio() {  # A B -> median over rounds of A_i / B_i
  paste -d' ' <(column_of "$1" 1) <(column_of "$2" 1) | awk '$2 > 0 {print $1 / $2}' | median "%.2f"
}
# Added latency at concurrency 1, paired: median over rounds of (NAME_i - D_i) for a field.
paired_added() {  # NAME FIELD(2=p50, 3=p99)
  paste -d' ' <(column_of "$1" "$2") <(column_of D "$2") | awk '{print $1 - $2}' | median "%d"
}
# The paired p99 differences of every round, and how many were at most 50 us.
paired_list() {  # NAME
  paste -d' ' <(column_of "$1" 3) <(column_of D 3) |
    awk '{d = $1 - $2; printf "%d ", d; if (d <= 50) n++} END {printf "(%d of %d rounds <= 50 us)", n, NR}'
}
RATIO_N=$(round_ratio P64 N64)
RATIO_Q=$(round_ratio P64 Q64)
RATIO_BQ=$(round_ratio B64 Q64)
RATIO_BP=$(round_ratio B64 P64)
STEAL1=$(awk '/^cpu / {print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
# Every request through promptops leaves a trace: after the runs, the traces stored must match
# the requests answered, and none may have been dropped (the queue is flushed within 200 ms).
sleep 0.5
METRICS=$(curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PO_PORT/metrics")
PO_REQUESTS=$(echo "$METRICS" | awk '/^promptops_gateway_requests_total/ {s += $2} END {printf "%d", s}')
PO_TRACES=$(echo "$METRICS" | awk '/^promptops_traces_written_total/ {s += $2} END {printf "%d", s}')
PO_DROPPED=$(echo "$METRICS" | awk '/^promptops_trace_queue_dropped_total/ {s += $2} END {printf "%d", s}')
STEAL_PCT=$(echo "$STEAL0 $STEAL1" | awk '{ if ($4 > $2) printf "%.1f", 100 * ($3 - $1) / ($4 - $2); else print "n/a" }')
PATHS="D P B N Q P64 N64 Q64 B64"
[ -z "$PT_PORT" ] || PATHS="D P B T N Q P64 N64 Q64 B64"
for name in $PATHS; do
  read -r "${name}_RPS" "${name}_P50" "${name}_P99" <<<"$(median_of "$name" 1) $(median_of "$name" 2) $(median_of "$name" 3)"
done

# Many concurrent streams from the simulated provider (20 tokens at 20 tokens/s: ~1 s each).
write_chat_lua "$WORK/stream.lua" sim-stream '"stream":true,'
# The kernel's count of connections dropped because a listener's accept queue was full
# (/proc/net/netstat, TcpExt ListenOverflows; machine-wide): a burst of connections that the
# server does not accept fast enough waits for SYN-ACK retransmissions (1 s, 3 s, 7 s).
listen_overflows() {
  awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) col[$i] = i; h = 1 } else print $col["ListenOverflows"] }' /proc/net/netstat 2>/dev/null || echo 0
}
OVERFLOWS0=$(listen_overflows)
STREAM_OUT=$(wrk -t2 -c"$STREAMS" -d"${SECS}s" --timeout 10s --latency -s "$WORK/stream.lua" "http://127.0.0.1:$PO_PORT/v1/chat/completions" &
  WRK=$!; sleep $((SECS / 2)); awk '/VmRSS/ {print "RSS_MB " int($2/1024)}' "/proc/$PO_PID/status"; wait $WRK)
S_RSS=$(echo "$STREAM_OUT" | awk '/RSS_MB/ {print $2}')
S_RPS=$(echo "$STREAM_OUT" | awk '/Requests\/sec/ {print $2}')
S_P50=$(to_us "$(echo "$STREAM_OUT" | awk '$1=="50%" {print $2}')")
S_P99=$(to_us "$(echo "$STREAM_OUT" | awk '$1=="99%" {print $2}')")
S_ERR=$(echo "$STREAM_OUT" | awk '/Socket errors/ {print}' | tr -d '\n')
S_NON2XX=$(echo "$STREAM_OUT" | awk '/Non-2xx/ {print $NF}')
S_OVERFLOWS=$(($(listen_overflows) - OVERFLOWS0))

mkdir -p "$ROOT/bench/results"
{
  echo "## Gateway: promptops vs nginx proxy_pass in front of the same mock upstream"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores shared by wrk, nginx and promptops. Concurrency 1: medians of"
  echo "$C1_ROUNDS interleaved rounds of ${C1_SECONDS}s; \"added\" is the median over rounds of the path's figure minus the"
  echo "direct path's in the same round. Concurrency 64: medians of $ROUNDS interleaved rounds of ${SECS}s."
  echo "Mock upstream: nginx (1 worker) returning a fixed chat.completion; traces and metrics on, cache off."
  echo "CPU time stolen by the hypervisor during the request/s runs: ${STEAL_PCT}%."
  echo
  echo "| path | concurrency | requests/s | p50 us | p99 us | added p50 us | added p99 us |"
  echo "|---|---|---|---|---|---|---|"
  echo "| client -> mock (direct) | 1 | $D_RPS | $D_P50 | $D_P99 | 0 | 0 |"
  echo "| client -> promptops -> mock | 1 | $P_RPS | $P_P50 | $P_P99 | $(paired_added P 2) | $(paired_added P 3) |"
  echo "| client -> promptops with busy polling (${BUSY_POLL_US} us) -> mock | 1 | $B_RPS | $B_P50 | $B_P99 | $(paired_added B 2) | $(paired_added B 3) |"
  [ -z "$PT_PORT" ] || echo "| client -> promptops (data directory on tmpfs) -> mock | 1 | $T_RPS | $T_P50 | $T_P99 | $(paired_added T 2) | $(paired_added T 3) |"
  echo "| client -> nginx proxy_pass (mock's worker) -> mock | 1 | $N_RPS | $N_P50 | $N_P99 | $(paired_added N 2) | $(paired_added N 3) |"
  echo "| client -> nginx proxy_pass (own process, 2 workers) -> mock | 1 | $Q_RPS | $Q_P50 | $Q_P99 | $(paired_added Q 2) | $(paired_added Q 3) |"
  echo "| client -> promptops -> mock | 64 | $P64_RPS | $P64_P50 | $P64_P99 | | |"
  echo "| client -> nginx proxy_pass (mock's worker) -> mock | 64 | $N64_RPS | $N64_P50 | $N64_P99 | | |"
  echo "| client -> nginx proxy_pass (own process, 2 workers) -> mock | 64 | $Q64_RPS | $Q64_P50 | $Q64_P99 | | |"
  echo "| client -> promptops with busy polling (${BUSY_POLL_US} us) -> mock | 64 | $B64_RPS | $B64_P50 | $B64_P99 | | |"
  echo
  echo "promptops' own time per request at concurrency 1 (promptops_gateway_overhead_seconds over the"
  echo "c1 rounds: the request's time in the gateway minus the upstream exchange; bucket bounds): $OVERHEAD_C1."
  echo
  echo "Added p99 at concurrency 1 in each round (path minus direct, us):"
  for name in P B T N Q; do
    [ -n "${RUNS[$name]:-}" ] && echo "- $name: $(paired_list "$name")"
  done
  echo
  echo "Max throughput at concurrency 64 (median over rounds of the ratio within a round):"
  echo "promptops / nginx proxy_pass sharing the mock's worker **$RATIO_N**;"
  echo "promptops / nginx proxy_pass as its own 2-worker process **$RATIO_Q**;"
  echo "promptops with busy polling / nginx proxy_pass as its own process **$RATIO_BQ**"
  echo "(busy polling / default promptops: $RATIO_BP)."
  echo "CPU per proxied request at concurrency 64 (3 runs each): promptops ${CPU_P[*]} us"
  echo "(${CYC_P[*]} thousand cycles); nginx proxy_pass as its own process ${CPU_Q[*]} us (${CYC_Q[*]} thousand cycles)."
  echo "promptops RSS under that load: ${PO_RSS_LOAD} MiB (highest after a round). Traces: ${PO_TRACES} stored for"
  echo "${PO_REQUESTS} gateway requests, ${PO_DROPPED} dropped. Requests/s of every round:"
  for name in $PATHS; do echo "- $name: $(column_of "$name" 1 | paste -sd' ' -)"; done
  echo
  echo "Concurrent streams: $STREAMS connections streaming from the simulated provider (20 tokens at"
  echo "20 tokens/s each): $S_RPS completed streams/s, stream duration p50 $S_P50 us, p99 $S_P99 us,"
  echo "non-2xx: ${S_NON2XX:-0}; ${S_ERR:-no socket errors}. promptops RSS mid-run: ${S_RSS} MiB."
  echo "Connections dropped by a full accept queue meanwhile (TcpExt ListenOverflows): ${S_OVERFLOWS}."
} | tee "$ROOT/bench/results/gateway.md"
