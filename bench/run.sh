#!/usr/bin/env bash
# `make bench`: throughput and latency of the token flow, against a bare actix-web baseline
# measured in the same run on the same machine.
#
# Installs wrk (Debian) when missing, builds in release mode, then on 127.0.0.1 only:
#   baseline          examples/bench_baseline.rs: the exchange's request and response shape,
#                     no storage, measured first and again last; every other result is
#                     also given as a ratio to the mean of the two
#   node-oidc-provider  bench/oidc-provider/server.mjs, in memory: the same exchange at its
#                     /token, when node and npm are installed (packages from its lockfile)
#   SQLite            `serve --sandbox` on a fresh database: authorization codes, token
#                     exchange (one fresh code per request), introspection
#   PostgreSQL        authorization codes and exchange again, when 127.0.0.1:5432 answers
#                     (a fresh database, dropped at the end)
#   long exchange     LONG_SECONDS of exchanges in ten back-to-back slices on the SQLite
#                     server: the rate of the last tenth against the first
# and prints one table, also written to target/bench/report.md: per phase the rate, the
# latencies, the server's peak RSS and the CPU time per request of the server (and of the
# local PostgreSQL) and of wrk.
#
# Codes live at most 600 s, so they are minted per phase, just before the phase, sized from
# the measured exchange rate (a short probe) and minting rate. Minting itself is the
# authorization-codes benchmark. The disk is synced between that minting and the measured
# exchange (see exchange_phase).
#
# About five minutes by default on 2 cores, plus the release build.
#
# Environment (defaults in brackets):
#   BENCH_DURATION  seconds per measured phase [10]        LONG_SECONDS  long run [60]
#   BENCH_CONNECTIONS  wrk -c [64]   BENCH_THREADS  wrk -t [2]
#   BENCH_QUICK=1   3 s phases and LONG_SECONDS=10: checks the harness works
#   BENCH_POSTGRES=0  skip PostgreSQL even when it is reachable
#   BENCH_OIDC=0    skip node-oidc-provider
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    duration="${BENCH_DURATION:-3}"; long_seconds="${LONG_SECONDS:-10}"; probe=1
else
    duration="${BENCH_DURATION:-10}"; long_seconds="${LONG_SECONDS:-60}"; probe=2
fi
connections="${BENCH_CONNECTIONS:-64}"
threads="${BENCH_THREADS:-2}"
code_ttl=600
mint_factor=1.3 # codes minted per expected exchange
report_dir="$root/target/bench"

step() { printf '\n---- bench: %s ----\n' "$*" >&2; }
note() { printf '%s\n' "$*" >&2; }
# Float arithmetic: calc 'expression' (awk), printed with the given format.
calc() { awk "BEGIN { printf \"${2:-%.0f}\", ($1) }"; }

workdir="$(mktemp -d)"
server_pids=()
pg_db=""
cleanup() {
    local pid
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$pg_db" ]; then dropdb -h 127.0.0.1 -U postgres --if-exists "$pg_db" || true; fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------
step "tools and release build"
if ! command -v wrk >/dev/null; then
    note "installing wrk from Debian"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --locked
cargo build --release --locked --example bench_baseline
service_bin="$root/target/release/obie-tokens"
baseline_bin="$root/target/release/examples/bench_baseline"

# ---------------------------------------------------------------------------------------
# Servers. start_server NAME COMMAND...: starts it, waits for "listening on http://ADDR" in
# its log; sets server_pid and server_url.
start_server() {
    local name="$1"; shift
    local log="$workdir/$name.log" address=""
    RUST_LOG=warn,obie_tokens::app=info "$@" >"$log" 2>&1 &
    server_pid=$!
    server_pids+=("$server_pid")
    for _ in $(seq 1 300); do
        address="$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$log" | sed -n 1p)"
        [ -n "$address" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$address" ]; then
        note "$name did not start:"; cat "$log" >&2; exit 1
    fi
    server_url="$address"
    note "$name: pid $server_pid at $server_url"
}
stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local pid kept=()
    for pid in "${server_pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    server_pids=("${kept[@]}")
}
rss_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# CPU time (user + system) in clock ticks: of process $1 with all its threads, and of the
# local PostgreSQL server's processes (0 when none runs).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
postgres_ticks() {
    local pid total=0
    for pid in $(pgrep -x postgres 2>/dev/null); do total=$(( total + $(cpu_ticks "$pid") )); done
    echo "$total"
}
ticks_per_second="$(getconf CLK_TCK)"

