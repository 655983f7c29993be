#!/bin/sh
# Remakes the README's gallery, docs/images/python-*.png: Debian's python3.11
# running a small script, recorded by utrace, dumped as a Chrome trace and as
# folded stacks, and shown by speedscope in headless Chromium.
#
# As root on Debian 12, after tools/bootstrap.sh (which builds build/utrace):
#   tools/gallery.sh            installs chromium and speedscope if missing
# UTRACE=path/to/utrace picks another build.  Nothing leaves the machine but the
# package downloads: speedscope and the traces are served on 127.0.0.1 only.
# Look at the two PNGs afterwards: an error in loading shows as a page of text.
set -eu
cd "$(dirname "$0")/.."
REPO=$(pwd)
UTRACE=${UTRACE:-$REPO/build/utrace}
SPEEDSCOPE_VERSION=1.25.0 # the hash parameters below are this version's
OUT=$REPO/docs/images
WORK=$(mktemp -d)
SERVER=""

cleanup() {
	[ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

is_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# npm by its command: a nodejs from elsewhere brings its own, and Debian's
# npm package would conflict with it.
install_missing() {
	missing=""
	for p in chromium fonts-noto-color-emoji python3; do
		is_installed "$p" || missing="$missing $p"
	done
	command -v npm >/dev/null || missing="$missing npm"
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

# The traced program: imports (json, fractions and what they pull in), Python
# called from C (sort keys, Fraction arithmetic through PyNumber_Add), compile()
# and exec of generated code.  Its own output goes to the terminal.
write_workload() {
	cat >"$WORK/work.py" <<'EOF'
import json
import textwrap
from fractions import Fraction

def harmonic(n):
    return sum(Fraction(1, k) for k in range(1, n + 1))

def record(i):
    return {"id": i, "name": "item%03d" % i, "h": str(harmonic(i % 12 + 1))}

rows = [record(i) for i in range(600)]
rows.sort(key=lambda r: (len(r["h"]), r["name"]))
text = json.dumps(rows, indent=1, default=str)
back = json.loads(text)
src = "\n".join("def f%d(x):\n    return x * %d + len(%r)" % (i, i, "s" * i) for i in range(40))
ns = {}
exec(compile(src, "<generated>", "exec"), ns)
total = sum(ns["f%d" % i](i) for i in range(40))
print(len(text), len(back), total, textwrap.shorten(rows[-1]["h"], 20))
EOF
}

# Debian's python3.11 is stripped: these are functions of its .dynsym
# (utrace symbols /usr/bin/python3.11 GLOB), chosen to show the interpreter's
# start, its imports, C calling Python and back, and its shutdown.
record() {
	"$UTRACE" record -d "$WORK/py.data" \
		-f Py_BytesMain -f Py_InitializeFromConfig -f Py_RunMain -f Py_FinalizeEx \
		-f PyEval_EvalCode -f _PyEval_EvalFrameDefault -f _PyFunction_Vectorcall \
		-f PyObject_Call -f _PyObject_MakeTpCall -f PyImport_ImportModuleLevelObject \
		-f Py_CompileStringObject -f PyNumber_Add -f PyNumber_Multiply \
		-- /usr/bin/python3.11 "$WORK/work.py"
}

# speedscope's static build and the two dumps, from one origin (no CORS).
prepare_site() {
	mkdir -p "$WORK/npm" "$WORK/www"
	(cd "$WORK/npm" && npm install --silent --no-audit --no-fund "speedscope@$SPEEDSCOPE_VERSION")
	cp -r "$WORK/npm/node_modules/speedscope/dist/release/." "$WORK/www/"
	"$UTRACE" dump -d "$WORK/py.data" --chrome >"$WORK/www/trace.json"
	"$UTRACE" dump -d "$WORK/py.data" --folded >"$WORK/www/trace.folded"
}

start_server() {
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
	python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/www" \
		>"$WORK/http.log" 2>&1 &
	SERVER=$!
	python3 -c 'import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("utrace gallery: the local server did not start")' "http://127.0.0.1:$PORT/index.html"
}

# shot PNG PROFILE [VIEW]: speedscope reads the profile and the view from the
# URL's hash; the virtual time budget lets it fetch, parse and draw.
shot() {
	url="http://127.0.0.1:$PORT/index.html#profileURL=http://127.0.0.1:$PORT/$2"
	url="$url&title=python3.11%20work.py${3:+&view=$3}"
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--window-size=1400,800 --virtual-time-budget=10000 \
		--screenshot="$1" "$url" >"$WORK/chromium.log" 2>&1 || {
		cat "$WORK/chromium.log" >&2
		exit 1
	}
	echo "wrote $1 ($(stat -c %s "$1") bytes)"
}

[ -x "$UTRACE" ] || { echo "no $UTRACE: run tools/bootstrap.sh first" >&2; exit 1; }
install_missing
write_workload
record
prepare_site
start_server
mkdir -p "$OUT"
shot "$OUT/python-timeline.png" trace.json
shot "$OUT/python-flamegraph.png" trace.folded left-heavy
