#!/usr/bin/python3
"""make bench: what a login costs the user and the machine, printed as one
table (a benchmark: it prints numbers and never fails).

Real Linux-PAM (build/tests/pam_test_app) with the real module and helper,
against the Authelia test double in a process of its own (answering fast: no
first-factor padding), directly (0 ms) or through a userspace delay proxy
(20 ms round trip; tests/bench/delay_proxy.py, which also counts TCP's own
round trip).  Answers are instant unless a think time is given.

  wait         what the user waits: from pam_authenticate to the first prompt,
               plus from each answer to the next prompt or the result
               (pam_test_app's own clock), median and p90 over the runs
  limit        the round trips the design cannot avoid, at 20 ms:
               1FA    TCP + TLS + firstfactor + state                     4
               TOTP   TCP + TLS + firstfactor + (user/info || state) + totp  5
               device TCP + TLS + device-authorization + token + userinfo  5
               (discovery and the JWKS overlap)
               policy, one factor (authz-url, a one_factor rule)
                      TCP + TLS + firstfactor + (authz || state)         4
               policy, TOTP (a two_factor rule)
                      TCP + TLS + firstfactor + (authz || state || user/info)
                      + totp + authz                                     6
               think time 300 ms: the
               connections are up before the answers, so TOTP waits 2 RTT
               after the password and 1 after the code: 60 ms; policy with
               TOTP 2 and 2 (the access check again after the code): 80 ms
  RTTs         (median wait at 20 ms - median wait at 0 ms) / 20 ms
  req, TLS     requests and TLS handshakes the double saw per login
  CPU, RSS     the helper's user+system time and peak RSS (wait4 rusage,
               through pam_test_app's RUSAGE_CHILDREN)
  floor        a bare OpenSSL 3 client (tests/bench/bare_client.c: one TLS 1.3
               handshake, one request), its runs alternating with TOTP logins
  load         32 and 128 TOTP logins started at once (0 ms): all correct?,
               logins per second, p99 of their waits, CPU per login of the
               helper and of the server (the double's process)
  exits        the client's socket closed, or SIGTERM, at the password prompt, to
               the helper gone

usage: bench_login.py [RUNS]      (as root: runs in a private mount namespace,
                                   with its own /dev/log; PAM_AUTHELIA_HELPER
                                   names another build of the helper)
"""
import datetime
import json
import os
import secrets
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import testca  # noqa: E402
from authelia_double import totp_code  # noqa: E402
# conftest installs the helper into a directory of root's own (safe_dir.py):
# the module runs helpers from nowhere else.
from conftest import BUILT_HELPER, HELPER, SAFE_DIR, Login as ShimLogin, wait_gone  # noqa: E402
from safe_dir import make_safe_dir  # noqa: E402

BUILD = ROOT / "build"
SHIM = BUILD / "pam_authelia.so"
APP = BUILD / "tests" / "pam_test_app"
BARE = BUILD / "tests" / "bare_client"
BENCH = Path(__file__).resolve().parent
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
# BENCH_FLOWS=policy-1,policy-2 measures only those cells (and the rest of the report)
FLOWS = os.environ.get("BENCH_FLOWS", "1FA,TOTP,device,policy-1,policy-2").split(",")
RTT_MS = 20
THINK = 0.3
LIMITS = {"1FA": 4, "TOTP": 5, "device": 5, "policy-1": 4, "policy-2": 6}
FLOW_ARGS = {
    "1FA": "auth-level=1FA",
    "TOTP": "auth-level=1FA+2FA",
    "policy-1": "auth-level=policy authz-url=https://one.localhost/pam/%s",
    "policy-2": "auth-level=policy authz-url=https://two.localhost/pam/%s",
    "device": "method-priority=device_authorization,user oauth2-client-id=pam-authelia "
              "oauth2-client-secret=s3cret-client",
}