# ---------------------------------------------------------------------------------------
# run_wrk SCRIPT URL SECONDS [ENV=VALUE...]: one wrk run against the server $server_pid;
# the figures land in $workdir/result (key=value), plus rss_sampled_kib and rss_peak_kib
# (the server's VmHWM, its peak since it started) and the CPU time, in µs, that the server
# (server_cpu_us), the local PostgreSQL (database_cpu_us) and wrk (wrk_cpu_us) used during
# the run; the command line in last_command.
run_wrk() {
    local script="$1" url="$2" seconds="$3"; shift 3
    local result="$workdir/result" max_rss=0 rss
    rm -f "$result"
    local cmd=(wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 10s
        -s "bench/lua/$script" "$url")
    local server_before database_before
    server_before="$(cpu_ticks "$server_pid")"
    database_before="$(postgres_ticks)"
    # bash's `time` gives wrk's own CPU (user and system seconds) once it exits.
    {
        TIMEFORMAT='%U %S'
        time env BENCH_LUA_DIR="$here/lua" BENCH_THREADS="$threads" BENCH_RESULT="$result" \
            "$@" "${cmd[@]}" >"$workdir/wrk.out" 2>&1
    } 2>"$workdir/wrk.time" &
    local wrk_pid=$!
    # Sample the server's resident set while wrk runs (bounded: wrk stops after $seconds).
    for _ in $(seq 1 $(( (seconds + 30) * 4 ))); do
        kill -0 "$wrk_pid" 2>/dev/null || break
        rss="$(rss_kib "$server_pid" VmRSS)"
        if [ "${rss:-0}" -gt "$max_rss" ]; then max_rss="$rss"; fi
        sleep 0.25
    done
    if ! wait "$wrk_pid" || [ ! -s "$result" ]; then
        note "wrk failed:"; cat "$workdir/wrk.out" >&2; exit 1
    fi
    local server_after database_after
    server_after="$(cpu_ticks "$server_pid")"
    database_after="$(postgres_ticks)"
    {
        echo "rss_sampled_kib=$max_rss"
        echo "rss_peak_kib=$(rss_kib "$server_pid" VmHWM)"
        echo "server_cpu_us=$(( (server_after - server_before) * 1000000 / ticks_per_second ))"
        echo "database_cpu_us=$(( (database_after - database_before) * 1000000 / ticks_per_second ))"
        echo "wrk_cpu_us=$(awk '{ printf "%.0f", ($1 + $2) * 1e6 }' "$workdir/wrk.time")"
    } >>"$result"
    last_command="${*:+$* }${cmd[*]}"
}
get() { sed -n "s/^$1=//p" "$workdir/result"; }

