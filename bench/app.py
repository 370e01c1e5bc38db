#!/usr/bin/env python3
"""Desktop-app numbers (a benchmark, not a test): release binary size, cold start to first paint
under Xvfb, idle RSS including WebKit's child processes, and sealing a report with a 100 MB
attachment from the app (the export command the UI's button calls, over IPC, through
tauri-driver) side by side with the CLI.

    xvfb-run -a -s "-screen 0 1280x900x24" python3 bench/app.py [--target DIR] [--size-mb 100]

"First paint" is the webview's page-load-finished event (the Svelte app has mounted by then),
reported by the app when EMBARGO_STARTUP_PROBE is set, timed from process spawn.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request


def rss_tree_kb(root, field="VmRSS:", path="status"):
    """VmRSS (or, from smaps_rollup, Pss) of a process and all its descendants (WebKitWebProcess,
    WebKitNetworkProcess). RSS counts shared pages once per process; PSS splits them."""
    children = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(pid))
        except (OSError, IndexError, ValueError):
            pass
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/{path}") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith(field))
        except (OSError, StopIteration):
            pass
    return total


def start_once(app, home):
    env = dict(os.environ, EMBARGO_HOME=home, EMBARGO_STARTUP_PROBE="1")
    t0 = time.monotonic()
    p = subprocess.Popen([app], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in p.stderr:
        if "embargo-startup-probe" in line:
            ms = (time.monotonic() - t0) * 1000
            break
    else:
        raise SystemExit("the app exited before its page loaded")
    time.sleep(3)  # idle
    rss = (rss_tree_kb(p.pid), rss_tree_kb(p.pid, "Pss:", "smaps_rollup"))
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
    return ms, rss


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, url):
        self.url = url

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.url + path, data=data, method=method, headers={"content-type": "application/json"})
        with urllib.request.urlopen(r, timeout=600) as resp:
            return json.load(resp)["value"]

    def invoke(self, sid, cmd, args):
        script = ("const [cmd, args, done] = arguments; const t = performance.now();"
                  "window.__TAURI_INTERNALS__.invoke(cmd, args).then(r => done({ok: r, ms: performance.now() - t}), e => done({err: e}));")
        v = self.req("POST", f"/session/{sid}/execute/async", {"script": script, "args": [cmd, args]})
        if "err" in v:
            raise SystemExit(f"{cmd}: {v['err']}")
        return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    app = os.path.abspath(os.path.join(a.target, "release", "embargo-app"))
    cli = os.path.abspath(os.path.join(a.target, "release", "embargo"))
    for b in (app, cli):
        if not os.path.exists(b):
            raise SystemExit(f"{b} missing: cargo build --release -p embargo-app -p embargo-cli")
    if not os.environ.get("DISPLAY"):
        raise SystemExit("run under xvfb-run")
    work = tempfile.mkdtemp(prefix="embargo-bench-", dir="/var/tmp")
    try:
        size_mb = os.path.getsize(app) / 1e6
        starts, rsss = [], []
        for i in range(a.runs):
            ms, rss = start_once(app, os.path.join(work, f"home{i}"))
            starts.append(ms)
            rsss.append(rss)

        # The same report, key and attachment for the app and the CLI.
        run = lambda *args: subprocess.run(args, cwd=work, check=True, capture_output=True)
        run(cli, "key", "generate", "--userid", "Bench <b@example.org>", "-o", "team-secret.asc", "--public", "team.asc")
        run(cli, "new", "-o", "report.md")
        text = open(os.path.join(work, "report.md")).read()
        text = text.replace('title = ""', 'title = "Bench"').replace("assets = []", 'assets = ["https://example.org"]')
        open(os.path.join(work, "report.md"), "w").write(text)
        big = os.path.join(work, "big.bin")
        with open(big, "wb") as f:
            for _ in range(a.size_mb):
                f.write(os.urandom(1_000_000))
        cli_times = []
        for _ in range(3):
            t0 = time.monotonic()
            run(cli, "seal", "report.md", "--to", "team.asc", "--attach", "big.bin", "--format", "email", "--force", "-o", "cli.eml")
            cli_times.append(time.monotonic() - t0)

        port = free_port()
        driver = subprocess.Popen(["tauri-driver", "--port", str(port), "--native-port", str(free_port())],
                                  env=dict(os.environ, EMBARGO_HOME=os.path.join(work, "home-ui")),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wd = WebDriver(f"http://127.0.0.1:{port}")
            for _ in range(100):
                try:
                    sid = wd.req("POST", "/session", {"capabilities": {"alwaysMatch": {"tauri:options": {"application": os.path.abspath(app)}}}})["sessionId"]
                    break
                except OSError:
                    time.sleep(0.2)
            time.sleep(2)
            armored = open(os.path.join(work, "team.asc")).read()
            cand = wd.invoke(sid, "inspect_team_key", {"programId": "novu", "armored": armored, "path": None})["ok"]
            wd.invoke(sid, "confirm_team_key", {"programId": "novu", "fingerprint": cand["key"]["fingerprint"]})
            draft = {"program": "novu", "title": "Bench", "assets": ["https://example.org"], "class": "other", "cwe": None,
                     "cvss": None, "severity": None, "credit": {"kind": "anonymous"}, "attestations": [],
                     "scopeConfirmations": [], "body": "## Steps to reproduce\n\n1. x\n"}
            wd.invoke(sid, "update_draft", {"draft": draft})
            wd.invoke(sid, "add_attachment", {"path": big})
            ui_times = []
            for i in range(3):
                t0 = time.monotonic()
                wd.invoke(sid, "export_report", {"request": {"format": "eml", "path": os.path.join(work, f"ui{i}.eml"), "sign": False, "passphrase": None}})
                ui_times.append(time.monotonic() - t0)
            wd.req("DELETE", f"/session/{sid}")
        finally:
            driver.send_signal(signal.SIGTERM)  # SIGKILL would leave WebKitWebDriver holding its port
            driver.wait(10)

        ui, c = min(ui_times), min(cli_times)
        print(f"| metric | value | target |")
        print(f"|---|---|---|")
        print(f"| release binary size | {size_mb:.1f} MB | ≤ 15 MB |")
        print(f"| cold start to first paint (first of {a.runs} runs) | {starts[0]:.0f} ms | ≤ 1000 ms |")
        print(f"| start to first paint, median of {a.runs} | {statistics.median(starts):.0f} ms | ≤ 1000 ms |")
        print(f"| idle RSS, app + WebKit processes (median) | {statistics.median(r for r, _ in rsss) / 1024:.0f} MB | ≤ 150 MB |")
        print(f"| idle PSS, same processes (median) | {statistics.median(p for _, p in rsss) / 1024:.0f} MB | |")
        print(f"| seal + export .eml, {a.size_mb} MB attachment, app (IPC export, best of 3) | {ui:.2f} s | |")
        print(f"| same with `embargo seal --format email` (best of 3) | {c:.2f} s | |")
        print(f"| app / CLI | {ui / c:.2f}× | ≤ 1.10× |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
