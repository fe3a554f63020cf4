#!/usr/bin/env bash
# Report lane (CI): renders `aicompress report` pages in headless Chromium (Debian's chromium
# package) and checks that the charts are drawn.
# Usage: scripts/report-check.sh [BIN]   (default .build/debug/aicompress)
#
# Builds three compressed demo models (a recipe on mlp-digits, global pruning on teacher-digits,
# int4 on cnn-digits.onnx), writes a report of each against its original (--compare) and one
# without, then for each page:
#   - DOM (chromium --dump-dom): every chart (size, sparsity, bits; error and sqnr only with
#     --compare) has one rect.bar per tensor (`BIN inspect --json` .tensors | length), the size
#     chart one rect.bar-before per tensor with --compare, one histogram per tensor that has one
#     (the largest 24 with more than one element), each with a rect.bin and, with --compare, a
#     polyline.original; the tensors table has one row per tensor.
#   - Layout (--dump-dom of a copy with a small inline probe script): each chart, bar, bin,
#     polyline and label has a box inside its SVG, bars are as wide as their data says, no two
#     labels overlap, the page does not overflow sideways.
#   - Pixels (--screenshot): the image is not blank, has the bar blue #2b6cb0 (> 1000 px), the
#     red #e53e3e outline with --compare (none without), and the centre of each bar is blue.
# Installs chromium (apt) if missing and Pillow (pip) if it can; without Pillow the PNG is
# decoded with zlib. One PASS/FAIL line per check, then `N passed, M failed`; exit 1 on failure.
# REPORT_CHECK_KEEP=DIR keeps the screenshots (LABEL.png) in DIR.
set -uo pipefail
bin="${1:-.build/debug/aicompress}"
[ -e "$bin" ] && bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
cd "$(dirname "$0")/.." || exit 1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

# --- Chromium -------------------------------------------------------------------------------
if command -v chromium >/dev/null; then
    pass "chromium present: $(chromium --version 2>/dev/null)"
else
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    start=$SECONDS
    # Chromium's own Recommends is only chromium-sandbox (unused with --no-sandbox); skipping the
    # recommends of its dependencies saves ~90 packages. Fonts (DejaVu) come with the image.
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$work/apt.log" 2>&1 &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium >>"$work/apt.log" 2>&1 && command -v chromium >/dev/null; then
        size=$(dpkg-query -W -f='${Installed-Size}\n' chromium chromium-common | awk '{s+=$1} END{printf "%.0f", s/1024}')
        pass "chromium installed in $((SECONDS - start)) s ($(chromium --version 2>/dev/null); chromium + chromium-common ${size} MB installed)"
    else
        fail "chromium install (apt-get install chromium) after $((SECONDS - start)) s:"
        tail -n 20 "$work/apt.log"
        finish
    fi
fi
if ! python3 -c 'import PIL' 2>/dev/null; then
    PIP_ROOT_USER_ACTION=ignore timeout 120 python3 -m pip install -q --disable-pip-version-check pillow \
        >"$work/pip.log" 2>&1 || echo "note: pillow not installed; decoding PNG with zlib"
fi

# --- Models and reports ---------------------------------------------------------------------
if [ ! -x "$bin" ]; then
    fail "binary $bin not found"
    finish
fi
cat >"$work/recipe.yaml" <<'EOF'
steps:
  - prune: {keep: 0.5, scope: global}
  - quantize: {int8: true, exclude: ["fc2.*"]}