# ---------------------------------------------------------------------------------------
# Table rows: scenario|requests/s|p50|p99|p99.9|non-2xx|peak RSS KiB|CPU µs per request of
# the server|of the local PostgreSQL|of wrk
# commands: the wrk command line of each row.
rows=()
commands=()
add_row() {
    local scenario="$1" non2xx exhausted
    non2xx="$(get non2xx)"
    exhausted="$(get exhausted)"
    if [ "$exhausted" -gt 0 ]; then
        note "WARNING: $scenario ran out of codes: $exhausted requests were sent with a dummy code"
        non2xx="$non2xx ($exhausted out of codes)"
    fi
    local requests server_cpu database_cpu wrk_cpu
    requests="$(get requests)"
    server_cpu="$(calc "$(get server_cpu_us) / $requests" %.1f)"
    database_cpu="$(calc "$(get database_cpu_us) / $requests" %.1f)"
    wrk_cpu="$(calc "$(get wrk_cpu_us) / $requests" %.1f)"
    commands+=("# $scenario" "$last_command")
    rows+=("$scenario|$(get rps)|$(get p50_us)|$(get p99_us)|$(get p999_us)|$non2xx|$(get rss_peak_kib)|$server_cpu|$database_cpu|$wrk_cpu")
    note "$scenario: $(get rps) requests/s, p50 $(get p50_us) µs, p99 $(get p99_us) µs, p99.9 $(get p999_us) µs, non-2xx $(get non2xx), socket errors $(get socket_errors), peak RSS $(get rss_peak_kib) KiB (sampled max $(get rss_sampled_kib) KiB), CPU per request: server $server_cpu µs, PostgreSQL $database_cpu µs, wrk $wrk_cpu µs"
}

# mint URL SECONDS OUTFILE [SCENARIO]: mints codes for SECONDS into OUTFILE (one a line);
# sets minted and mint_rate (codes/s). With SCENARIO, it is also a row of the table.
mint() {
    local url="$1" seconds="$2" out="$3" scenario="${4:-}"
    local dir="$workdir/parts"
    rm -rf "$dir"; mkdir -p "$dir"
    run_wrk mint.lua "$url/v1/obie/authorization_codes" "$seconds" BENCH_RECORD_DIR="$dir"
    cat "$dir"/part.* >"$out"
    minted="$(wc -l <"$out")"
    mint_rate="$(calc "$minted / ($(get duration_us) / 1e6)" %.1f)"
    if [ -n "$scenario" ]; then add_row "$scenario"; fi
    note "minted $minted codes ($mint_rate/s)"
}

# exchange URL CODES SECONDS [SCENARIO]: exchanges the codes in file CODES for SECONDS;
# sets exchanged (2xx) and sizing_rate, the rate to mint for next time: 2xx per second,
# or every answer per second when codes ran out (an overestimate, as failures are cheap).
# exchange_script and exchange_path name the wrk script and the endpoint.
exchange_script=exchange.lua
exchange_path=/v1/obie/tokens
exchange() {
    local url="$1" codes="$2" seconds="$3" scenario="${4:-}"
    run_wrk "$exchange_script" "$url$exchange_path" "$seconds" BENCH_INPUT="$codes"
    exchanged=$(( $(get requests) - $(get non2xx) ))
    if [ "$(get exhausted)" -gt 0 ]; then
        sizing_rate="$(get rps)"
        note "NOTE: $(get exhausted) requests ran out of codes"
    else
        sizing_rate="$(calc "$exchanged / ($(get duration_us) / 1e6)" %.1f)"
    fi
    if [ -n "$scenario" ]; then add_row "$scenario"; fi
}

# fresh_codes URL SECONDS RATE OUTFILE: mints codes for SECONDS of exchanges at RATE, with
# a margin, in at most four wrk runs, all within the codes' life.
fresh_codes() {
    local url="$1" seconds="$2" rate="$3" out="$4"
    local need total=0 mint_seconds started=$SECONDS longest=$(( code_ttl - seconds - 60 ))
    need="$(calc "$rate * $seconds * $mint_factor")"
    : >"$out"
    for _ in 1 2 3 4; do
        mint_seconds="$(calc "($need - $total) / $mint_rate + 1")"
        if (( mint_seconds > longest - (SECONDS - started) )); then
            mint_seconds=$(( longest - (SECONDS - started) ))
        fi
        if (( mint_seconds < 1 )); then break; fi
        note "minting $(( need - total )) more codes (~${mint_seconds}s) for ${seconds}s of exchanges at ~$rate/s"
        mint "$url" "$mint_seconds" "$workdir/more-codes"
        cat "$workdir/more-codes" >>"$out"
        total=$(( total + minted ))
        if (( total >= need )); then break; fi
    done
    note "minted $total codes for ${seconds}s of exchanges"
}

