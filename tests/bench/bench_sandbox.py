#!/usr/bin/python3
"""What the helper's sandbox costs a login, printed as numbers (not a test).

  sandbox     CPU time of sandbox_apply() in real logins (real module, real
              helper started as root by pam_test_app), as the helper reports
              it in its debug line ("sandbox: ... cpu=0.412ms"): user lookup,
              the switch of ids and its checks, limits, no_new_privs,
              Landlock, the precompiled seccomp filter loaded
  store-old   logins without ca-cert: OpenSSL's hashed directory (before)
  store-new   the bundle and the directory's names read before the sandbox,
              the issuer found in memory (engine/ca_store.c)

usage: bench_sandbox.py [RUNS]   (as root, inside tools/private_dev.sh: make bench)
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from conftest import BUILD, HELPER, Login  # noqa: E402
from syslog_sink import Syslog  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30


def main():
    if os.environ.get("PAM_AUTHELIA_PRIVATE_DEV") != "1":
        print("sandbox     skipped (needs root: run through make bench)")
        return
    log = Syslog()
    samples = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tmp.chmod(0o755)
        for _ in range(RUNS):
            # auth-level=2FA with the stack's password: no prompt, the
            # connection to port 1 is refused at once.
            Login(tmp, f"binary={HELPER} url=https://127.0.0.1:1 debug auth-level=2FA",
                  authtok="x").result()
            for line in log.take():
                m = re.search(r"sandbox: .* cpu=([0-9.]+)ms", line)
                if m:
                    samples.append(float(m.group(1)))
    print(f"pam_authelia sandbox benchmark, {RUNS} logins, {os.cpu_count()} cores")
    if samples:
        s = sorted(samples)
        p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
        print(f"{'sandbox':<11} n={len(s):<3} median={statistics.median(s):7.3f} ms  "
              f"p95={p95:7.3f} ms  max={s[-1]:7.3f} ms  (CPU of sandbox_apply() per login)")
    else:
        print("sandbox     no sandbox line seen")
    sys.stdout.flush()
    subprocess.run([str(BUILD / "tests" / "bench_sandbox"), str(RUNS)], check=False)


if __name__ == "__main__":
    main()