EOF
demo=fixtures/demo
# label | command that makes the model | model | original (empty: no --compare)
cases=(
    "mlp-recipe|apply $work/recipe.yaml $demo/mlp-digits.ckpt $work/mlp.ckpt|$work/mlp.ckpt|$demo/mlp-digits.ckpt"
    "teacher-prune|prune --keep 0.2 --scope global -q $demo/teacher-digits.ckpt $work/teacher.ckpt|$work/teacher.ckpt|$demo/teacher-digits.ckpt"
    "cnn-int4|quantize --int4 $demo/cnn-digits.onnx $work/cnn.onnx|$work/cnn.onnx|$demo/cnn-digits.onnx"
    "mlp-recipe-nocompare||$work/mlp.ckpt|"
)
checks=()
for c in "${cases[@]}"; do
    IFS='|' read -r label make model original <<<"$c"
    if [ -n "$make" ]; then
        # shellcheck disable=SC2086
        if ! "$bin" $make >"$work/$label.make.log" 2>&1; then
            fail "$label: aicompress $make"
            sed 's/^/    /' "$work/$label.make.log" | tail -n 10
            continue
        fi
    fi
    [ -f "$model" ] || { fail "$label: model $model missing"; continue; }
    compare=()
    [ -n "$original" ] && compare=(--compare "$original")
    if "$bin" report "$model" "${compare[@]}" -o "$work/$label.html" >"$work/$label.report.log" 2>&1 &&
        "$bin" inspect --json "$model" >"$work/$label.inspect.json" 2>>"$work/$label.report.log"; then
        pass "$label: aicompress report $(basename "$model") ${compare[*]} ($(wc -c <"$work/$label.html") bytes)"
        checks+=("$label|$([ -n "$original" ] && echo 1 || echo 0)")
    else
        fail "$label: aicompress report / inspect"
        sed 's/^/    /' "$work/$label.report.log" | tail -n 10
    fi
done

# --- Render and check -----------------------------------------------------------------------
cat >"$work/check.py" <<'PY'
import base64, html.parser, json, math, os, signal, struct, subprocess, sys, zlib

label, compare, work = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
keep_png = os.environ.get("REPORT_CHECK_KEEP")  # a folder: screenshots are copied there
page = os.path.join(work, label + ".html")
BLUE, RED, GREY = (43, 108, 176), (229, 62, 62), (203, 213, 224)
LIGHT_BLUE = (144, 180, 220)  # bars beyond a capped axis (SQNR above 60 dB, exact)
WIDTH, MIN_HEIGHT = 1200, 2400
ok = True

def check(cond, what):
    global ok
    print(("PASS " if cond else "FAIL ") + label + ": " + what, flush=True)
    ok = ok and bool(cond)
    return cond

def chromium(args, timeout=60):
    cmd = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
           "--force-device-scale-factor=1", "--user-data-dir=" + os.path.join(work, "profile-" + label)] + args
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, "timed out after %d s" % timeout
    if p.returncode != 0:
        return None, "exit %d: %s" % (p.returncode, err.decode(errors="replace")[-400:])
    return out.decode("utf-8", errors="replace"), ""

# A minimal DOM from the serialized page.
class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], ""
    def classes(self):
        return (self.attrs.get("class") or "").split()
    def find(self, tag=None, cls=None):
        out = []
        for c in self.children:
            if (tag is None or c.tag == tag) and (cls is None or cls in c.classes()):
                out.append(c)
            out += c.find(tag, cls)
        return out

VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "wbr", "source"}

class Builder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {}, None)
    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n
    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))
    def handle_data(self, data):
        self.cur.text += data
    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

def parse(text):
    b = Builder()
    b.feed(text)
    b.close()
    return b.root

# Expectations from the model itself.
info = json.load(open(os.path.join(work, label + ".inspect.json")))
tensors = info["tensors"]
names = [t["name"] for t in tensors]
n = len(names)
largest = sorted(tensors, key=lambda t: -t["parameters"])[:24]
want_hists = sum(1 for t in largest if t["parameters"] > 1)
charts = ["size", "sparsity", "bits"] + (["error", "sqnr"] if compare else [])

# 1. The rendered DOM.
dom, err = chromium(["--dump-dom", "file://" + page])
if not check(dom is not None and "</html>" in dom, "chromium --dump-dom renders the page" + (": " + err if err else "")):
    sys.exit(1)