# exchange_phase URL LABEL: the exchange benchmark on one server: minting (measured), a
# probe of the exchange rate, minting sized from it, then the measured exchange.
exchange_phase() {
    local url="$1" label="$2"
    step "$label: authorization codes"
    mint "$url" "$duration" "$workdir/codes" "authorization codes, $label"
    step "$label: exchange rate probe (${probe}s, warm-up)"
    exchange "$url" "$workdir/codes" "$probe"
    step "$label: token exchange"
    fresh_codes "$url" "$duration" "$sizing_rate" "$workdir/codes"
    # PostgreSQL's minting just before leaves hundreds of MiB of its writes in the kernel's
    # page cache, which writes them back once they are 30 s old (vm.dirty_expire_centisecs),
    # in one burst that lands inside this measurement and holds up its WAL flushes by tens
    # of ms (docs/performance.md). The exchange is measured on a clean disk instead, its
    # own writes still going through the same kernel; SQLite's phase is synced too, so that
    # both are measured alike.
    sync
    exchange "$url" "$workdir/codes" "$duration" "token exchange, $label"
}

# ---------------------------------------------------------------------------------------
# baseline_phase SCENARIO: the bare baseline, a warm-up then the measured run, as a row.
# It runs first and again last; every ratio is to the mean of the two, so that a machine
# whose speed drifts during the run moves the denominator with it.
baseline_phase() {
    step "$1"
    start_server baseline "$baseline_bin"
    local pid="$server_pid"
    # Any code works there: with no input file every request carries the same dummy code,
    # as long as a real one.
    run_wrk exchange.lua "$server_url/v1/obie/tokens" "$probe" BENCH_INPUT=/dev/null # warm-up
    run_wrk exchange.lua "$server_url/v1/obie/tokens" "$duration" BENCH_INPUT=/dev/null
    sed -i "s/^exhausted=.*/exhausted=0/" "$workdir/result" # every request is a valid one there
    add_row "$1"
    stop_server "$pid"
}
baseline_phase "baseline (bare actix-web, no storage)"
baseline_first_rps="$(get rps)"

# ---------------------------------------------------------------------------------------
# node-oidc-provider (bench/oidc-provider/server.mjs), in memory: the same exchange of one
# fresh code per request, at its own /token. Its codes are minted the same way, but through
# its models rather than an API of the same shape, so only the exchange is a row.
oidc_note="node-oidc-provider: not run (node and npm are needed)"
oidc_rps=""
if [ "${BENCH_OIDC:-1}" = 0 ]; then
    oidc_note="node-oidc-provider: skipped (BENCH_OIDC=0)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    note "node-oidc-provider: skipped, node and npm are not installed"
elif ! (cd "$here/oidc-provider" && npm ci --ignore-scripts --no-audit --no-fund --silent); then
    oidc_note="node-oidc-provider: not run (npm ci in bench/oidc-provider failed)"
else
    step "node-oidc-provider: the same exchange, in memory"
    start_server oidc-provider node "$here/oidc-provider/server.mjs"
    oidc_pid="$server_pid"
    mint "$server_url" "$probe" "$workdir/codes"
    exchange_script=oidc_exchange.lua exchange_path=/token
    exchange "$server_url" "$workdir/codes" "$probe" # warm-up, and the rate to mint for
    fresh_codes "$server_url" "$duration" "$sizing_rate" "$workdir/codes"
    exchange "$server_url" "$workdir/codes" "$duration" "token exchange, node-oidc-provider (in memory)"
    exchange_script=exchange.lua exchange_path=/v1/obie/tokens
    oidc_rps="$(get rps)"
    stop_server "$oidc_pid"
    oidc_note="node-oidc-provider: $(node -p "require('$here/oidc-provider/node_modules/oidc-provider/package.json').version") on Node $(node --version), one process, its store an unbounded in-memory map"
fi

