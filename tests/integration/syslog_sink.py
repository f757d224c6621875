"""Our own /dev/log, for the tests and the demo: inside the private mount
namespace of tools/private_dev.sh, whatever the helper (ident pam_authelia) and
the module (through pam_syslog, with the application's ident) log arrives here
instead of at a syslog daemon."""
import os
import re
import socket
import threading
import time

SYSLOG_LINE = re.compile(r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d ([^:\[]+)(?:\[(\d+)\])?: (.*)$", re.S)


class Syslog:
    """Our /dev/log.  A thread drains it all the time: a Unix datagram socket
    queues only 10 messages, and a sender whose receiver lags blocks in
    syslog(3)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if os.path.exists("/dev/log"):
            os.unlink("/dev/log")
        self.sock.bind("/dev/log")
        os.chmod("/dev/log", 0o666)
        self.lock = threading.Lock()
        self.lines = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        while True:
            data = self.sock.recv(65536).decode(errors="replace").rstrip("\n")
            m = SYSLOG_LINE.match(data)
            if m:
                with self.lock:
                    self.lines.append({"priority": int(m.group(1)), "ident": m.group(2),
                                       "pid": m.group(3), "text": m.group(4)})

    def _settle(self):
        """Waits until no line has arrived for 50 ms."""
        count = -1
        while True:
            with self.lock:
                if len(self.lines) == count:
                    return
                count = len(self.lines)
            time.sleep(0.05)

    def clear(self):
        self._settle()
        with self.lock:
            self.lines = []

    def texts(self, ident="pam_authelia"):
        self._settle()
        with self.lock:
            return [l["text"] for l in self.lines if l["ident"] == ident]

    def shim_texts(self):
        """Lines the shim wrote with pam_syslog from inside the application."""
        self._settle()
        prefix = re.compile(r"^pam_authelia\([^)]*\): ")
        with self.lock:
            return [prefix.sub("", l["text"]) for l in self.lines if l["ident"] != "pam_authelia"]

    def wait_for(self, needle, ident="pam_authelia", timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(needle in l["text"] for l in self.lines if l["ident"] == ident):
                    return True
            time.sleep(0.01)
        return False

    def take(self):
        """Every line since the last take, as "ident: text", once logging settled."""
        self._settle()
        with self.lock:
            lines, self.lines = self.lines, []
        return [f"{l['ident']}: {l['text']}" for l in lines]
