"""Shared fixtures for the integration tests.

Tests run inside the private mount namespace that tests/run_integration.sh
sets up, where /dev/log is ours: the `syslog` fixture binds it and reads the
lines the helper (ident pam_authelia) and the shim (through pam_syslog) write.
"""
import atexit
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import testca
from safe_dir import install_helper, make_safe_dir
from syslog_sink import Syslog

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
SHIM = BUILD / "pam_authelia.so"
APP_PREFIX = os.environ.get("PAM_AUTHELIA_APP_PREFIX", "").split()
APP = BUILD / "tests" / "pam_test_app"
SET_AUTHTOK = BUILD / "tests" / "pam_set_authtok.so"
STAND_IN = Path(__file__).resolve().parent / "stand_in_helper.py"
STAND_IN_WRAPPER = BUILD / "tests" / "stand_in_wrapper"
SERVICE = "pamtest"

# Every helper the tests run is a copy in a directory of root's own outside
# /tmp (safe_dir.py): the shim refuses any other.
SAFE_DIR = make_safe_dir()
if SAFE_DIR is not None:
    atexit.register(shutil.rmtree, SAFE_DIR, True)
# make check runs some suites again with the sanitizer build of the helper and
# with pam_test_app (and so the shim) under valgrind.
BUILT_HELPER = Path(os.environ.get("PAM_AUTHELIA_HELPER", BUILD / "pam_authelia"))
HELPER = (install_helper(BUILT_HELPER, SAFE_DIR) if SAFE_DIR and BUILT_HELPER.exists()
          else BUILT_HELPER)


@pytest.fixture(scope="session")
def _syslog_socket():
    if os.environ.get("PAM_AUTHELIA_PRIVATE_DEV") != "1":
        pytest.exit("run the integration tests through tests/run_integration.sh", 2)
    return Syslog()


@pytest.fixture
def syslog(_syslog_socket):
    _syslog_socket.clear()
    return _syslog_socket


