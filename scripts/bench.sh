#!/usr/bin/env bash
# make bench: end-to-end speed and memory of `chainline analyze` at scale 1 and 4,
# per-stage times from run.json, a query on the scale-4 timeline, and MVT's
# `mvt-ios check-backup` on the same scale-1 backup when pip can install it.
# Everything is written under bench/ (git-ignored). See docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET/release/chainline"
# The sample generator is its own crate (crates/sample), not part of chainline.
GEN="$TARGET/release/chainline-sample"
CASE="${BENCH_CASE:-triangulation}"
SCALES="${BENCH_SCALES:-1 4}"
B=bench
mkdir -p "$B"
[ -x "$BIN" ] || cargo build --release
[ -x "$GEN" ] || cargo build --release -p chainline-sample

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -srm)"
echo "chainline $("$BIN" --version | awk '{print $2}') at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

measure() { # name, command... → prints "name seconds maxrss_kb"
  local name=$1; shift
  /usr/bin/time -v -o "$B/$name.time" "$@" > "$B/$name.stdout" 2> "$B/$name.stderr"
  local secs rss
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$B/$name.time" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$B/$name.time")
  echo "$name $secs $rss" | tee -a "$B/results.txt"
}
: > "$B/results.txt"

for s in $SCALES; do
  if [ ! -d "$B/scale$s/$CASE" ]; then
    echo "generating $CASE at scale $s ..."
    t0=$(date +%s%N)
    "$GEN" "$CASE" --scale "$s" -o "$B/scale$s/$CASE"
    echo "  generated in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  fi
  rm -rf "$B/out$s"
  measure "chainline_scale$s" "$BIN" analyze -q "$B/scale$s/$CASE" -o "$B/out$s"
  if command -v python3 >/dev/null; then
    python3 - "$B/out$s/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
total = next((s["ms"] for s in r["stages"] if s["name"] == "total"), None)
print(f"  rows {r['rows_total']:,}")
for s in r["stages"]:
    share = f"  ({100*s['ms']/total:.1f}%)" if total else ""
    rss = f"  peak RSS so far {s['peak_rss_mib']:,.0f} MiB" if s.get("peak_rss_mib") else ""
    cpu = f"  cpu {s['cpu_ms']:,.0f} ms ({s['cpu_ms']/s['ms']:.1f} cores)" if s.get("cpu_ms") is not None and s["ms"] > 0 else ""
    print(f"  stage {s['name']:<16} {s['ms']:>10.1f} ms{share}{cpu}{rss}")
for a in sorted(r["artifacts"], key=lambda a: -a["elapsed_ms"])[:8]:
    print(f"  source {a['source']:<10} {a['rows']:>9,} rows {a['elapsed_ms']:>9.1f} ms  {a['artifact']}")
PY
  fi
done

last=$(echo $SCALES | awk '{print $NF}')
measure "query_scale$last" "$BIN" query "$B/out$last" \
  "SELECT source, kind, count(*) AS n, sum(bytes_in) AS bytes_in FROM timeline WHERE kind = 'network_usage' OR actor LIKE '%Agent%' GROUP BY source, kind ORDER BY n DESC"

# Issue 22: a sysdiagnose with a ~50 MB PowerLog and a 4,000-line ps.txt; its sources'
# time set beside the scale-1 backup's sources stage.
if [ -z "${BENCH_SKIP_SYSDIAGNOSE:-}" ] && command -v python3 >/dev/null; then
  [ -d "$B/large_sysdiagnose" ] || python3 scripts/large_sysdiagnose.py "$B/large_sysdiagnose" 50
  rm -rf "$B/out_sysdiagnose"
  measure "chainline_large_sysdiagnose" "$BIN" analyze -q "$B/large_sysdiagnose" -o "$B/out_sysdiagnose"
  python3 - "$B/out_sysdiagnose/run.json" "$B/out$(echo $SCALES | awk '{print $1}')/run.json" <<'PY' || true
import json, sys
sd, bk = (json.load(open(p)) for p in sys.argv[1:3])
src = lambda r: next(s["ms"] for s in r["stages"] if s["name"] == "sources")
print(f"  large sysdiagnose: {sd['rows_total']:,} rows; sources stage {src(sd):,.0f} ms "
      f"(scale-1 backup: {src(bk):,.0f} ms, ratio {src(sd)/src(bk):.2f}); peak RSS "
      f"{max(s.get('peak_rss_mib') or 0 for s in sd['stages']):,.0f} MiB")
for a in sorted(sd["artifacts"], key=lambda a: -a["elapsed_ms"])[:4]:
    print(f"  source {a['source']:<10} {a['rows']:>9,} rows {a['elapsed_ms']:>9.1f} ms")
PY
fi

# MVT on the same scale-1 backup, in a local virtualenv.
first=$(echo $SCALES | awk '{print $1}')
if [ -z "${BENCH_SKIP_MVT:-}" ] && command -v python3 >/dev/null; then
  if [ ! -x "$B/venv/bin/mvt-ios" ]; then
    (python3 -m venv "$B/venv" && "$B/venv/bin/pip" install -q mvt) > "$B/mvt-install.log" 2>&1 || echo "MVT could not be installed (see $B/mvt-install.log); skipping"
  fi
  if [ -x "$B/venv/bin/mvt-ios" ]; then
    backup=$(find "$B/scale$first/$CASE/backup" -mindepth 1 -maxdepth 1 -type d | head -1)
    rm -rf "$B/mvt$first"; mkdir -p "$B/mvt$first"
    measure "mvt_scale$first" "$B/venv/bin/mvt-ios" check-backup --output "$B/mvt$first" "$backup"
  fi
fi

python3 - "$B/results.txt" <<'PY' || true
import sys
r = {}
for line in open(sys.argv[1]):
    n, s, k = line.split()
    r[n] = (float(s), int(k))
def show(n):
    s, k = r[n]; return f"{s:8.2f} s  {k/1024:8.1f} MiB"
print("\nsummary")
for n in r: print(f"  {n:<22} {show(n)}")
sc = sorted(n for n in r if n.startswith("chainline_scale"))
if len(sc) >= 2:
    print(f"  scale ratio {sc[-1]}/{sc[0]}: {r[sc[-1]][0]/r[sc[0]][0]:.2f}x time")
m = [n for n in r if n.startswith("mvt_")]
if m and sc:
    c = "chainline_scale" + m[0].split("scale")[1]
    print(f"  MVT / chainline: {r[m[0]][0]/r[c][0]:.1f}x faster, RSS {r[c][1]/r[m[0]][1]:.2f} of MVT's")
PY

# Filter + group-by on a 4M-row synthetic timeline (issue: "well under a second").
if [ -z "${BENCH_SKIP_QUERY4M:-}" ]; then
  echo; echo "query on a 4,000,000-row timeline (examples/query_bench.rs):"
  cargo run --release --quiet --example query_bench 2>&1 | tee "$B/query_bench.txt"
fi
