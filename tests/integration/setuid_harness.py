"""The real /usr/bin/su and /usr/bin/sudo with a private PAM stack, users and
sudoers, for tests where the attacker is a local user.

Like sshd_harness.py it runs inside the private mount namespace of
tests/run_integration.sh: /etc/passwd, /etc/group, /etc/shadow, /etc/pam.d/su,
/etc/pam.d/sudo and /etc/sudoers are bind mounts nobody else sees, rewritten in
place (same inode) to change the stack between tests.  The attacker is an
unprivileged user driving a job-control shell on a pty (pexpect), so Ctrl-C and
Ctrl-Z reach su or sudo as they would at a terminal, and signals it sends are
sent with its own credentials.
"""
import os
import subprocess
from pathlib import Path

import pexpect

# uid, gid, Unix password (pam_unix) of each user
USERS = {
    "john": (42100, "john-unix-pw"),      # the target of su
    "mallory": (42101, "mallory-unix-pw"),  # the attacker; in sudoers
}


class SetuidCallers:
    def __init__(self, tmp: Path):
        self.dir = tmp
        self.mounts = []

    def start(self):
        t = self.dir
        (t / "home").mkdir(mode=0o755, exist_ok=True)
        passwd = Path("/etc/passwd").read_text()
        group = Path("/etc/group").read_text()
        shadow = Path("/etc/shadow").read_text()
        for user, (uid, password) in USERS.items():
            hashed = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True,
                                    text=True, check=True).stdout.strip()
            passwd += f"{user}:x:{uid}:{uid}::{t}/home:/bin/sh\n"
            group += f"{user}:x:{uid}:\n"
            shadow += f"{user}:{hashed}:19000:0:99999:7:::\n"
        files = {
            "passwd": (passwd, 0o644), "group": (group, 0o644), "shadow": (shadow, 0o600),
            "pam-su": ("auth required pam_deny.so\n", 0o644),
            "pam-sudo": ("auth required pam_deny.so\n", 0o644),
            # No credential cache, one try, no lecture: every run authenticates once.
            "sudoers": ("Defaults !lecture, timestamp_timeout=0, passwd_tries=1, !fqdn\n"
                        "root ALL=(ALL:ALL) ALL\n"
                        "mallory ALL=(ALL:ALL) ALL\n", 0o440),
        }
        for name, (text, mode) in files.items():
            (t / name).write_text(text)
            (t / name).chmod(mode)
        for name in ("passwd", "group", "shadow", "sudoers"):
            self._bind(t / name, f"/etc/{name}")
        self._bind(t / "pam-su", "/etc/pam.d/su")
        self._bind(t / "pam-sudo", "/etc/pam.d/sudo")

    def _bind(self, src, dst):
        subprocess.run(["mount", "--bind", str(src), dst], check=True)
        self.mounts.append(dst)

    def stop(self):
        for dst in reversed(self.mounts):
            subprocess.run(["umount", dst], check=False)

    def configure(self, auth_stack):
        """The same auth stack for su and sudo, rewritten in place."""
        for name in ("pam-su", "pam-sudo"):
            with open(self.dir / name, "w") as f:
                f.write(auth_stack + "account required pam_permit.so\n"
                        "session required pam_permit.so\n")


def become(user):
    """A preexec_fn: the process runs as user, with only its own group."""
    uid = USERS[user][0]

    def preexec():
        os.setgroups([uid])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    return preexec


def shell(user):
    """An interactive job-control shell of user on a pty of its own."""
    uid = USERS[user][0]

    def preexec():
        os.fchown(0, uid, uid)  # the terminal is the user's, as after a login
        become(user)()
    env = {"PATH": "/usr/bin:/bin", "HOME": "/", "TERM": "dumb", "LC_ALL": "C",
           "PS1": "$ ", "USER": user, "LOGNAME": user}
    sh = pexpect.spawn("/bin/bash", ["--norc", "--noprofile", "-i"], env=env, cwd="/",
                       preexec_fn=preexec, timeout=20, encoding="utf-8",
                       codec_errors="replace")
    sh.expect_exact("$ ")
    return sh


def kill_as(user, pid, signum):
    """kill(pid, signum) as user; the errno name, or "OK"."""
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import os, sys\n"
                        "try:\n"
                        f"    os.kill({pid}, {signum})\n"
                        "    print('OK')\n"
                        "except OSError as e:\n"
                        "    print(__import__('errno').errorcode[e.errno])\n"],
                       preexec_fn=become(user), capture_output=True, text=True, timeout=10)
    return r.stdout.strip()


def proc_state(pid):
    """The process state letter (R, S, T, Z...), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None

