"""The helper's sandbox (engine/sandbox.c), seen from outside: what
/proc/<helper> says while a login waits (ids, groups, capabilities,
no_new_privs, seccomp, limits, dumpable), the identity chosen, the ids su(1)
and sudo(8) start PAM with, a helper built to try what its sandbox must refuse
(build/tests/pam_authelia_selftest, never installed), a kernel without
Landlock or seccomp, name resolution and the system CA store, which must be
read before the sandbox closes."""
import ctypes
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import BUILD, HELPER, Login
from safe_dir import install_helper, make_safe_dir

SELFTEST = BUILD / "tests" / "pam_authelia_selftest"
BASE = f"binary={HELPER} url=https://127.0.0.1:1"
SIGSYS_LINE = "killed by signal 31 (SIGSYS): its sandbox stopped a system call it must not make"


def _landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, VERSION)
    return abi if abi > 0 else 0


LANDLOCK_ABI = _landlock_abi()


def _passwd_entry(name):
    for line in Path("/etc/passwd").read_text().splitlines():
        f = line.split(":")
        if f[0] == name:
            return int(f[2]), int(f[3])
    return None


def expected_identity():
    """The dedicated user when it exists, as after `make install`; else nobody."""
    for name in ("_pam_authelia", "nobody"):
        entry = _passwd_entry(name)
        if entry:
            return name, entry
    raise AssertionError("no unprivileged user on this machine")


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def proc_limits(pid):
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        for line in f.readlines()[1:]:
            name, soft, hard = line[:26].strip(), line[26:47].strip(), line[47:68].strip()
            out[name] = (soft, hard)
    return out


def assert_confined(pid, uid, gid):
    """Fails on anything still privileged in a running helper."""
    s = proc_status(pid)
    assert s["Uid"].split() == [str(uid)] * 4, s["Uid"]  # real, effective, saved, fs
    assert s["Gid"].split() == [str(gid)] * 4, s["Gid"]
    assert s["Groups"] == "", s["Groups"]
    # (CapBnd only bounds what execve could grant: with no_new_privs, nothing.)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(s[cap], 16) == 0, (cap, s[cap])
    assert s["NoNewPrivs"] == "1"
    assert s["Seccomp"] == "2"  # a filter
    limits = proc_limits(pid)
    assert limits["Max core file size"] == ("0", "0")
    assert limits["Max processes"] == ("0", "0")
    assert int(limits["Max open files"][1]) <= 32, limits["Max open files"]
    # Not dumpable: the kernel hands /proc/PID to root, whatever the uid.
    assert os.stat(f"/proc/{pid}/status").st_uid == 0


def sandbox_line(texts):
    return next(t for t in texts if t.startswith("sandbox: "))


# --- the real helper ---------------------------------------------------------

def test_helper_is_unprivileged_and_confined_at_the_password_prompt(login, syslog):
    name, (uid, gid) = expected_identity()
    l = login(f"{BASE} debug")
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    assert_confined(helper, uid, gid)
    line = sandbox_line(syslog.texts())
    assert line.startswith(f"sandbox: uid={uid}({name}) gid={gid} groups=none seccomp=on "), line
    if LANDLOCK_ABI >= 4:
        assert "landlock=on (ABI" in line and "TCP connect to port 1 only" in line, line
    l.answer("pw")
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"


def test_the_sandbox_line_needs_debug(login, syslog):
    l = login(BASE)
    l.conv()
    l.answer("pw")
    l.result()
    assert not any(t.startswith("sandbox: ") for t in syslog.texts())


def test_helper_stays_confined_through_a_totp_login(login, authelia, certs, syslog):
    """After TLS, HTTP and JSON from the server were parsed, at the TOTP prompt."""
    _, (uid, gid) = expected_identity()
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = login(f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} debug")
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("pw-john")
    assert l.conv() == ("echo_on", "TOTP Code: ")
    assert_confined(helper, uid, gid)
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"


def _ids(ruid, euid, suid, groups):
    def preexec():
        os.setgroups(groups)
        os.setresgid(ruid and 42000, euid and 42000, suid and 42000)
        os.setresuid(ruid, euid, suid)
    return preexec


