#!/usr/bin/env bash
# SIP against the release daemon, beside RouteCall over gRPC, on one daemon (the
# shipped config, its store on) in one run:
# - SIPp at fixed offered rates (open loop): what the redirect server sustains, with
#   failures and retransmissions;
# - grpc_load's client process in the same closed loop over SIP (--sip-client: INVITE,
#   302, ACK) and over gRPC (--client: RouteCall), at 1 and 16 in flight: throughput and
#   latency in microseconds (SIPp measures only whole milliseconds).
# Callers are grpc_load's mix: four in five a sample customer, one in five a stranger.
# Needs sipp (apt-get install -y sip-tester).
#
#   benches/sip_load.sh            rates 100, 1000, 2000, 4000 calls/s, 10 s each
#   RATES="500 3000" SECONDS_EACH=5 benches/sip_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v sipp >/dev/null || { echo "sipp not found: apt-get install -y sip-tester" >&2; exit 1; }
rates=${RATES:-100 1000 2000 4000}
each=${SECONDS_EACH:-10}

cargo build --release -p switchboard -q
load=$(cargo bench -p switchboard-benches --bench grpc_load --no-run 2>&1 \
  | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
work=$(mktemp -d)
trap 'kill $daemon 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r config "$work/config"
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sip_port=$(free_port)
cat >> "$work/config/switchboard.toml" <<TOML

[sip]
listen_udp = "127.0.0.1:$sip_port"
ivr_uri = "sip:ivr-{menu}@127.0.0.1:5999"
hold_uri = "sip:hold-{queue}@127.0.0.1:5999"

[[sip.peers]]
address = "127.0.0.1"
switch_id = "bench"
TOML
# The callers, as grpc_load makes them.
python3 - "$work/callers.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("SEQUENTIAL\n")
    for n in range(200_000):
        f.write(f"+1907555{n % 10_000:04d}\n" if n % 5 == 4 else f"+121255501{n % 8 + 1:02d}\n")
PY
(cd "$work" && exec "$OLDPWD/target/release/switchboard" serve --config config/switchboard.toml \
  --listen 127.0.0.1:0 --metrics-listen off > daemon.log 2>&1) &
daemon=$!
for _ in $(seq 100); do
  grpc=$(sed -n 's/.*switchboard serving gRPC address=\([^ ]*\).*/\1/p' "$work/daemon.log")
  [ -n "$grpc" ] && break
  sleep 0.1
done
[ -n "$grpc" ] || { cat "$work/daemon.log"; exit 1; }

percentiles() { # stdin: one latency per line in microseconds
  sort -n | awk '{ v[NR] = $1 } END { printf "p50 %.0f us, p99 %.0f us", v[int(NR * 0.5 + 0.5)], v[int(NR * 0.99 + 0.5)] }'
}

echo "SIP: INVITE to 302 (SIPp, UDP, open loop at a fixed rate)"
for rate in $rates; do
  dir="$work/sipp-$rate"; mkdir -p "$dir"
  calls=$((rate * each))
  (cd "$dir" && sipp "127.0.0.1:$sip_port" -sf "$OLDPWD/benches/sipp/invite.xml" -inf "$work/callers.csv" \
    -r "$rate" -m "$calls" -l $((rate * 2)) -i 127.0.0.1 -p "$(free_port)" -nostdin \
    -trace_stat -stf stat.csv -timeout $((each * 3))s > sipp.out 2>&1) || true
  stats=$(tail -1 "$dir/stat.csv")
  header=$(head -1 "$dir/stat.csv")
  col() { echo "$header" | tr ';' '\n' | grep -nx "$1" | cut -d: -f1; }
  value() { echo "$stats" | cut -d';' -f"$(col "$1")"; }
  printf '  offered %5d/s: achieved %s/s, %s calls ok, %s failed, %s retransmissions\n' \
    "$rate" "$(value 'CallRate(C)')" "$(value 'SuccessfulCall(C)')" "$(value 'FailedCall(C)')" \
    "$(value 'Retransmissions(C)')"
done

echo "Closed loop, grpc_load's client process: SIP (INVITE, 302, ACK over UDP) beside gRPC (RouteCall)"
for clients in 1 16; do
  for mode in sip grpc; do
    if [ $mode = sip ]; then
      out=$("$load" --sip-client "127.0.0.1:$sip_port" "sip-$clients-$$" "$clients" $((each * 1000)))
    else
      out=$("$load" --client "$grpc" "grpc-$clients-$$" "$clients" $((each * 1000)))
    fi
    # sed reads all its input (head would close the pipe early and fail the script).
    rps=$(printf '%s\n' "$out" | sed -n '1s/^rps //p')
    lat=$(printf '%s\n' "$out" | sed 1d | awk '{ printf "%.0f\n", $1 / 1000 }' | percentiles)
    printf '  %2d in flight, %-4s: %6.0f/s; %s\n' "$clients" "$mode" "$rps" "$lat"
  done
done