root = parse(dom)
svgs = root.find("svg")
for kind in ["size", "sparsity", "bits", "error", "sqnr"]:
    found = [s for s in svgs if "chart" in s.classes() and s.attrs.get("data-chart") == kind]
    if kind not in charts:
        check(not found, "no %s chart without --compare" % kind)
        continue
    if not check(len(found) == 1, "chart %s present (%d found)" % (kind, len(found))):
        continue
    bars = found[0].find("rect", "bar")
    check(len(bars) == n, "chart %s: %d rect.bar for %d tensors" % (kind, len(bars), n))
    if kind == "size":
        before = found[0].find("rect", "bar-before")
        want = n if compare else 0
        check(len(before) == want, "chart size: %d rect.bar-before (want %d)" % (len(before), want))
hists = [s for s in svgs if "histogram" in s.classes()]
check(len(hists) == want_hists, "%d histograms (want %d: tensors with > 1 element among the 24 largest)"
      % (len(hists), want_hists))
empty = [h.attrs.get("data-tensor") for h in hists if not h.find("rect", "bin")]
check(hists and not empty, "every histogram has a rect.bin" + (" (empty: %s)" % empty if empty else ""))
unknown = [h.attrs.get("data-tensor") for h in hists if h.attrs.get("data-tensor") not in names]
check(not unknown, "histograms name model tensors" + (" (unknown: %s)" % unknown if unknown else ""))
lines = [len(h.find("polyline", "original")) for h in hists]
if compare:
    bad = [h.attrs.get("data-tensor") for h in hists
           if len(h.find("polyline", "original")) != 1
           or len((h.find("polyline", "original") or [Node("x", {}, None)])[0].attrs.get("points", "").split()) < 2]
    check(hists and not bad, "every histogram has one polyline.original of >= 2 points"
          + (" (not: %s)" % bad if bad else ""))
else:
    check(sum(lines) == 0, "no polyline.original without --compare (%d found)" % sum(lines))
tables = root.find("table", "tensors")
if check(len(tables) == 1, "table.tensors present"):
    rows = [r for r in tables[0].find("tr") if r.find("td")]
    first = [r.find("td")[0].text.strip() for r in rows]
    check(len(rows) == n and sorted(first) == sorted(names),
          "table.tensors: %d rows for %d tensors, one per tensor name" % (len(rows), n))

# 2. Layout: the same page with a small probe script appended (the report itself has no script).
PROBE = r"""<script>(function(){
function box(e){var r=e.getBoundingClientRect();return [r.left+scrollX,r.top+scrollY,r.width,r.height];}
function own(e){var s='';e.childNodes.forEach(function(c){if(c.nodeType===3)s+=c.data;});return s;}
var de=document.documentElement;
var out={iw:innerWidth,ih:innerHeight,sw:de.scrollWidth,sh:de.scrollHeight,svgs:[]};
document.querySelectorAll('svg.chart,svg.histogram').forEach(function(s){
 var o={kind:s.getAttribute('data-chart')||('histogram '+s.getAttribute('data-tensor')),
  hist:s.classList.contains('histogram'),box:box(s),bars:[],bins:[],lines:[],texts:[]};
 s.querySelectorAll('rect.bar').forEach(function(e){o.bars.push({b:box(e),capped:e.classList.contains('capped'),w:+e.getAttribute('width'),
  h:+e.getAttribute('height'),t:(e.querySelector('title')||{}).textContent||''});});
 s.querySelectorAll('rect.bin').forEach(function(e){o.bins.push({b:box(e),w:+e.getAttribute('width'),
  h:+e.getAttribute('height')});});
 s.querySelectorAll('polyline.original').forEach(function(e){o.lines.push({b:box(e),n:e.points.numberOfItems});});
 s.querySelectorAll('text').forEach(function(e){o.texts.push({b:box(e),s:own(e)});});
 out.svgs.push(o);});
var p=document.createElement('pre');p.id='aic-layout';
p.textContent=btoa(unescape(encodeURIComponent(JSON.stringify(out))));document.body.appendChild(p);
})();</script>"""
with open(page, encoding="utf-8") as f:
    src = f.read()