# ---------------------------------------------------------------------------------------
step "SQLite: serve --sandbox on a fresh database"
sqlite_args=(serve --sandbox --bind 127.0.0.1:0 --database-url "sqlite://$workdir/bench.db"
    --auth-code-ttl "$code_ttl" --auth-failure-limit 0)
start_server sqlite "$service_bin" "${sqlite_args[@]}"
sqlite_pid="$server_pid"
sqlite_url="$server_url"
exchange_phase "$sqlite_url" SQLite
sqlite_exchange_rate="$sizing_rate"
sqlite_exchange_row_rps="$(get rps)"

step "SQLite: introspection"
mint "$sqlite_url" "$probe" "$workdir/codes"
rm -rf "$workdir/parts"; mkdir -p "$workdir/parts"
run_wrk exchange.lua "$sqlite_url/v1/obie/tokens" \
    "$(calc "$minted / $sqlite_exchange_rate * 1.5 + 1")" \
    BENCH_INPUT="$workdir/codes" BENCH_RECORD_DIR="$workdir/parts"
cat "$workdir/parts"/part.* >"$workdir/tokens"
note "introspecting $(wc -l <"$workdir/tokens") access tokens"
run_wrk introspect.lua "$sqlite_url/v1/obie/tokens/introspection" "$duration" \
    BENCH_INPUT="$workdir/tokens"
add_row "introspection, SQLite"

# ---------------------------------------------------------------------------------------
step "long exchange: ${long_seconds}s in ten slices on the same SQLite server"
slice="$(calc "$long_seconds / 10 < 1 ? 1 : $long_seconds / 10")"
rate="$sqlite_exchange_rate" # the fastest seen so far: codes must not run out
long_total=0
long_exhausted=0
long_seconds_run=0
for i in $(seq 1 10); do
    fresh_codes "$sqlite_url" "$slice" "$rate" "$workdir/codes"
    exchange "$sqlite_url" "$workdir/codes" "$slice"
    rate="$(calc "$sizing_rate > $rate ? $sizing_rate : $rate" %.1f)"
    long_total=$(( long_total + exchanged ))
    long_exhausted=$(( long_exhausted + $(get exhausted) ))
    long_seconds_run="$(calc "$long_seconds_run + $(get duration_us) / 1e6" %.1f)"
    case "$i" in
        1) add_row "long exchange, SQLite: first tenth"; long_first="$(get rps)" ;;
        10) add_row "long exchange, SQLite: last tenth"; long_last="$(get rps)" ;;
    esac
    note "slice $i/10: $(get rps) requests/s, $exchanged exchanged"
done
long_ratio="$(calc "$long_last / $long_first" %.2f)"
stop_server "$sqlite_pid"

# ---------------------------------------------------------------------------------------
pg_note="PostgreSQL: not run (nothing answers on 127.0.0.1:5432)"
if [ "${BENCH_POSTGRES:-1}" = 0 ]; then
    pg_note="PostgreSQL: skipped (BENCH_POSTGRES=0)"
elif command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
    step "PostgreSQL: serve --sandbox on a fresh database"
    if createdb -h 127.0.0.1 -U postgres "obie_bench_$$"; then
        pg_db="obie_bench_$$"
        start_server postgres "$service_bin" serve --sandbox --bind 127.0.0.1:0 \
            --database-url "postgres://postgres@127.0.0.1:5432/$pg_db" \
            --auth-code-ttl "$code_ttl" --auth-failure-limit 0
        exchange_phase "$server_url" PostgreSQL
        stop_server "$server_pid"
        pg_note="PostgreSQL: $(psql -h 127.0.0.1 -U postgres -Atc 'show server_version' 2>/dev/null || echo '?') on 127.0.0.1:5432, fresh database $pg_db"
    else
        pg_note="PostgreSQL: not run (createdb -h 127.0.0.1 -U postgres failed)"
    fi
fi

# ---------------------------------------------------------------------------------------
baseline_phase "baseline again, after the other phases"
baseline_last_rps="$(get rps)"
baseline_rps="$(calc "($baseline_first_rps + $baseline_last_rps) / 2" %.1f)"