class Login:
    """One pam_authenticate() through the real shim in pam_test_app."""

    def __init__(self, tmp_path, module_args, user="john", rhost=None, connect=None,
                 authtok=None, extra_fd=False, hostile_signals=False, setuid_caller=None,
                 preexec=None, service=SERVICE):
        confdir = tmp_path / "pam.d"
        confdir.mkdir(exist_ok=True)
        # PAM_AUTHTOK can only be set by a module: pam_set_authtok.so prompts
        # for it the way pam_unix does (pam_get_authtok), as in a 2FA stack.
        stack = f"auth required {SET_AUTHTOK}\n" if authtok is not None else ""
        (confdir / service).write_text(stack + f"auth required {SHIM} {module_args}\n")
        (confdir / "other").write_text("auth required pam_deny.so\n")
        cmd = APP_PREFIX + [str(APP)]
        if rhost:
            cmd += ["--rhost", rhost]
        if connect:
            cmd += ["--connect", str(connect)]
        if extra_fd:
            cmd += ["--open-extra-fd"]
        if hostile_signals:
            cmd += ["--hostile-signals"]
        cmd += [str(confdir), service, user]
        def become_setuid_caller():
            # What su or sudo look like: real ids and groups of the invoking
            # user (uid, gid), effective uid root.
            if setuid_caller is not None:
                uid, gid = setuid_caller
                os.setgroups([gid])
                os.setresgid(gid, gid, gid)
                os.setresuid(uid, 0, 0)
            if preexec is not None:
                preexec()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     preexec_fn=become_setuid_caller)
        self._buf = b""
        kind, pid = self._line(5).split(" ", 1)
        assert kind == "PID"
        self.pid = int(pid)
        if authtok is not None:
            assert self.conv() == ("echo_off", "Password: ")
            self.answer(authtok)

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise TimeoutError("no output from pam_test_app")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError("pam_test_app exited")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def conv(self, timeout=5.0):
        """The next conversation message as (style, text)."""
        line = self._line(timeout)
        assert line.startswith("CONV "), line
        _, style, text = line.split(" ", 2)
        return style, text.encode().decode("unicode_escape").encode("latin-1").decode()

    def answer(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def result(self, timeout=15.0):
        line = self._line(timeout)
        assert line.startswith("RESULT "), line
        _, name, ms = line.split(" ")
        # pam_test_app exits 0 after RESULT; valgrind's --error-exitcode shows here.
        assert self.proc.wait(10) == 0, "pam_test_app exit status (valgrind errors?)"
        return name, int(ms)

    def helper_pids(self):
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def wait_helper(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.helper_pids()
            if pids:
                return pids[0]
            time.sleep(0.005)
        raise TimeoutError("helper did not start")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def login(tmp_path):
    started = []

    def start(module_args, **kw):
        l = Login(tmp_path, module_args, **kw)
        started.append(l)
        return l

    yield start
    for l in started:
        l.kill()


@pytest.fixture
def stand_in(tmp_path):
    """Returns (binary path, record path) for a scenario of stand_in_helper.py:
    a copy of the stand_in_wrapper program in a safe directory of this test's
    own, which records exactly what the shim's execve gave it and runs the
    script (see tests/stand_in_wrapper.c)."""
    safe = make_safe_dir(SAFE_DIR)  # removed with SAFE_DIR

    def make(scenario):
        record = tmp_path / f"record-{scenario.replace(':', '-')}.json"
        wrapper = install_helper(STAND_IN_WRAPPER, safe, f"helper-{scenario.replace(':', '-')}")
        Path(f"{wrapper}.scenario").write_text(f"{scenario}\n{record}\n{STAND_IN}\n")
        return wrapper, record
    tmp_path.chmod(0o755)
    return make


def process_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


# How soon a helper must be gone once it has a reason to stop (a hang-up, a
# signal, the PAM process's death).  It measures ~3 ms alone (make bench); the bound is
# generous because two loaded CPUs and the ASan helper stretch it past 100 ms,
# and still far below every other way out (a timeout of seconds, the backstop).
GONE_AT_ONCE = 0.4


def wait_gone(pid, timeout):
    """Seconds until pid is gone, or None if it outlived timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not process_alive(pid):
            return time.monotonic() - start
        time.sleep(0.001)
    return None


# --- the Authelia test double and its certificates ---------------------------

@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A test CA, a server certificate for localhost/127.0.0.1 it signed, one for
    another host, a self-signed one, and a second CA with its own localhost cert.
    In a safe directory (safe_dir.py): the helper trusts a ca-cert only below
    directories that root alone can write, as it runs a helper binary."""
    d = make_safe_dir(SAFE_DIR) if SAFE_DIR is not None else None  # removed with SAFE_DIR
    if d is None:
        d = tmp_path_factory.mktemp("certs")
    d.chmod(0o755)
    # The mutation catalogue (tests/mutation/) runs one test per pytest session:
    # it makes the keys once and names their directory here.
    cache = os.environ.get("PAM_AUTHELIA_TEST_CERTS")
    if cache and (Path(cache) / "ca.pem").exists():
        shutil.copytree(cache, d, dirs_exist_ok=True)
        return d
    testca.make_ca(d, "ca")
    testca.make_ca(d, "other-ca")
    testca.make_cert(d, "server", "DNS:localhost,IP:127.0.0.1", ca="ca")
    testca.make_cert(d, "wrong-host", "DNS:other.example", ca="ca")
    testca.make_cert(d, "self-signed", "DNS:localhost,IP:127.0.0.1")
    testca.make_cert(d, "other-ca-server", "DNS:localhost,IP:127.0.0.1", ca="other-ca")
    testca.readable(d)
    if cache:
        shutil.copytree(d, cache, dirs_exist_ok=True)
    return d


@pytest.fixture(scope="session")
def _authelia_server(certs):
    from authelia_double import AutheliaDouble
    double = AutheliaDouble(certs / "server.pem", certs / "server.key")
    yield double
    double.close()


@pytest.fixture
def authelia(_authelia_server):
    """The double, reset for this test, with `url` and `args` for a PAM line."""
    d = _authelia_server
    d.reset()
    d.url = f"https://localhost:{d.port}"
    return d