class Bench:
    def __init__(self, tmp):
        self.tmp = tmp
        # The helper trusts a ca-cert only below directories root alone can
        # write (safe_dir.py), as it runs a helper binary.
        certs = make_safe_dir(SAFE_DIR) if SAFE_DIR is not None else None
        if certs is None:
            certs = tmp / "certs"
            certs.mkdir()
        testca.make_ca(certs, "ca")
        testca.make_cert(certs, "server", "DNS:localhost,IP:127.0.0.1", ca="ca")
        testca.readable(certs)
        self.ca = certs / "ca.pem"
        self.secret = secrets.token_bytes(20)
        self.double = subprocess.Popen(
            [sys.executable, str(BENCH / "double_server.py"), str(certs), self.secret.hex()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.double.stdout.readline())
        self.proxy = subprocess.Popen(
            [sys.executable, str(BENCH / "delay_proxy.py"), str(self.port), str(RTT_MS / 2)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.proxy_port = int(self.proxy.stdout.readline())
        self.confdirs = {}
        self.stats()

    def close(self):
        self.proxy.kill()
        self.double.stdin.close()
        self.double.wait(5)

    def stats(self):
        self.double.stdin.write("stats\n")
        self.double.stdin.flush()
        return json.loads(self.double.stdout.readline())

    def confdir(self, flow, rtt):
        key = (flow, rtt)
        if key not in self.confdirs:
            port = self.proxy_port if rtt else self.port
            d = self.tmp / f"pam-{flow}-{rtt}"
            d.mkdir()
            (d / "bench").write_text(
                f"auth required {SHIM} binary={HELPER} url=https://localhost:{port} "
                f"ca-cert={self.ca} {FLOW_ARGS[flow]}\n")
            (d / "other").write_text("auth required pam_deny.so\n")
            self.confdirs[key] = d
        return self.confdirs[key]

    def answer_for(self, text):
        if text == "Password: ":
            return "pw-john"
        if text == "TOTP Code: ":
            return totp_code(self.secret)
        if text.endswith("Approve on your device, then press Enter."):
            return ""
        raise RuntimeError(f"unexpected prompt {text!r}")


class Login:
    """One pam_authenticate() in pam_test_app, driven line by line."""

    def __init__(self, bench, flow, rtt, think=0.0):
        self.bench, self.think = bench, think
        self.proc = subprocess.Popen(
            [str(APP), "--timing", "--rusage", str(bench.confdir(flow, rtt)), "bench", "john"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buf = b""
        self.conv, self.answers, self.result = [], [], None
        self.result_us = self.cpu_us = self.rss_kb = None
        self.pending_prompt = None  # (text, when it may be answered)

    def feed(self, data):
        """Takes pam_test_app's output; True once it is all in."""
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.line(line.decode())
        return self.cpu_us is not None or (not data and self.result is not None)

    def line(self, line):
        kind, _, rest = line.partition(" ")
        if kind == "T":
            what, us = rest.split(" ")
            {"conv": self.conv, "answer": self.answers}.get(what, []).append(int(us))
            if what == "result":
                self.result_us = int(us)
        elif kind == "CONV":
            style, _, text = rest.partition(" ")
            text = text.encode().decode("unicode_escape").encode("latin-1").decode()
            if style in ("echo_on", "echo_off"):
                self.pending_prompt = (text, time.monotonic() + self.think)
        elif kind == "RESULT":
            self.result = rest.split(" ")[0]
        elif kind == "RUSAGE":
            user, system, rss = (int(x) for x in rest.split(" "))
            self.cpu_us, self.rss_kb = user + system, rss

    def answer_due(self):
        """Answers the pending prompt if its think time is over; returns the
        seconds until it will be (None: nothing pending)."""
        if self.pending_prompt is None:
            return None
        text, when = self.pending_prompt
        left = when - time.monotonic()
        if left > 0:
            return left
        self.pending_prompt = None
        self.proc.stdin.write((self.bench.answer_for(text) + "\n").encode())
        self.proc.stdin.flush()
        return None

    def waits(self):
        """The user's waits, in ms: start -> first prompt, answer -> next."""
        marks = [0] + self.answers
        steps = [(end - start) / 1000 for start, end in zip(marks, self.conv)]
        steps.append((self.result_us - self.answers[-1]) / 1000 if self.answers
                     else self.result_us / 1000)
        return steps


def drive(logins):
    """Runs logins to their end, answering prompts as they come."""
    sel = selectors.DefaultSelector()
    for l in logins:
        os.set_blocking(l.proc.stdout.fileno(), False)
        sel.register(l.proc.stdout, selectors.EVENT_READ, l)
    running = len(logins)
    while running:
        timeout = None
        for l in logins:
            left = l.answer_due()
            if left is not None:
                timeout = left if timeout is None else min(timeout, left)
        for key, _ in sel.select(timeout):
            l = key.data
            try:
                data = os.read(key.fileobj.fileno(), 65536)
            except BlockingIOError:
                continue
            if l.feed(data) or not data:
                sel.unregister(key.fileobj)
                running -= 1
                l.answer_due()
    for l in logins:
        l.proc.wait(10)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def sequential(bench, flow, rtt, think=0.0, runs=None):
    rows = []
    for _ in range(runs or RUNS):
        l = Login(bench, flow, rtt, think)
        drive([l])
        stats = bench.stats()
        if l.result != "PAM_SUCCESS":
            raise RuntimeError(f"{flow} at {rtt} ms: {l.result}")
        rows.append({"steps": l.waits(), "cpu": l.cpu_us / 1000, "rss": l.rss_kb / 1024,
                     "req": stats["requests"], "tls": stats["handshakes"]})
    return rows


def handshake_deltas(rows):
    """handshakes is cumulative in the double: per-login differences."""
    out, prev = [], None
    for r in rows:
        if prev is not None:
            out.append(r["tls"] - prev)
        prev = r["tls"]
    return out


def floor_and_helper(bench):
    """The bare client and a TOTP login (0 ms) one after the other, RUNS
    times, so that both meet the same machine: medians of CPU ms and peak
    RSS MB, (bare, helper)."""
    bare_cpu, bare_rss, cpu, rss = [], [], [], []
    for _ in range(RUNS):
        out = subprocess.run([str(BARE), "--measure", "1", "localhost", str(bench.port),
                              str(bench.ca), "/api/health"], capture_output=True, text=True,
                             check=True)
        us, kib = out.stdout.split()
        bare_cpu.append(int(us) / 1000)
        bare_rss.append(int(kib) / 1024)
        bench.stats()
        row = sequential(bench, "TOTP", 0, runs=1)[0]
        cpu.append(row["cpu"])
        rss.append(row["rss"])
    m = statistics.median
    return (m(bare_cpu), m(bare_rss)), (m(cpu), m(rss))


def exits(tmp):
    """Client socket closed -> helper gone; SIGTERM -> helper gone (ms)."""
    import signal
    import socket
    base = f"binary={HELPER} url=https://127.0.0.1:1"  # nothing to wait for but the user
    disconnect, sigterm = [], []
    for _ in range(RUNS):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        l = ShimLogin(tmp, base, rhost="127.0.0.1", connect=listener.getsockname()[1])
        conn, _ = listener.accept()
        helper = l.wait_helper()
        l.conv()
        time.sleep(0.1)  # waiting for the user (OpenSSL's set-up after the prompt is done)
        conn.close()
        gone = wait_gone(helper, 2.0)
        disconnect.append((gone if gone is not None else 2.0) * 1000)
        l.kill()
        listener.close()
        l = ShimLogin(tmp, base)
        helper = l.wait_helper()
        l.conv()
        time.sleep(0.1)
        os.kill(helper, signal.SIGTERM)
        gone = wait_gone(helper, 2.0)
        sigterm.append((gone if gone is not None else 2.0) * 1000)
        l.kill()
    return statistics.median(disconnect), statistics.median(sigterm)


def spawn_time():
    """fork + exec + exit of /bin/true, the machine's own cost of a process."""
    times = []
    for _ in range(RUNS):
        t0 = time.monotonic()
        pid = os.posix_spawn("/bin/true", ["/bin/true"], os.environ)
        os.waitpid(pid, 0)
        times.append((time.monotonic() - t0) * 1000)
    return statistics.median(times)


def concurrent(bench, n):
    before = bench.stats()
    t0 = time.monotonic()
    logins = [Login(bench, "TOTP", 0) for _ in range(n)]
    drive(logins)
    wall = time.monotonic() - t0
    after = bench.stats()
    ok = sum(l.result == "PAM_SUCCESS" for l in logins)
    waits = [sum(l.waits()) for l in logins if l.result == "PAM_SUCCESS"] or [0]
    return {"n": n, "ok": ok, "rate": n / wall, "p99": pct(waits, 99),
            "median": statistics.median(waits),
            "helper_cpu": statistics.mean(l.cpu_us for l in logins if l.cpu_us) / 1000,
            "server_cpu": (after["cpu"] - before["cpu"]) * 1000 / n}


def commit():
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main():
    if os.environ.get("PAM_AUTHELIA_PRIVATE_DEV") == "1":
        from syslog_sink import Syslog
        Syslog()  # the helper's log lines go here, not to the host's syslog
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tmp.chmod(0o755)
        bench = Bench(tmp)
        try:
            results = {}
            for flow in FLOWS:
                for rtt in (0, RTT_MS):
                    results[(flow, rtt)] = sequential(bench, flow, rtt)
            think = sequential(bench, "TOTP", RTT_MS, THINK)
            think_policy = (sequential(bench, "policy-2", RTT_MS, THINK)
                            if "policy-2" in FLOWS else None)
            floor, helper = floor_and_helper(bench)
            load = [concurrent(bench, 32), concurrent(bench, 128)]
        finally:
            bench.close()
        gone = exits(tmp)
    report(results, think, think_policy, floor, helper, load, spawn_time(), gone)


def report(results, think, think_policy, floor, helper, load, spawn_ms, gone):
    print(f"pam_authelia login benchmark -- commit {commit()}, "
          f"{datetime.date.today()}, {os.cpu_count()} cores, {RUNS} logins a cell, "
          f"answers instant unless said")
    # make bench runs it once per build of the helper (Makefile: HELPER_LINK).
    needed = subprocess.run(["readelf", "-d", str(HELPER)], capture_output=True, text=True).stdout
    build = "dynamic" if "libcrypto" in needed else "static (HELPER_LINK=static)"
    print(f"helper: {BUILT_HELPER}, {build} build")
    print()
    head = (f"{'cell':<22}{'RTT':>4} {'wait med':>9} {'p90':>7} {'limit':>6} {'RTTs':>5} "
            f"{'req':>4} {'TLS':>4} {'CPU ms':>7} {'RSS MB':>7}  steps (median ms: start->prompt, "
            "answer->next...)")
    print(head)
    print("-" * len(head))

    def row(name, rtt, rows, limit, zero=None):
        totals = [sum(r["steps"]) for r in rows]
        med = statistics.median(totals)
        steps = [statistics.median(r["steps"][i] for r in rows)
                 for i in range(len(rows[0]["steps"]))]
        rtts = f"{(med - zero) / RTT_MS:5.1f}" if zero is not None else f"{'':>5}"
        lim = f"{limit:6.0f}" if limit else f"{'':>6}"
        tls = handshake_deltas(rows)
        print(f"{name:<22}{rtt:>4} {med:9.1f} {pct(totals, 90):7.1f} {lim} {rtts} "
              f"{statistics.median(r['req'] for r in rows):4.0f} "
              f"{statistics.median(tls) if tls else 0:4.0f} "
              f"{statistics.median(r['cpu'] for r in rows):7.2f} "
              f"{statistics.median(r['rss'] for r in rows):7.2f}  "
              + " | ".join(f"{s:.1f}" for s in steps))
        return med

    names = {"1FA": "1FA", "TOTP": "1FA+2FA TOTP", "device": "device flow + binding",
             "policy-1": "policy, one factor", "policy-2": "policy, TOTP"}
    for flow in FLOWS:
        zero = row(names[flow], 0, results[(flow, 0)], None)
        row(names[flow], RTT_MS, results[(flow, RTT_MS)], LIMITS[flow] * RTT_MS, zero)
    row("TOTP, 300 ms think", RTT_MS, think, 3 * RTT_MS)
    if think_policy:
        row("policy TOTP, 300 think", RTT_MS, think_policy, 4 * RTT_MS)
    print()
    first = [r["steps"][0] for (flow, _), rows in results.items() if flow in ("1FA", "TOTP")
             for r in rows] or [0]
    print(f"first prompt (pam_authenticate -> \"Password: \", 1FA and TOTP cells): median "
          f"{statistics.median(first):.2f} ms, p90 {pct(first, 90):.2f} ms; for scale, "
          f"spawning /bin/true here: median {spawn_ms:.2f} ms")
    (floor_cpu, floor_rss), (cpu, rss) = floor, helper
    print(f"floor, bare OpenSSL 3 client (1 TLS 1.3 handshake + 1 request): "
          f"CPU {floor_cpu:.2f} ms, peak RSS {floor_rss:.2f} MB")
    print(f"helper per TOTP login (0 ms, alternating with the floor's runs): CPU {cpu:.2f} ms "
          f"({cpu / floor_cpu:.2f}x the floor), peak RSS {rss:.2f} MB ({rss / floor_rss:.2f}x)")
    for c in load:
        print(f"load: {c['n']:>3} TOTP logins at once (0 ms): {c['ok']}/{c['n']} succeeded, "
              f"{c['rate']:.0f} logins/s, wait median {c['median']:.0f} ms p99 {c['p99']:.0f} ms, "
              f"CPU per login: helper {c['helper_cpu']:.2f} ms, server {c['server_cpu']:.2f} ms")
    print(f"exits: client socket closed -> helper gone {gone[0]:.1f} ms, "
          f"SIGTERM -> helper gone {gone[1]:.1f} ms (medians)")


if __name__ == "__main__":
    main()