probe_page = os.path.join(work, label + ".probe.html")
with open(probe_page, "w", encoding="utf-8") as f:
    f.write(src.replace("</body>", PROBE + "</body>") if "</body>" in src else src + PROBE)
pdom, err = chromium(["--window-size=%d,%d" % (WIDTH, MIN_HEIGHT), "--dump-dom", "file://" + probe_page])
layout = None
if pdom is not None:
    pre = [p for p in parse(pdom).find("pre") if p.attrs.get("id") == "aic-layout"]
    if pre:
        # The base64 text is the pre's only content; find it in the serialized DOM.
        i = pdom.find('id="aic-layout">')
        j = pdom.find("</pre>", i)
        layout = json.loads(base64.b64decode(pdom[i + len('id="aic-layout">'):j]).decode("utf-8"))
if check(layout is not None, "layout probe ran" + (": " + err if err else "")):
    def inside(b, s, tol=1.0):
        return (b[0] >= s[0] - tol and b[1] >= s[1] - tol and b[0] + b[2] <= s[0] + s[2] + tol
                and b[1] + b[3] <= s[1] + s[3] + tol)
    def overlap(a, b):
        w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
        h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
        return w > 1 and h > 1
    check(layout["sw"] <= layout["iw"], "page fits the %d px window (scroll width %d)" % (layout["iw"], layout["sw"]))
    got = sorted(s["kind"] for s in layout["svgs"] if not s["hist"])
    check(got == sorted(charts), "laid-out charts %s" % ",".join(got))
    for s in layout["svgs"]:
        k, sb = s["kind"], s["box"]
        if not check(sb[2] > 0 and sb[3] > 0, "%s: laid out %dx%d px" % (k, sb[2], sb[3])):
            continue
        problems = []
        for e in s["bars"]:
            if not inside(e["b"], sb):
                problems.append("bar %r outside the chart" % e["t"])
            if abs(e["b"][2] - e["w"]) > 1 or abs(e["b"][3] - e["h"]) > 1:
                problems.append("bar %r drawn %.1fx%.1f, data says %.1fx%.1f" % (e["t"], e["b"][2], e["b"][3], e["w"], e["h"]))
        for e in s["bins"]:
            if not inside(e["b"], sb) or e["b"][3] <= 0 or abs(e["b"][3] - e["h"]) > 1:
                problems.append("bin at x=%.0f outside the plot or of the wrong height" % e["b"][0])
        for e in s["lines"]:
            if e["n"] < 2 or not inside(e["b"], sb, 2.0):
                problems.append("polyline of %d points outside the plot" % e["n"])
        for e in s["texts"]:
            if not inside(e["b"], sb):
                problems.append("text %r clipped by the chart edge" % e["s"])
        ts = s["texts"]
        for a in range(len(ts)):
            for b in range(a + 1, len(ts)):
                if overlap(ts[a]["b"], ts[b]["b"]):
                    problems.append("texts %r and %r overlap" % (ts[a]["s"], ts[b]["s"]))
        drawn = sum(1 for e in s["bars"] if e["b"][2] > 0) if not s["hist"] else sum(1 for e in s["bins"] if e["b"][3] > 0)
        what = "%d/%d bars drawn" % (drawn, len(s["bars"])) if not s["hist"] else "%d bins drawn" % drawn
        check(not problems and drawn > 0, "%s: layout (%s, %d labels inside, no overlap)%s"
              % (k, what, len(s["texts"]), "" if not problems else ": " + "; ".join(problems[:4])))

# 3. Pixels: a screenshot as tall as the page.
height = MIN_HEIGHT
if layout is not None:
    height = max(MIN_HEIGHT, int(math.ceil(layout["sh"])) + 8)
