#!/usr/bin/python3
"""make demo: pam_authelia end to end on this machine, in one command.

Starts the Authelia test double (tests/integration/authelia_double.py) on
loopback with demo users and a throw-away CA, starts a real sshd on a loopback
port whose PAM stack uses build/pam_authelia.so, then logs in through each flow
with the OpenSSH client, showing the transcript and the module's log lines, and
stays up for logging in by hand until Ctrl-C or `make demo-stop`.  Everything
runs inside the private mount namespace of tools/private_dev.sh: the host's
/etc is never changed.

    tools/demo.py            the demo (run by make demo, through private_dev.sh)
    tools/demo.py totp USER  the current TOTP code of a demo user
"""
import base64
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
STATE = ROOT / "build" / "demo"
BUILT_HELPER = ROOT / "build" / "pam_authelia"
SHIM = ROOT / "build" / "pam_authelia.so"

import testca  # noqa: E402
from safe_dir import install_helper, make_safe_dir  # noqa: E402
from syslog_sink import Syslog  # noqa: E402
from authelia_double import AutheliaDouble, totp_code  # noqa: E402

USERS = {  # name: (Authelia password, how the second factor goes)
    "john": ("john-password", "TOTP"),
    "jane": ("jane-password", "Duo push, approved by the demo after 2 s"),
}


def say(text=""):
    print(text, flush=True)


def heading(text):
    say()
    say("=" * 78)
    say(text)
    say("=" * 78)


def ssh_transcript(port, user, replies, title):
    """One login with the real ssh client; replies maps prompt endings to answers."""
    import pexpect
    heading(title)
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    c = pexpect.spawn("ssh", ["-p", str(port), "-o", "PreferredAuthentications=keyboard-interactive",
                              "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                              "-o", "LogLevel=ERROR", "-o", "NumberOfPasswordPrompts=1",
                              f"{user}@127.0.0.1"],
                      env=env, timeout=60, encoding="utf-8", codec_errors="replace")
    c.logfile_read = sys.stdout
    keys = list(replies) + ["LOGIN-OK[^\r\n]*", "Permission denied[^\r\n]*", pexpect.EOF]
    while True:
        i = c.expect(keys)
        if i < len(replies):
            answer = replies[keys[i]]
            c.sendline(answer() if callable(answer) else answer)
            continue
        break
    c.close()
    say()
    say(f"--> {'logged in' if i == len(replies) else 'refused'}")
    return i == len(replies)


def show_log(tail):
    say("module log (journalctl -t pam_authelia would show these):")
    for line in tail.take():
        say("  " + line)


def main():
    from sshd_harness import Sshd

    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "demo.pid").write_text(str(os.getpid()))
    work = Path(tempfile.mkdtemp(prefix="pam-authelia-demo."))
    work.chmod(0o755)
    # The module runs a helper only from a directory of root's own.
    helper_dir = make_safe_dir()
    helper = install_helper(BUILT_HELPER, helper_dir)
    tail = Syslog()

    heading("pam_authelia demo: a throw-away CA, the Authelia test double, a private sshd")
    # The helper trusts a ca-cert only below directories root alone can
    # write, as the module runs a helper binary only from one.
    certs = make_safe_dir()
    testca.make_ca(certs, "ca")
    testca.make_cert(certs, "server", "DNS:localhost,IP:127.0.0.1", ca="ca")
    testca.readable(certs)
    authelia = AutheliaDouble(certs / "server.pem", certs / "server.key")
    url = f"https://localhost:{authelia.port}"
    authelia.add_user("john", USERS["john"][0], totp=True, method="totp")
    authelia.add_user("jane", USERS["jane"][0], duo_device=True, method="mobile_push",
                      duo_delay=2.0)
    authelia.oidc.interval = 2
    authelia.oidc.device_script = {"action": "approve", "user": "john", "after": 4.0}
    (STATE / "totp.json").write_text(json.dumps(
        {"john": base64.b32encode(authelia.users["john"].totp_secret).decode()}))
    say(f"Authelia test double: {url} (CA {certs / 'ca.pem'})")

    sshd = Sshd(work)
    sshd.start()
    say(f"sshd: 127.0.0.1 port {sshd.port}, PAM stack {sshd.pam_file}")
    base = (f"auth required {SHIM} binary={helper} url={url} ca-cert={certs / 'ca.pem'} "
            "oauth2-client-id=pam-authelia oauth2-client-secret=s3cret-client debug")

    def stop(*_):
        heading("stopping")
        sshd.stop()
        authelia.close()
        shutil.rmtree(helper_dir, ignore_errors=True)
        shutil.rmtree(certs, ignore_errors=True)
        for f in ("demo.pid", "totp.json"):
            (STATE / f).unlink(missing_ok=True)
        say("stopped; nothing on the host was changed")
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tail.take()

    def totp():
        return authelia.totp("john")

    sshd.configure(f"{base} auth-level=1FA\n")
    ssh_transcript(sshd.port, "john", {"Password: ": USERS["john"][0]},
                   "1FA: the Authelia password alone (auth-level=1FA)")
    show_log(tail)
    sshd.configure(f"{base} auth-level=1FA+2FA\n")
    ssh_transcript(sshd.port, "john", {"Password: ": USERS["john"][0], "TOTP Code: ": totp},
                   "1FA+2FA with TOTP: john's preferred method")
    show_log(tail)
    ssh_transcript(sshd.port, "john", {"Password: ": USERS["john"][0], "TOTP Code: ": "123456"},
                   "1FA+2FA with a wrong TOTP code: refused")
    show_log(tail)
    ssh_transcript(sshd.port, "jane", {"Password: ": USERS["jane"][0], "press Enter: ": ""},
                   "1FA+2FA with a Duo push: jane's preferred method (approved after 2 s)")
    show_log(tail)
    sshd.configure(f"{base} auth-level=1FA+2FA method-priority=device_authorization,user\n")
    ssh_transcript(sshd.port, "john", {"then press Enter.": ""},
                   "Device Authorization: scan the QR code (the demo approves after 4 s)")
    show_log(tail)

    sshd.configure(f"{base} auth-level=1FA+2FA\n")
    heading("Your turn")
    say(f"""Log in by hand from another terminal:

    ssh -p {sshd.port} john@127.0.0.1

  password:  {USERS['john'][0]}
  TOTP code: make demo-totp      (prints john's current code)

  jane ({USERS['jane'][0]}) gets a Duo push the demo approves after 2 s.
  The module's log lines appear here.

Stop with Ctrl-C here, or: make demo-stop""")
    while True:
        for line in tail.take():
            say("  " + line)
        time.sleep(0.5)


def print_totp(user):
    secrets = json.loads((STATE / "totp.json").read_text())
    say(totp_code(base64.b32decode(secrets[user])))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "totp":
        print_totp(sys.argv[2])
    else:
        main()