@pytest.mark.parametrize("ruid,euid,suid", [
    (42000, 0, 0),      # su: set-uid root, the real uid is the caller's
    (0, 0, 42000),      # a saved uid left behind
    (42000, 0, 42000),  # only the effective uid is root
])
def test_caller_ids_under_su_and_sudo_are_all_replaced(login, syslog, ruid, euid, suid):
    """The helper inherits whatever ids the PAM application runs with; every
    one of them, and the supplementary groups (adm here), must be gone."""
    _, (uid, gid) = expected_identity()
    l = login(f"{BASE} debug", preexec=_ids(ruid, euid, suid, [42000, 4]))
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    assert_confined(helper, uid, gid)
    l.answer("pw")
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"


def test_an_unprivileged_caller_keeps_its_ids_but_is_confined(syslog):
    """Run by a user (tests, by hand), the helper has no root to drop; the rest
    of the sandbox still applies, dumpable off included."""
    d = Path(tempfile.mkdtemp(prefix="pam-sandbox-", dir="/tmp"))
    d.chmod(0o755)
    l = Login(d, f"{BASE} debug", preexec=_ids(42000, 42000, 42000, [42000]))
    try:
        helper = l.wait_helper()
        assert l.conv() == ("echo_off", "Password: ")
        s = proc_status(helper)
        assert s["Uid"].split() == ["42000"] * 4 and s["Gid"].split() == ["42000"] * 4
        assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2"
        assert int(s["CapEff"], 16) == 0 and int(s["CapPrm"], 16) == 0
        assert os.stat(f"/proc/{helper}/status").st_uid == 0  # not dumpable
        assert proc_limits(helper)["Max core file size"] == ("0", "0")
        l.answer("pw")
        assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    finally:
        l.kill()
        shutil.rmtree(d)
    assert sandbox_line(syslog.texts()).startswith(
        "sandbox: uid=42000 gid=42000 (not started as root: ids unchanged) seccomp=on ")


@pytest.fixture
def etc_passwd(tmp_path):
    """Replaces /etc/passwd and /etc/group (bind mounts in the test run's own
    mount namespace) for one test."""
    mounts = []

    def install(drop=(), add_passwd="", add_group=""):
        for name, extra in (("passwd", add_passwd), ("group", add_group)):
            lines = [l for l in Path(f"/etc/{name}").read_text().splitlines()
                     if l.split(":")[0] not in drop]
            path = tmp_path / name
            path.write_text("\n".join(lines) + "\n" + extra)
            path.chmod(0o644)
            subprocess.run(["mount", "--bind", str(path), f"/etc/{name}"], check=True)
            mounts.append(f"/etc/{name}")

    yield install
    for m in reversed(mounts):
        subprocess.run(["umount", m], check=True)


def test_the_dedicated_user_is_preferred(login, syslog, etc_passwd):
    etc_passwd(drop=("_pam_authelia",),
               add_passwd="_pam_authelia:x:61999:61998::/nonexistent:/usr/sbin/nologin\n",
               add_group="_pam_authelia:x:61998:\n")
    l = login(f"{BASE} debug")
    helper = l.wait_helper()
    l.conv()
    assert_confined(helper, 61999, 61998)
    assert sandbox_line(syslog.texts()).startswith(
        "sandbox: uid=61999(_pam_authelia) gid=61998 groups=none")
    l.answer("pw")
    l.result()


def test_without_an_unprivileged_user_the_login_fails_closed(login, syslog, etc_passwd):
    etc_passwd(drop=("_pam_authelia", "nobody"))
    l = login(BASE)
    assert l.result()[0] == "PAM_SERVICE_ERR"  # before any prompt
    assert ("cannot drop root: neither user _pam_authelia nor nobody exists in /etc/passwd "
            "(create _pam_authelia: make install does)") in syslog.texts()


def test_a_dedicated_user_with_uid_0_is_refused(login, syslog, etc_passwd):
    etc_passwd(drop=("_pam_authelia",),
               add_passwd="_pam_authelia:x:0:0::/nonexistent:/usr/sbin/nologin\n")
    assert login(BASE).result()[0] == "PAM_SERVICE_ERR"
    assert ("cannot drop root: user _pam_authelia has uid or gid 0 in /etc/passwd"
            in syslog.texts())


def _doctor(pam_file):
    return subprocess.run([str(HELPER), "--check", "--pam-file", str(pam_file)],
                          capture_output=True, text=True, env={}, timeout=60)


