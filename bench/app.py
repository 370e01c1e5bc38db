#!/usr/bin/env python3
"""Desktop-app numbers (a benchmark, not a test): release binary size, start to first paint
under Xvfb and idle memory (RSS and PSS including WebKit's child processes), each side by side
with a default bare Tauri v2 window built with the same profile (bench/bare-window), and sealing
a report with a 100 MB attachment from the app (the Export button's command, over IPC, through
tauri-driver) side by side with the CLI.

    scripts/build-release.sh   # once, then the bench set (the app with scripted dialogs):
    cargo build --release --locked -p embargo-cli -p embargo-app -p embargo-sop -p embargo-intake \
        -p embargo-bare-window --features embargo-app/scripted-dialogs
    xvfb-run -a -s "-screen 0 1280x900x24" python3 bench/app.py [--target DIR] [--size-mb 100]

"First paint" is the webview's page-load-finished event (the Svelte app has mounted by then),
reported by the app (and the bare window) when EMBARGO_STARTUP_PROBE is set, timed from spawn.
WebDriver cannot click native dialogs: the app is built with `scripted-dialogs`, which answers
them from the file EMBARGO_E2E_PICKS names (the attachment to add, where the .eml goes).
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


def start_once(app, home, extra_env=None):
    env = dict(os.environ, EMBARGO_HOME=home, EMBARGO_STARTUP_PROBE="1", **(extra_env or {}))
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


def starts(binary, work, name, runs, extra_env=None):
    """(first start ms, median start ms, median RSS KB, median PSS KB) over `runs` starts."""
    ms, rss = [], []
    for i in range(runs):
        t, r = start_once(binary, os.path.join(work, f"{name}-home{i}"), extra_env)
        ms.append(t)
        rss.append(r)
    return ms[0], statistics.median(ms), statistics.median(r for r, _ in rss), statistics.median(p for _, p in rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    app = os.path.abspath(os.path.join(a.target, "release", "embargo-app"))
    cli = os.path.abspath(os.path.join(a.target, "release", "embargo"))
    bare = os.path.abspath(os.path.join(a.target, "release", "embargo-bare-window"))
    for b in (app, cli, bare):
        if not os.path.exists(b):
            raise SystemExit(f"{b} missing: build the bench set (see this script's docstring)")
    if not os.environ.get("DISPLAY"):
        raise SystemExit("run under xvfb-run")
    work = tempfile.mkdtemp(prefix="embargo-bench-", dir="/var/tmp")
    try:
        size_mb = os.path.getsize(app) / 1e6
        bare_mb = os.path.getsize(bare) / 1e6
        # Interleaved would be fairer to drift; the runs are short and alternate by block.
        app_s = starts(app, work, "app", a.runs)
        bare_s = starts(bare, work, "bare", a.runs)
        # The app turns WebKit's accelerated compositing off by itself; the bare window as the
        # app runs it, too.
        bare_nc = starts(bare, work, "bare-nc", a.runs, {"WEBKIT_DISABLE_COMPOSITING_MODE": "1"})

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

        picks = os.path.join(work, "picks.txt")
        port = free_port()
        driver = subprocess.Popen(["tauri-driver", "--port", str(port), "--native-port", str(free_port())],
                                  env=dict(os.environ, EMBARGO_HOME=os.path.join(work, "home-ui"), EMBARGO_E2E_PICKS=picks),
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
            offered = wd.invoke(sid, "inspect_team_key", {"programId": "novu", "armored": armored})["ok"]
            fpr = offered["key"]["fingerprint"]
            wd.invoke(sid, "confirm_team_key", {"programId": "novu", "candidate": fpr, "typedFingerprint": fpr, "replace": False})
            draft = wd.invoke(sid, "get_draft", {})["ok"]["draft"]
            program = wd.invoke(sid, "get_program", {"id": "novu"})["ok"]["program"]
            draft.update({"program": "novu", "title": "Bench", "assets": ["https://example.org"], "class": "other",
                          "credit": "anonymous", "attestations": [x["id"] for x in program["attestations"]],
                          "body": "## Summary\n\nA bench.\n\n## Steps to reproduce\n\n1. x\n\n## Impact\n\nNone.\n"})
            wd.invoke(sid, "update_draft", {"draft": draft})
            with open(picks, "w") as f:
                f.write(big + "\n")
            added = wd.invoke(sid, "choose_attachments", {})["ok"]
            if not added:
                raise SystemExit("no attachment added: build the app with --features embargo-app/scripted-dialogs")
            ui_times = []
            options = {"sign": False, "passphrase": None, "op": 1}
            for i in range(3):
                with open(picks, "w") as f:
                    f.write(os.path.join(work, f"ui{i}.eml") + "\n")
                t0 = time.monotonic()
                r = wd.invoke(sid, "export_report", {"format": "eml", "options": options})["ok"]
                ui_times.append(time.monotonic() - t0)
                if r is None or not os.path.exists(os.path.join(work, f"ui{i}.eml")):
                    raise SystemExit(f"the app did not export: {r}")
            wd.req("DELETE", f"/session/{sid}")
        finally:
            driver.send_signal(signal.SIGTERM)  # SIGKILL would leave WebKitWebDriver holding its port
            driver.wait(10)

        ui, c = min(ui_times), min(cli_times)
        mb = lambda kb: f"{kb / 1024:.0f} MB"
        print(f"| metric | app | bare Tauri window | bare, compositing off (as the app) | app / bare |")
        print(f"|---|--:|--:|--:|--:|")
        print(f"| release binary size | {size_mb:.1f} MB | {bare_mb:.1f} MB | | {size_mb / bare_mb:.2f}× |")
        print(f"| start to first paint, first of {a.runs} | {app_s[0]:.0f} ms | {bare_s[0]:.0f} ms | {bare_nc[0]:.0f} ms | |")
        print(f"| start to first paint, median of {a.runs} | {app_s[1]:.0f} ms | {bare_s[1]:.0f} ms | {bare_nc[1]:.0f} ms | {app_s[1] / bare_s[1]:.2f}× |")
        print(f"| idle RSS with WebKit's processes (median) | {mb(app_s[2])} | {mb(bare_s[2])} | {mb(bare_nc[2])} | {app_s[2] / bare_s[2]:.2f}× |")
        print(f"| idle PSS, same processes (median) | {mb(app_s[3])} | {mb(bare_s[3])} | {mb(bare_nc[3])} | **{app_s[3] / bare_s[3]:.2f}×** ({app_s[3] / bare_nc[3]:.2f}× compositing off) |")
        print()
        print(f"| seal + export .eml, {a.size_mb} MB attachment | time (best of 3) |")
        print(f"|---|--:|")
        print(f"| app (the Export button's IPC command) | {ui:.2f} s |")
        print(f"| `embargo seal --format email` | {c:.2f} s |")
        print(f"| app / CLI | {ui / c:.2f}× |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