png_path = os.path.join(work, label + ".png")
_, err = chromium(["--window-size=%d,%d" % (WIDTH, height), "--screenshot=" + png_path, "file://" + page])
if not check(os.path.exists(png_path), "chromium --screenshot" + (": " + err if err else "")):
    sys.exit(1)
if keep_png:
    import shutil
    shutil.copy(png_path, os.path.join(keep_png, label + ".png"))

def read_png(path):
    """(width, height, rows of RGB tuples) - Pillow if it is there, else zlib and the PNG filters."""
    try:
        from PIL import Image
        im = Image.open(path).convert("RGB")
        w, h = im.size
        data = im.tobytes()
        return w, h, [data[y * w * 3:(y + 1) * w * 3] for y in range(h)], 3
    except ImportError:
        pass
    raw = open(path, "rb").read()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(raw):
        ln, typ = struct.unpack(">I4s", raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, "unsupported PNG %d/%d/%d" % (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    data = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = data[y * (stride + 1)]
        cur = bytearray(data[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 255
        elif f == 2:
            cur = bytearray((a + b) & 255 for a, b in zip(cur, prev))
        elif f == 3:
            for i in range(stride):
                cur[i] = (cur[i] + ((cur[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
        elif f == 4:
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(cur))
        prev = cur
    return w, h, rows, bpp

w, h, rows, bpp = read_png(png_path)
check((w, h) == (WIDTH, height), "screenshot is %dx%d (want %dx%d)" % (w, h, WIDTH, height))
def near(px, col, tol):
    return abs(px[0] - col[0]) <= tol and abs(px[1] - col[1]) <= tol and abs(px[2] - col[2]) <= tol
blue = red = grey = nonwhite = 0
for r in rows:
    for x in range(0, len(r), bpp):
        px = r[x], r[x + 1], r[x + 2]
        if px == (255, 255, 255):
            continue
        nonwhite += 1
        if px == BLUE:
            blue += 1
        elif px == GREY:
            grey += 1
        elif near(px, RED, 24):
            red += 1
total = w * h
check(nonwhite > total * 0.01, "screenshot not blank (%.1f%% non-white pixels)" % (100.0 * nonwhite / total))
check(blue > 1000, "bar colour #2b6cb0: %d px (want > 1000)" % blue)
if compare:
    check(red > 1000, "original outline #e53e3e: %d px (want > 1000)" % red)
    check(grey > 100, "original size bars #cbd5e0: %d px (want > 100)" % grey)
else:
    check(red < 50, "no red outline without --compare (%d px)" % red)
if layout is not None and (w, h) == (WIDTH, height):
    def pixel(x, y):
        x, y = int(x), int(y)
        if not (0 <= x < w and 0 <= y < h):
            return None
        r = rows[y]
        return r[x * bpp], r[x * bpp + 1], r[x * bpp + 2]
    for s in layout["svgs"]:
        items = s["bins"] if s["hist"] else s["bars"]
        big = [(e["b"], LIGHT_BLUE if e.get("capped") else BLUE) for e in items if e["b"][2] >= 3 and e["b"][3] >= 3]
        hit = sum(1 for b, colour in big if (lambda p: p is not None and near(p, colour, 6))(pixel(b[0] + b[2] / 2, b[1] + b[3] / 2)))
        # A histogram's red outline may cross a bin's centre: allow a few.
        need = len(big) if not s["hist"] else math.ceil(0.8 * len(big))
        check(big and hit >= need, "%s: %d of %d bars/bins painted blue at their centre in the screenshot"
              % (s["kind"], hit, len(big)))
sys.exit(0 if ok else 1)
PY

for c in "${checks[@]}"; do
    IFS='|' read -r label compare <<<"$c"
    python3 "$work/check.py" "$label" "$compare" "$work" >"$work/$label.check.log" 2>&1
    rc=$?
    cat "$work/$label.check.log"
    p=$(grep -c '^PASS ' "$work/$label.check.log")
    f=$(grep -c '^FAIL ' "$work/$label.check.log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $label: checker exited $rc"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
finish
