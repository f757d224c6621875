#!/usr/bin/python3
"""A scripted stand-in for the helper, used to test the shim alone.

The shim starts it (through tests/stand_in_wrapper.c, a small program that
names the scenario and a record file) exactly as it starts the real helper.  It speaks the frame
protocol independently of protocol/frame.c: 1-byte type, 4-byte big-endian
length, payload.  It records what it received and what its process looks like
(argv, environment, descriptors, signal dispositions) as JSON in the record
file, then plays the scenario.
"""
import json
import os
import signal
import struct
import sys
import time

SCENARIO, RECORD = sys.argv[1], sys.argv[2]
IN, OUT = 0, 1


def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = os.read(IN, n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_frame():
    kind, length = struct.unpack(">BI", read_exact(5))
    return chr(kind), read_exact(length).decode()


def send(kind, text=""):
    payload = text.encode()
    os.write(OUT, struct.pack(">BI", ord(kind), len(payload)) + payload)


def record(**extra):
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    with open(f"/proc/{os.getpid()}/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    state = {
        "argv": open("/proc/self/cmdline", "rb").read().split(b"\0")[:-1],
        "environ": open("/proc/self/environ", "rb").read().split(b"\0")[:-1],
        "fds": fds,
        "sig_ignored": status.get("SigIgn"),
        "sig_blocked": status.get("SigBlk"),
        "pid": os.getpid(),
        "sid": os.getsid(0),
        "pgid": os.getpgid(0),
        "uids": status.get("Uid"),
        "gids": status.get("Gid"),
        "groups": status.get("Groups"),
        "cwd": os.getcwd(),
        "setup": setup,
    }
    state.update(extra)
    state["argv"] = [a.decode() for a in state["argv"]]
    state["environ"] = [e.decode() for e in state["environ"]]
    with open(RECORD, "w") as f:
        json.dump(state, f)


def audit_then_send(result):
    """What the real helper does with a result: its audit line (helper= its
    pid), then the result frame."""
    import syslog
    fields = dict(setup)
    syslog.openlog("pam_authelia", syslog.LOG_PID, syslog.LOG_AUTHPRIV)
    syslog.syslog(syslog.LOG_INFO, f"audit: user={fields.get('U', '-')} "
                  f"service={fields.get('S', '-')} rhost={fields.get('R', '-')} "
                  f"factors=password result={result} pam=PAM_SUCCESS duration_ms=1 "
                  f"helper={os.getpid()}")
    send("r", result)


setup = []
while True:
    kind, text = read_frame()
    setup.append([kind, text])
    if kind == "G":
        break
record()

if SCENARIO.startswith("result:"):
    send("r", SCENARIO.split(":", 1)[1])
elif SCENARIO == "conversation":
    # Every kind of message, then success; the answers are recorded.
    answers = []
    send("i", "an info line")
    send("x", "an error line")
    send("p", "Password: ")
    answers.append(read_frame())
    send("e", "Line one\nline two \u2580\u2584\u2588\nApprove, then press Enter.")
    answers.append(read_frame())
    record(answers=answers)
    send("r", "success")
elif SCENARIO == "prompt-then-result":
    send("p", "Password: ")
    answers = [read_frame()]
    record(answers=answers)
    send("r", "auth_err")
elif SCENARIO == "hang":
    time.sleep(3600)
elif SCENARIO == "hang-ignoring-sigterm":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(3600)
elif SCENARIO == "hang-logging-on-sigterm":
    # What the real helper does when told to stop: writes its audit line of an
    # abandoned login (result=abort) and exits.  The shim's backstop must not
    # give it that chance: its own line says what the application got.
    import syslog

    def stop(signum, frame):
        syslog.openlog("pam_authelia", syslog.LOG_PID, syslog.LOG_AUTHPRIV)
        syslog.syslog(syslog.LOG_NOTICE, "audit: user=john service=pamtest rhost=- "
                      "factors=none result=abort pam=PAM_ABORT duration_ms=1 "
                      'state=password_prompt reason="stopped by signal Terminated"')
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    time.sleep(3600)
elif SCENARIO == "crash":
    os.kill(os.getpid(), signal.SIGSEGV)
elif SCENARIO == "exit-without-result":
    sys.exit(0)
elif SCENARIO == "success-then-exit-3":
    audit_then_send("success")
    sys.exit(3)
elif SCENARIO == "flood-info":
    for i in range(100000):
        send("i", f"flood {i}")
    send("r", "success")
elif SCENARIO == "flood-garbage":
    os.write(OUT, os.urandom(1 << 20))
    time.sleep(3600)
elif SCENARIO == "oversized-frame":
    os.write(OUT, struct.pack(">BI", ord("i"), 100000))
    time.sleep(3600)
elif SCENARIO == "success-then-hang":
    audit_then_send("success")
    time.sleep(3600)
elif SCENARIO == "unknown-result":
    send("r", "maybe")
elif SCENARIO == "frame-after-result":
    audit_then_send("success")
    send("i", "one more thing")
elif SCENARIO == "half-frame-then-exit":
    os.write(OUT, struct.pack(">BI", ord("i"), 10) + b"abc")
    sys.exit(0)
elif SCENARIO == "shim-frame-type":
    send("P", "a frame only the shim may send")
    send("r", "success")
else:
    sys.exit(f"unknown scenario {SCENARIO}")