def test_the_doctor_ends_with_the_sandbox_a_login_gets(tmp_path):
    name, (uid, gid) = expected_identity()
    pam = tmp_path / "pamtest"
    pam.write_text("auth required pam_unix.so\n")
    lines = _doctor(pam).stdout.splitlines()
    assert lines[-2].startswith(f"OK   sandbox: uid={uid}({name}) gid={gid} groups=none "
                                "seccomp=on landlock="), lines
    assert lines[-1].startswith("summary: ")


def test_the_doctor_fails_a_sandbox_that_cannot_be_applied(tmp_path, etc_passwd):
    etc_passwd(drop=("_pam_authelia", "nobody"))
    pam = tmp_path / "pamtest"
    pam.write_text("auth required pam_unix.so\n")
    r = _doctor(pam)
    assert r.returncode == 2
    assert ("FAIL sandbox: cannot drop root: neither user _pam_authelia nor nobody exists in "
            "/etc/passwd (create _pam_authelia: make install does); fix: every login fails the "
            "same way") in r.stdout.splitlines(), r.stdout


# --- the selftest build: what the sandbox must refuse -------------------------

@pytest.fixture
def selftest():
    """A copy of the selftest helper in a directory the module accepts, with
    the attempt named in its side file "<path>.action" (the module gives the
    helper no environment and executes it from a descriptor: no scripts)."""
    d = make_safe_dir()
    assert d is not None, "needs root"

    def make(action):
        binary = install_helper(SELFTEST, d, f"selftest-{action.replace('/', '-')}")
        Path(f"{binary}.action").write_text(action + "\n")
        return binary
    yield make
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("action,line", [
    ("open-shadow", "open /etc/shadow: refused (Permission denied)"),
    # /etc/passwd is world-readable: only the layer under test can refuse it.
    ("open-passwd/seccomp", "open /etc/passwd (seccomp alone): refused (Permission denied)"),
    pytest.param("open-passwd/landlock",
                 "open /etc/passwd (Landlock alone): refused (Permission denied)",
                 marks=pytest.mark.skipif(not LANDLOCK_ABI, reason="no Landlock")),
    ("setuid/no-seccomp", "setresuid(0, 0, 0) (no seccomp): refused (Operation not permitted)"),
    ("socket-unix", "socket(AF_UNIX): refused (Permission denied)"),
    pytest.param("connect-other-port", "connect to 127.0.0.1:9: refused (Permission denied)",
                 marks=pytest.mark.skipif(LANDLOCK_ABI < 4, reason="Landlock without TCP")),
])
def test_refused_with_an_error(login, syslog, selftest, action, line):
    name, _ = login(f"binary={selftest(action)} url=https://127.0.0.1:1").result()
    assert name == "PAM_SERVICE_ERR"  # the selftest ends the login, closed
    texts = syslog.texts()
    assert f"sandbox selftest: {line}" in texts, texts
    assert not any("NOT REFUSED" in t for t in texts), texts
    if action == "setuid/no-seccomp":
        assert ("sandbox selftest: setresgid(0, 0, 0) (no seccomp): refused "
                "(Operation not permitted)") in texts


def test_the_parent_death_signal_survives_the_drop(login, syslog, selftest):
    """The kernel clears it when the ids change; without it a helper whose
    PAM process died would live on as long as anyone held its channel."""
    login(f"binary={selftest('pdeathsig/no-seccomp')} url=https://127.0.0.1:1").result()
    assert "sandbox selftest: parent-death signal after the drop: 15" in syslog.texts()


@pytest.mark.parametrize("action", ["exec", "ptrace", "setuid", "fork", "kill-parent",
                                    "mprotect-exec"])
def test_killed_by_seccomp(login, syslog, selftest, action):
    """execve /bin/sh, ptrace the PAM process, setuid(0), fork, kill the PAM
    process, make memory executable: the kernel kills the helper at once and
    the module says why."""
    binary = selftest(action)
    name, _ = login(f"binary={binary} url=https://127.0.0.1:1").result()
    assert name == "PAM_SERVICE_ERR"
    assert f"sandbox selftest: trying {action}" in syslog.texts()
    assert not any("NOT REFUSED" in t for t in syslog.texts())
    assert f"helper {binary} {SIGSYS_LINE}" in syslog.shim_texts(), syslog.shim_texts()


