#!/usr/bin/env bash
# Times `chainline scan` over a folder of benign images and PDFs (nothing to find).
# Usage: scripts/bench_scan.sh [CHAINLINE_BINARY] [N_FILES] [DIR]
# Files: PNG (an IDAT of ~40 KiB), JPEG (APP0 + filler + EOI), PDFs with a Flate content
# stream and a JBIG2 image stream of ordinary segments, WebP lossless (simple codes);
# generated once into DIR (default /tmp/chainline-scan-bench), reused afterwards.
set -euo pipefail
BIN=${1:-target/debug/chainline}
N=${2:-20000}
DIR=${3:-/tmp/chainline-scan-bench}
if [ ! -f "$DIR/.done-$N" ]; then
  rm -rf "$DIR" && mkdir -p "$DIR"
  python3 - "$DIR" "$N" <<'PY'
import os, random, struct, sys, zlib
d, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
def png():
    raw = bytes(rnd.getrandbits(8) for _ in range(4096)) * 10
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
def jpeg():
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + os.urandom(30000).replace(b"\xff", b"\x00") + b"\xff\xd9"
def seg(num, kind, refs, data):
    return struct.pack(">IBB", num, kind, len(refs) << 5) + bytes(refs) + b"\x01" + struct.pack(">I", len(data)) + data
def pdf():
    content = zlib.compress(b"BT /F1 12 Tf 72 712 Td (benign) Tj ET\n" * 200)
    sd = struct.pack(">HII", 1, 40, 40) + bytes(64)
    region = struct.pack(">IIIIB", 64, 32, 0, 0, 0) + b"\x00\x01" + bytes(16)
    jb = seg(0, 48, [], struct.pack(">IIII", 64, 32, 0, 0) + bytes(3)) + seg(1, 0, [], sd) + seg(2, 6, [1], region)
    out = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    out += b"4 0 obj\n<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(content) + content + b"\nendstream\nendobj\n"
    out += b"5 0 obj\n<< /Subtype /Image /Filter /JBIG2Decode /Length %d >>\nstream\n" % len(jb) + jb + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    return out
def webp():
    # VP8L 1x1, no transform, no cache, five simple one-symbol codes.
    bits = [(0x2f, 8), (0, 14), (0, 14), (0, 1), (0, 3), (0, 1), (0, 1), (0, 1)] + [(1, 1), (0, 1), (0, 1), (0, 1)] * 5
    acc, pos = 0, 0
    for v, w in bits:
        acc |= v << pos; pos += w
    data = acc.to_bytes((pos + 7) // 8 + 1, "little")
    body = b"VP8L" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
makers = [("png", png()), ("jpg", jpeg()), ("pdf", pdf()), ("webp", webp())]
for i in range(n):
    ext, data = makers[i % 4]
    sub = os.path.join(d, "%03d" % (i // 1000))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%05d.%s" % (i, ext)), "wb") as f:
        f.write(data)
PY
  touch "$DIR/.done-$N"
fi
BYTES=$(du -sb --exclude=".done-*" "$DIR" | cut -f1)
START=$(date +%s.%N)
set +e
"$BIN" scan -q "$DIR" > /tmp/chainline-scan-bench.out
CODE=$?
set -e
END=$(date +%s.%N)
python3 - "$START" "$END" "$N" "$BYTES" "$CODE" <<'PY'
import sys
s, e, n, b, code = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
t = e - s
print(f"{n} files, {b/1e6:.1f} MB in {t:.2f} s: {n/t:.0f} files/s, {b/1e6/t:.1f} MB/s (exit {code})")
PY