# ---------------------------------------------------------------------------------------
ms() { calc "$1 / 1000" %.2f; }
mib() { calc "$1 / 1024" %.1f; }
{
    echo "# obie-tokens benchmark"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (with uncommitted changes)')"
    echo
    echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r); wrk $(wrk -v 2>&1 | sed -n 1p | awk '{print $2}') on the same machine (-t$threads -c$connections). Load average (1, 5, 15 min) before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| scenario | requests/s | p50 ms | p99 ms | p99.9 ms | non-2xx | peak RSS MiB | server CPU µs/request | wrk CPU µs/request | × baseline |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for row in "${rows[@]}"; do
        IFS='|' read -r scenario rps p50 p99 p999 non2xx rss server_cpu database_cpu wrk_cpu \
            <<<"$row"
        # A PostgreSQL row's work is split between this server and the database's processes.
        if [[ "$scenario" == *PostgreSQL* ]]; then
            server_cpu="$server_cpu + $database_cpu PostgreSQL"
        fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$scenario" \
            "$(calc "$rps" %.0f)" "$(ms "$p50")" "$(ms "$p99")" "$(ms "$p999")" "$non2xx" \
            "$(mib "$rss")" "$server_cpu" "$wrk_cpu" "$(calc "$rps / $baseline_rps" %.2f)"
    done
    echo
    echo "- ${duration} s per phase; requests/s counts every answered request; latencies are wrk's, from sending to the complete response; non-2xx counts responses with status ≥ 400; peak RSS is the server's VmHWM (its peak since start: SQLite rows share one server)."
    echo "- CPU µs/request: the CPU time (user and system) used during the phase, divided by the requests answered: the server's process (\`/proc/<pid>/stat\`), for PostgreSQL rows plus the local PostgreSQL server's processes, and wrk's own (bash's \`time\`). The load generator shares the $(nproc) cores, so what a request costs in all is the sum of the two columns."
    echo "- Long exchange: ${long_seconds} s in ten slices of ${slice} s on one growing SQLite database, fresh codes minted before each slice: last tenth / first tenth = **$long_ratio**; $long_total tokens exchanged in ${long_seconds_run} s of exchange; $long_exhausted requests ran out of codes."
    echo "- × baseline: against the mean of the two baseline runs, $(calc "$baseline_first_rps" %.0f) requests/s first and $(calc "$baseline_last_rps" %.0f) last: $(calc "$baseline_rps" %.0f)/s."
    echo "- $pg_note."
    if [ -n "$oidc_rps" ]; then
        echo "- $oidc_note: obie-tokens' token exchange on SQLite ran at **$(calc "$sqlite_exchange_row_rps / $oidc_rps" %.1f)×** its rate."
    else
        echo "- $oidc_note."
    fi
    echo
    echo "Commands (from the repository root; BENCH_LUA_DIR=bench/lua, BENCH_THREADS=$threads; URLs on 127.0.0.1, port chosen by the OS):"
    echo
    echo '```sh'
    echo "BENCH_QUICK=${BENCH_QUICK:-0} BENCH_DURATION=$duration LONG_SECONDS=$long_seconds make bench"
    echo "RUST_LOG=warn,obie_tokens::app=info target/release/examples/bench_baseline"
    if [ -n "$oidc_rps" ]; then echo "node bench/oidc-provider/server.mjs"; fi
    echo "RUST_LOG=warn,obie_tokens::app=info target/release/obie-tokens ${sqlite_args[*]/$workdir/\$TMP}"
    for command in "${commands[@]}"; do echo "${command//$workdir/\$TMP}"; done | sed -E 's#http://127\.0\.0\.1:[0-9]+#http://$ADDR#' 
    echo '```'
} >"$workdir/report.md"
mkdir -p "$report_dir"
cp "$workdir/report.md" "$report_dir/report.md"
step "report (also in target/bench/report.md)"
cat "$report_dir/report.md"
