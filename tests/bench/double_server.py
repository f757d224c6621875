#!/usr/bin/python3
"""The Authelia test double in a process of its own, for the benchmark: its CPU
time is read apart from the driver's.

usage: double_server.py CERTDIR TOTP_SECRET_HEX

Prints its port, then answers commands on stdin, one a line, with one JSON
line: "stats" -> {"requests", "handshakes", "cpu" (seconds of this process)}.
It answers fast: no first-factor padding, device codes approved at once,
TOTP codes accepted again within their time step (Authelia's
totp.disable_reuse_security_policy), so one user can log in again and again.
Its access control (for authz-url) has a one_factor host and a two_factor host.
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from authelia_double import AutheliaDouble  # noqa: E402


def main():
    certs = Path(sys.argv[1])
    double = AutheliaDouble(certs / "server.pem", certs / "server.key")
    double.totp_disable_reuse_policy = True
    double.configure({"access_control": {"default_policy": "deny", "rules": [
        {"domain": "one.localhost", "policy": "one_factor"},
        {"domain": "two.localhost", "policy": "two_factor"}]}})
    user = double.add_user("john", "pw-john", method="totp")
    user.totp_secret = bytes.fromhex(sys.argv[2])
    print(double.port, flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            with double.lock:
                stats = {"requests": len(double.requests), "handshakes": double.handshakes}
                double.requests.clear()  # nothing grows over a long run
            t = os.times()
            stats["cpu"] = t.user + t.system
            print(json.dumps(stats), flush=True)
    double.close()


if __name__ == "__main__":
    main()
