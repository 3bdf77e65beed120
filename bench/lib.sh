# Shared by the benchmark scripts (sourced, not run). Sets ROOT, BIN, WORK, KEY and PIDS, removes
# WORK and stops every started process on exit, and provides the helpers below.
#   BUILD must be set before sourcing.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/$BUILD/promptops"
WORK=$(mktemp -d /tmp/promptops-bench-XXXXXX)
KEY="po-bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PIDS=()
EXTRA_DIRS=()  # more directories to remove on exit (e.g. a data directory on tmpfs)
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK" "${EXTRA_DIRS[@]}"
}
trap cleanup EXIT

for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (run scripts/setup)"; exit 1; }
done

# start_promptops ARGS...: `promptops serve` on a free port with the bench admin key; sets PO_PID
# and PO_PORT, or exits with the server's log. Its data directory is PO_DATA (default
# WORK/data) and its output goes to PO_OUT.out and PO_OUT.err (default WORK/serve). PO_WRAP, if
# set, is a command that runs it (e.g. valgrind with its options); PO_BIN another binary.
start_promptops() {
  local data=${PO_DATA:-$WORK/data} out=${PO_OUT:-$WORK/serve}
  # shellcheck disable=SC2086 # PO_WRAP is a command with its arguments
  PROMPTOPS_ADMIN_KEY="$KEY" ${PO_WRAP:-} "${PO_BIN:-$BIN}" serve --listen 127.0.0.1:0 \
    --data "$data" --log-level warn "$@" >"$out.out" 2>"$out.err" &
  PO_PID=$!
  PIDS+=("$PO_PID")
  for _ in $(seq 1 300); do
    grep -q "listening on" "$out.out" 2>/dev/null && break
    sleep 0.1
  done
  PO_PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out.out")
  [ -n "$PO_PORT" ] || { echo "bench: promptops did not start"; cat "$out.err"; exit 1; }
}

# free_port NAME: sets variable NAME to a TCP port on 127.0.0.1 that nothing listens on now,
# below the ephemeral port range, and that this run has not handed out before (bash's /dev/tcp:
# no other tool needed). Not called in $(...): the ports handed out are remembered in this shell.
USED_PORTS=" "
free_port() {
  # Below the kernel's ephemeral range, where no client socket of this run can hold the port.
  local p low
  low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  for _ in $(seq 1 500); do
    p=$((10000 + RANDOM % (low - 10000)))
    [[ "$USED_PORTS" == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED_PORTS+="$p "
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  echo "bench: no free port found" >&2
  return 1
}

# start_nginx NAME WORKERS HTTP_BLOCK: runs nginx in the foreground (stopped on exit) with its
# own prefix WORK/NAME, WORKERS worker processes, no access log, long keep-alive, and
# HTTP_BLOCK (upstream and server blocks) inside `http { }`. Returns when it accepts connections
# on the first `listen` address of HTTP_BLOCK.
start_nginx() {
  local dir="$WORK/$1"
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<CONF
worker_processes $2;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 10000000;
$3
}
CONF
  nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;' &
  PIDS+=($!)
  local port
  port=$(echo "$3" | sed -n 's/.*listen 127.0.0.1:\([0-9]*\).*/\1/p' | head -1)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: nginx $1 did not start"
  cat "$dir/error.log"
  exit 1
}

# to_us 24.00us|1.16ms|1.02s -> microseconds (wrk's latency notation).
to_us() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'
}

# wrk_measure THREADS CONNECTIONS URL [wrk options...] -> "requests/s p50_us p99_us".
wrk_measure() {
  local threads=$1 conns=$2 url=$3
  shift 3
  local out
  out=$(wrk -t"$threads" -c"$conns" -d"${SECONDS_PER_RUN}s" --latency "$@" "$url")
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(to_us "$(echo "$out" | awk '$1=="50%" {print $2}')") $(to_us "$(echo "$out" | awk '$1=="99%" {print $2}')")"
}

# The mock upstream's answer: a fixed chat.completion (no model behind it).
MOCK_COMPLETION='{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"mock","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the mock upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}'

# write_chat_lua FILE MODEL [EXTRA_JSON]: a wrk script that POSTs a one-message chat completion
# for MODEL with the bench key (EXTRA_JSON: more members, e.g. '"stream":true,').
write_chat_lua() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"$2",${3:-}"messages":[{"role":"user","content":"Say hello."}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
