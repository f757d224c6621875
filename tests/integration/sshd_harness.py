"""A real /usr/sbin/sshd for end-to-end tests, private to the test run.

It runs inside the private mount namespace of tests/run_integration.sh, so its
PAM stack, passwd, group and shadow files are bind mounts visible to no one
else; the host's /etc is never touched.  The PAM stack file is rewritten in
place (same inode) to change the module's options between tests, which sshd
picks up on the next connection.  Clients: paramiko for exact protocol checks,
OpenSSH's ssh under pexpect for what a person sees.
"""
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import paramiko

USERS = ["john", "jane"] + [f"user{i:02d}" for i in range(20)]
PASSWORD = "unix-pw-123"  # the local (pam_unix) password of every test user


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sshd:
    def __init__(self, tmp: Path, password=PASSWORD):
        self.dir = tmp
        self.password = password  # every user's local (pam_unix) password
        self.port = free_port()
        self.pam_file = tmp / "pam-sshd"
        self.log = tmp / "sshd.log"
        self.created_run_sshd = False
        self.mounts = []

    def start(self, login_grace=30, preexec=None):
        """preexec: run in sshd's process before it starts (a UTS namespace
        with a host name of the test's own, say)."""
        t = self.dir
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(t / "hostkey")],
                       check=True)
        (t / "home").mkdir(exist_ok=True)
        (t / "sshd_config").write_text(f"""ListenAddress 127.0.0.1
Port {self.port}
HostKey {t}/hostkey
PidFile {t}/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
PermitRootLogin no
AuthorizedKeysFile none
UseDNS no
PrintMotd no
MaxStartups 100
MaxAuthTries 3
LoginGraceTime {login_grace}
LogLevel DEBUG1
ForceCommand echo LOGIN-OK user=$(id -un)
""")
        self.pam_file.write_text("auth required pam_deny.so\n")
        passwd = Path("/etc/passwd").read_text()
        group = Path("/etc/group").read_text()
        shadow = Path("/etc/shadow").read_text()
        hashed = subprocess.run(["openssl", "passwd", "-6", self.password], capture_output=True,
                                text=True, check=True).stdout.strip()
        for i, user in enumerate(USERS):
            uid = 42000 + i
            passwd += f"{user}:x:{uid}:{uid}::{t}/home:/bin/sh\n"
            group += f"{user}:x:{uid}:\n"
            shadow += f"{user}:{hashed}:19000:0:99999:7:::\n"
        for name, text in (("passwd", passwd), ("group", group), ("shadow", shadow)):
            (t / name).write_text(text)
        (t / "shadow").chmod(0o600)
        self._bind(t / "pam-sshd", "/etc/pam.d/sshd")
        for name in ("passwd", "group", "shadow"):
            self._bind(t / name, f"/etc/{name}")
        if not os.path.isdir("/run/sshd"):  # sshd's privilege separation directory
            os.mkdir("/run/sshd", 0o755)
            self.created_run_sshd = True
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(t / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"),
                                     preexec_fn=preexec)
        deadline = time.monotonic() + 10
        while b"Server listening" not in self.log.read_bytes():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("sshd did not start:\n" + self.log.read_text())
            time.sleep(0.02)

    def _bind(self, src, dst):
        subprocess.run(["mount", "--bind", str(src), dst], check=True)
        self.mounts.append(dst)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for dst in reversed(self.mounts):
            subprocess.run(["umount", dst], check=False)
        if self.created_run_sshd:
            os.rmdir("/run/sshd")

    def configure(self, stack):
        """Rewrites the PAM stack in place (same inode: sshd sees it at once)."""
        with open(self.pam_file, "w") as f:
            f.write(stack + "account required pam_permit.so\nsession required pam_permit.so\n")

    def mark(self):
        """From now on, log_text() shows only what sshd logs after this call."""
        self.since = self.log.stat().st_size

    def log_text(self):
        with open(self.log, "rb") as f:
            f.seek(getattr(self, "since", 0))
            return f.read().decode(errors="replace")


def login(port, user, answer, timeout=20, source=None):
    """A keyboard-interactive login with paramiko.  answer(prompt_text) gives
    each reply; source: the client's address (any 127.x.y.z).  Returns
    (authenticated, command output, prompts seen)."""
    sock = socket.create_connection(("127.0.0.1", port),
                                    source_address=(source, 0) if source else None)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    seen = []

    def handler(title, instructions, prompts):
        seen.append((instructions, [p for p, _ in prompts]))
        return [answer(p) for p, _ in prompts]

    try:
        t.auth_interactive(user, handler)
    except paramiko.AuthenticationException:
        pass
    except paramiko.SSHException:
        pass
    ok, out = t.is_authenticated(), None
    if ok:
        ch = t.open_session()
        ch.exec_command("x")
        out = ch.makefile().read().decode().strip()
    t.close()
    return ok, out, seen


def helper_pids(binary):
    """PIDs of running helpers (their argv[0] is the binary's path)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0]
                stat = open(f"/proc/{pid}/stat").read()
            except OSError:
                continue
            if cmd == str(binary).encode() and ") Z" not in stat:
                pids.append(int(pid))
    return pids


def wait_for_helper(binary, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = helper_pids(binary)
        if pids:
            return pids[0]
        time.sleep(0.005)
    raise TimeoutError("no helper process")
