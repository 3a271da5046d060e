#!/usr/bin/env python3
"""Issue #24: the pictures render in headless Chromium, offline.

- `run --html` of linux-default-range: the page's own status line (written by its script after the
  charts are drawn) says every chart has a non-zero size and no error was raised; Chromium logs
  no console error; the page names no external resource and loads none (Chromium runs with a
  proxy that refuses everything, and the page counts its resource loads); a screenshot is not
  blank.
- `trace --svg` of normal-close: well-formed SVG with lifelines, arrows and labels; Chromium
  renders it without an XML error; a screenshot is not blank.
Exit 77 (skipped) when chromium is not installed.

usage: browser_check.py TCPSIM SOURCE_DIR WORKDIR
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def browse(browser, work, url, *args):
    """Runs headless Chromium offline: every request through a proxy that refuses it."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--user-data-dir=" + os.path.join(work, "chromium-profile"), "--proxy-server=127.0.0.1:9",
           "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def png_not_blank(path):
    """True when the PNG has more than a handful of distinct byte values (a blank page has one colour)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    at, idat = 8, b""
    while at < len(data):
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            idat += data[at + 8:at + 8 + n]
        at += 12 + n
    raw = zlib.decompress(idat)
    return len(set(raw)) > 16


def console_errors(stderr):
    return [l for l in stderr.splitlines() if ":CONSOLE" in l]  # the page logs nothing when all is well


def main():
    tcpsim, src, work = sys.argv[1:4]
    browser = chromium()
    if browser is None:
        print("SKIP: chromium is not installed (Debian package chromium; scripts/setup.sh --test installs it)")
        return 77
    os.makedirs(work, exist_ok=True)
    html = os.path.join(work, "linux-default-range.html")
    svg = os.path.join(work, "normal-close.svg")
    subprocess.run([tcpsim, "run", "-q", os.path.join(src, "scenarios/capacity/linux-default-range.json"), "-o", os.devnull,
                    "--html", html], check=True)
    subprocess.run([tcpsim, "trace", "-q", os.path.join(src, "scenarios/teaching/normal-close.json"), "-o", os.devnull,
                    "--svg", svg], check=True)
    # The page names nothing outside itself.
    page = open(html, encoding="utf-8").read()
    for pattern in (r"<(?:link|img|iframe|object|embed)\b", r"\bsrc\s*=", r"@import", r"url\(\s*['\"]?https?:",
                    r"fetch\(", r"XMLHttpRequest"):
        if re.search(pattern, page, re.I):
            fail(f"{html}: names an outside resource ({pattern})")
    # The page drawn: its status line, the console, a screenshot.
    r = browse(browser, work, "file://" + html, "--dump-dom")
    m = re.search(r'<p id="status"[^>]*>([^<]*)</p>', r.stdout)
    status = m.group(0) if m else ""
    print("html status: " + (m.group(1) if m else "(none)"))
    if 'data-ok="1"' not in status:
        fail(f"{html}: the page's status is not ok: {status or r.stdout[-500:]}")
    charts = re.search(r'data-charts="(\d+)"', status)
    if not charts or int(charts.group(1)) < 4:
        fail(f"{html}: fewer than 4 charts: {status}")
    if "resources=0" not in status:
        fail(f"{html}: the page loaded resources: {status}")
    if console_errors(r.stderr):
        fail(f"{html}: console errors: {console_errors(r.stderr)}")
    png = os.path.join(work, "linux-default-range.png")
    browse(browser, work, "file://" + html, "--screenshot=" + png, "--window-size=1200,1800")
    if not os.path.exists(png) or not png_not_blank(png):
        fail(f"{png}: blank or missing screenshot")
    # The what-if tools' pages: a sweep and the remedies table.
    for tool, args in (("sweep", ["sweep", os.path.join(src, "scenarios/capacity/cloud-nat-64-ports.json"), "--vary",
                                  "/duration=30s,90s"]),
                       ("remedies", ["remedies", os.path.join(src, "scenarios/capacity/cloud-nat-64-ports.json")])):
        page = os.path.join(work, tool + ".html")
        subprocess.run([tcpsim, *args, "-q", "-o", os.devnull, "--html", page], check=True)
        r = browse(browser, work, "file://" + page, "--dump-dom")
        m = re.search(r'<p id="status"[^>]*>([^<]*)</p>', r.stdout)
        print(f"{tool} status: " + (m.group(1) if m else "(none)"))
        if not m or 'data-ok="1"' not in m.group(0) or "resources=0" not in m.group(0) or console_errors(r.stderr):
            fail(f"{page}: not drawn cleanly: {m.group(0) if m else r.stdout[-300:]} {console_errors(r.stderr)}")
    # The SVG ladder.
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f".//{ns}line")
    texts = [t.text or "" for t in root.findall(f".//{ns}text")]
    if len(lines) < 12 or not any("F. " in t for t in texts) or not any("TIME-WAIT" in t for t in texts):
        fail(f"{svg}: {len(lines)} lines, texts {texts[:5]}...: not a ladder of normal-close")
    r = browse(browser, work, "file://" + svg, "--dump-dom")
    if "error" in r.stdout.lower() and "parsererror" in r.stdout.lower():
        fail(f"{svg}: Chromium reports an XML error")
    png = os.path.join(work, "normal-close.png")
    browse(browser, work, "file://" + svg, "--screenshot=" + png, "--window-size=1240,1000")
    if not os.path.exists(png) or not png_not_blank(png):
        fail(f"{png}: blank or missing screenshot")
    print("ok" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