@pytest.mark.parametrize("action,words", [
    ("landlock-missing", "landlock=off (the kernel has no Landlock)"),
    ("seccomp-missing", "seccomp=off (the kernel has no seccomp)"),
])
def test_a_missing_kernel_layer_is_logged_once_and_the_login_goes_on(login, syslog, selftest,
                                                                     action, words):
    _, (uid, gid) = expected_identity()
    l = login(f"binary={selftest(action)} url=https://127.0.0.1:1")  # no debug
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    s = proc_status(helper)
    assert s["Uid"].split() == [str(uid)] * 4 and s["NoNewPrivs"] == "1"
    assert s["Seccomp"] == ("0" if action == "seccomp-missing" else "2")
    l.answer("pw")
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    lines = [t for t in syslog.texts() if t.startswith("sandbox: ")]
    assert len(lines) == 1 and words in lines[0], lines


# --- what must be read before the sandbox closes ------------------------------

class DnsDouble:
    """A UDP DNS server on 127.0.0.77:53 answering every A query with
    127.0.0.1 and everything else with no record; it records the names."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.77", 53))
        self.queries = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            qid, _, qd = struct.unpack(">HHH", data[:6])
            i, labels = 12, []
            while data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode())
                i += 1 + data[i]
            qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
            question = data[12:i + 5]
            self.queries.append((".".join(labels).lower(), qtype))  # evdns mixes case
            answer = b""
            if qtype == 1:
                answer = struct.pack(">HHHIH4s", 0xC00C, 1, 1, 60, 4, socket.inet_aton("127.0.0.1"))
            self.sock.sendto(struct.pack(">HHHHHH", qid, 0x8180, 1, 1 if answer else 0, 0, 0)
                             + question + answer, peer)

    def close(self):
        self.sock.close()


def test_names_are_resolved_over_dns_inside_the_sandbox(login, authelia, certs, syslog, tmp_path):
    """resolv.conf and hosts are read before the drop; the UDP queries and
    answers happen after it, and the login works."""
    authelia.add_user("john", "pw-john")
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.77\n")
    (tmp_path / "hosts").write_text("::2 nothing-here\n")  # no localhost: ask the server
    dns = DnsDouble()
    mounts = []
    try:
        for name in ("resolv.conf", "hosts"):
            (tmp_path / name).chmod(0o644)
            subprocess.run(["mount", "--bind", str(tmp_path / name), f"/etc/{name}"], check=True)
            mounts.append(f"/etc/{name}")
        l = login(f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} debug "
                  "auth-level=1FA")
        assert l.conv() == ("echo_off", "Password: ")
        l.answer("pw-john")
        assert l.result()[0] == "PAM_SUCCESS"
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", m], check=False)
        dns.close()
    assert ("localhost", 1) in dns.queries
    assert "sandbox: " in "\n".join(syslog.texts())


def test_the_system_store_is_read_before_the_sandbox(login, authelia, certs, syslog, tmp_path):
    """Without ca-cert the bundle and the hashed directory's names are read as
    root and searched during the handshake, sandboxed: with the test CA added
    the way update-ca-certificates adds one, the login works."""
    authelia.add_user("john", "pw-john")
    certs_dir = Path(os.path.realpath("/usr/lib/ssl/certs"))
    bundle = Path(os.path.realpath("/usr/lib/ssl/cert.pem"))
    assert bundle.parent == certs_dir
    copy = tmp_path / "certs"
    shutil.copytree(certs_dir, copy, symlinks=True)
    ca = (certs / "ca.pem").read_bytes()
    (copy / bundle.name).write_bytes(bundle.read_bytes() + ca)
    ca_hash = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(certs / "ca.pem")],
                             capture_output=True, text=True, check=True).stdout.strip()
    (copy / f"{ca_hash}.0").write_bytes(ca)
    tmp_path.chmod(0o755)
    subprocess.run(["mount", "--bind", str(copy), str(certs_dir)], check=True)
    try:
        l = login(f"binary={HELPER} url={authelia.url} debug auth-level=1FA")
        l.conv()
        l.answer("pw-john")
        assert l.result()[0] == "PAM_SUCCESS", syslog.texts()
    finally:
        subprocess.run(["umount", str(certs_dir)], check=False)
