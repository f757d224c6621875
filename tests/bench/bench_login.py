#!/usr/bin/python3
"""Benchmarks of the shim and the helper core, printed as numbers (not a test).

  prompt      pam_authenticate() start -> the password prompt reaches the
              application (fork + exec of the helper, set-up frames, options
              validated, TLS context built, prompt relayed)
  full        a whole pam_authenticate() that ends at the first network step
              (auth-level=2FA, the stack password, a refused connection):
              start, decide, connect, report, reap
  disconnect  client socket closed -> helper process gone
  sigterm     SIGTERM to the helper -> helper process gone

usage: bench_login.py [RUNS]     (as root: the module runs helpers only from
                                  a directory of root's own, see safe_dir.py)
"""
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from conftest import HELPER, Login, wait_gone  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
BASE = f"binary={HELPER} url=https://127.0.0.1:1"  # refused at once: no DNS, no waiting


def report(name, samples_ms):
    s = sorted(samples_ms)
    p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
    print(f"{name:<11} n={len(s):<3} median={statistics.median(s):7.2f} ms  "
          f"p95={p95:7.2f} ms  max={s[-1]:7.2f} ms")


def main():
    prompt, full, disconnect, sigterm = [], [], [], []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tmp.chmod(0o755)
        for _ in range(RUNS):
            l = Login(tmp, BASE)
            t0 = time.monotonic()
            l.conv()
            prompt.append((time.monotonic() - t0) * 1000)
            l.kill()

            l = Login(tmp, f"{BASE} auth-level=2FA", authtok="pw")
            full.append(l.result()[1])

            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            l = Login(tmp, BASE, rhost="127.0.0.1", connect=listener.getsockname()[1])
            conn, _ = listener.accept()
            helper = l.wait_helper()
            l.conv()
            t0 = time.monotonic()
            conn.close()
            gone = wait_gone(helper, 2.0)
            disconnect.append((gone if gone is not None else 2.0) * 1000)
            l.kill()
            listener.close()

            l = Login(tmp, BASE)
            helper = l.wait_helper()
            l.conv()
            os.kill(helper, signal.SIGTERM)
            gone = wait_gone(helper, 2.0)
            sigterm.append((gone if gone is not None else 2.0) * 1000)
            l.kill()
    print(f"pam_authelia benchmark, {RUNS} runs each, {os.cpu_count()} cores")
    report("prompt", prompt)
    report("full", full)
    report("disconnect", disconnect)
    report("sigterm", sigterm)


if __name__ == "__main__":
    main()
