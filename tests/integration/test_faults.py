"""Every fault, end to end through the real sshd: what a hostile or broken
network does to a login (refused, DNS, resets in the TLS handshake, in the
headers and in the body, a TLS alert, short and endless bodies, dripped and
endless headers, 5xx, invalid JSON, "OK" bodies missing their fields, on each
endpoint), and what a local root can do to the helper (its channel closed,
the helper killed) at each state of the login.

Each login runs through sshd's PAM stack between two lines of
tests/pam_fd_snapshot.so, which list the descriptors of sshd's PAM process
before and after the module: they must be the same.  Each test asserts that
the login was refused (sshd logs "Failed", never "Accepted"), the result by
the README's rule in the helper's line and the module's ("result X",
"helper result X", or the module's own line when the helper died), exactly
one failure line from the helper (notice or above) saying what happened, and
no helper left running.  PAM lines carry short timeouts where the whole-
exchange timeout is what ends the login.
"""
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, HELPER, SHIM
from fault_server import FaultListener, NxDomainDns
from sshd_harness import Sshd, helper_pids, login, wait_for_helper

SNAPSHOT = BUILD / "tests" / "pam_fd_snapshot.so"
DUO = "Duo Push sent, approve on your device, then press Enter: "
APPROVE = "Approve on your device, then press Enter."
DEVICE = ("method-priority=device_authorization oauth2-client-id=pam-authelia "
          "oauth2-client-secret=s3cret-client")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    d = tmp_path_factory.mktemp("sshd-faults")
    d.chmod(0o755)
    server = Sshd(d)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def run(sshd, authelia, certs, syslog, tmp_path):
    """run(args, answer, url=None) logs john in through sshd with the module
    configured by args (and url, default the double's), between two descriptor
    snapshots; returns (accepted, seconds)."""
    snap = tmp_path / "fds"
    sshd.mark()

    def go(args, answer=None, url=None, pre=None):
        sshd.configure(
            f"auth optional {SNAPSHOT} tag=before file={snap}\n"
            f"auth required {SHIM} binary={HELPER} url={url or authelia.url} "
            f"ca-cert={certs / 'ca.pem'} debug {args}\n"
            f"auth optional {SNAPSHOT} tag=after file={snap}\n")
        t0 = time.monotonic()
        ok, _, _ = login(sshd.port, "john", answer or answers())
        return ok, time.monotonic() - t0
    go.snapshot = snap
    return go


def answers(password="pw-john", totp=None, on_prompt=None):
    """Answers each prompt; on_prompt(prompt) runs first (a fault at that state)."""
    def answer(prompt):
        if on_prompt is not None:
            on_prompt(prompt)
        if prompt.endswith("Password: "):
            return password
        if prompt.endswith("TOTP Code: "):
            return totp() if callable(totp) else (totp or "000000")
        return ""
    return answer


def refused(sshd, syslog, run, result=None, helper_line=None, shim_line=None):
    """The checks every fault ends with (see the module's docstring)."""
    deadline = time.monotonic() + 5  # sshd may log it just after the client hears
    while "Failed keyboard-interactive/pam for john" not in sshd.log_text():
        assert time.monotonic() < deadline, sshd.log_text()
        time.sleep(0.05)
    assert "Accepted" not in sshd.log_text()
    deadline = time.monotonic() + 2
    while helper_pids(HELPER):
        assert time.monotonic() < deadline, "a helper is still running"
        time.sleep(0.02)
    helper, shim = syslog.texts(), syslog.shim_texts()
    if result is not None:
        assert f'result {result} for user "john"' in helper, helper
        assert f"helper result {result}" in shim, shim
    # (a missing sandbox layer, the ASan build's, and the inline secret's warning are
    # logged at notice and warning on every login: they are not about the fault)
    loud = [l["text"] for l in syslog.lines if l["ident"] == "pam_authelia"
            and (l["priority"] & 7) <= 5
            and not l["text"].startswith(("oauth2-client-secret=", "sandbox: "))]
    # issue 13's audit line (one per attempt, at notice) comes beside the failure line
    audit = [t for t in loud if t.startswith("audit: ")]
    loud = [t for t in loud if not t.startswith("audit: ")]
    assert len(audit) <= 1, audit
    if result is not None and audit:
        assert f" result={result} " in audit[0], audit
    if os.environ.get("FAULTS_SHOW"):
        print("\nhelper:", loud, "\nshim:", [t for t in shim if "client socket" not in t])
    if helper_line is not None:
        assert len(loud) == 1 and helper_line in loud[0], loud
    if shim_line is not None:
        assert any(shim_line in t for t in shim), shim
    # sshd's PAM process holds what it held before the module ran.
    lines = run.snapshot.read_text().splitlines()
    before = [l.split(" ", 2) for l in lines if l.startswith("before ")]
    after = [l.split(" ", 2) for l in lines if l.startswith("after ")]
    assert len(before) == len(after) == 1, lines
    assert before[0][1] == after[0][1]  # the same process
    # glibc's syslog(3) socket, which pam_syslog opens on first use and keeps
    # (any module that logs does), is sshd's own, not something we left.
    left = set(after[0][2].split()) - set(before[0][2].split())
    assert set(before[0][2].split()) <= set(after[0][2].split()), lines
    assert all(fd.endswith(">/dev/log") for fd in left), lines


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_request(authelia, path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while path not in authelia.paths():
        assert time.monotonic() < deadline, f"no request for {path}"
        time.sleep(0.01)


# --- below HTTP ---------------------------------------------------------------------

def test_connection_refused(run, sshd, syslog):
    port = free_port()
    ok, _ = run("auth-level=1FA", url=f"https://localhost:{port}")
    assert not ok
    refused(sshd, syslog, run, "authinfo_unavail",
            f"connection to localhost:{port} refused or unreachable")


def test_dns_failure(run, sshd, syslog, authelia, tmp_path):
    """A url whose host does not resolve: resolv.conf and hosts of the test's
    own (bind mounts in its private namespace), a DNS server on loopback that
    answers NXDOMAIN; nothing leaves the machine."""
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.78\n")
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
    dns = NxDomainDns()
    mounts = []
    try:
        for name in ("resolv.conf", "hosts"):
            (tmp_path / name).chmod(0o644)
            subprocess.run(["mount", "--bind", str(tmp_path / name), f"/etc/{name}"], check=True)
            mounts.append(f"/etc/{name}")
        ok, _ = run("auth-level=1FA", url=f"https://authelia.invalid:{authelia.port}")
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", m], check=False)
        dns.close()
    assert not ok
    assert "authelia.invalid" in dns.queries
    refused(sshd, syslog, run, "authinfo_unavail", "cannot resolve authelia.invalid")
    assert authelia.requests == []


@pytest.mark.parametrize("behaviour,line", [
    ("reset", "Connection reset by peer"),
    ("alert", "TLS with localhost:"),
], ids=["reset-in-tls-handshake", "tls-alert"])
def test_tls_handshake_faults(run, sshd, syslog, behaviour, line):
    server = FaultListener(behaviour)
    try:
        ok, _ = run("auth-level=1FA", url=f"https://localhost:{server.port}")
    finally:
        server.close()
    assert not ok and server.connections >= 1
    refused(sshd, syslog, run, "authinfo_unavail", line)


RESET_MID_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: applic"
SHORT_BODY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
              b'{"status":"OK"}')
CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("injection,result,line", [
    (dict(reset_after=RESET_MID_HEADERS), "authinfo_unavail", "request failed: connection to"),
    (dict(reset=True), "authinfo_unavail", "request failed: connection to"),
    (dict(raw=SHORT_BODY), "authinfo_unavail", "closed before a response"),
    (dict(raw=CHUNKED, endless=b"1\r\n \r\n", endless_interval=0.2), "auth_err",
     "timed out after 3 s waiting for Authelia (state first_factor)"),
    (dict(drip=b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}",
          drip_interval=1.0), "auth_err",
     "timed out after 3 s waiting for Authelia (state first_factor)"),
    (dict(raw=b"HTTP/1.1 200 OK\r\n", endless=b"X-Padding: " + b"a" * 1000 + b"\r\n"),
     "auth_err", "request failed: "),
], ids=["reset-mid-headers", "reset-mid-body", "body-shorter-than-content-length",
        "chunked-body-never-ends", "headers-dripped-one-byte-a-second", "endless-headers"])
def test_broken_answers(run, sshd, syslog, authelia, injection, result, line):
    authelia.add_user("john", "pw-john")
    authelia.inject("/api/firstfactor", **injection)
    ok, seconds = run("auth-level=1FA timeout=3")
    assert not ok
    assert seconds < 3 + 2.5  # the whole-exchange timeout ends the login on time
    refused(sshd, syslog, run, result, line)


# --- answers Authelia would never give, on each endpoint ------------------------------
# Each endpoint with the flow that reaches it; the device flow approves at once.

ENDPOINTS = {
    "/api/firstfactor": ("auth-level=1FA", 'first factor for user "john"'),
    "/api/state": ("auth-level=1FA", "session state"),
    "/api/user/info": ("auth-level=1FA+2FA", "user info"),
    "/api/secondfactor/totp": ("method-priority=totp", "TOTP"),
    "/api/secondfactor/duo": ("method-priority=mobile_push", "duo push"),
    "/api/oidc/device-authorization": (DEVICE, "device authorization"),
    "/.well-known/openid-configuration": (DEVICE, "OIDC discovery"),
    "/jwks.json": (DEVICE, "JWKS"),
    "/api/oidc/token": (DEVICE, "token"),
    "/api/oidc/userinfo": (DEVICE, "userinfo"),
}


def endpoint_login(run, authelia, path, extra=""):
    authelia.add_user("john", "pw-john", totp=True, duo_device=True)
    authelia.oidc.interval = 1
    args, _ = ENDPOINTS[path]
    return run(f"{args} timeout=20 {extra}",
               answers(totp=lambda: authelia.totp("john")))


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_5xx_on_each_endpoint(run, sshd, syslog, authelia, path, status):
    authelia.inject(path, status=status, body=b"upstream trouble", content_type="text/plain")
    ok, _ = endpoint_login(run, authelia, path)
    assert not ok
    # a Duo push that went out may have reached the user's phone: whatever
    # ends it is Authelia's no, not "Authelia is down" (README "PAM codes")
    result = "auth_err" if path == "/api/secondfactor/duo" else "authinfo_unavail"
    refused(sshd, syslog, run, result, f"status={status}")


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_invalid_json_on_each_endpoint(run, sshd, syslog, authelia, path):
    authelia.inject(path, status=200, body=b'{"status":"OK","data":{"username":"john",}')
    ok, _ = endpoint_login(run, authelia, path)
    assert not ok
    refused(sshd, syslog, run, "auth_err", ENDPOINTS[path][1])


MISSING_FIELDS = {
    "/api/state": b'{"status":"OK"}',
    "/api/user/info": b'{"status":"OK","data":{"method":"totp"}}',
    "/api/secondfactor/totp": b'{"status":"OK"}',  # and no new session cookie
    "/api/secondfactor/duo": b'{"status":"OK","data":{}}',
    "/api/oidc/device-authorization": b'{"device_code":"x","expires_in":300}',
    "/.well-known/openid-configuration": b'{"issuer":"https://localhost"}',
    "/jwks.json": b"{}",
    "/api/oidc/token": b'{"token_type":"Bearer"}',
    "/api/oidc/userinfo": b"{}",
}


@pytest.mark.parametrize("path", list(MISSING_FIELDS))
def test_ok_body_missing_its_fields(run, sshd, syslog, authelia, path):
    authelia.inject(path, status=200, body=MISSING_FIELDS[path])
    ok, _ = endpoint_login(run, authelia, path)
    assert not ok
    refused(sshd, syslog, run, "auth_err")


# --- a local root at each state: the channel closed, the helper killed -----------------

_libc = ctypes.CDLL(None, use_errno=True)
SYS_PIDFD_GETFD = 438


def close_channel(pid):
    """Shuts the helper's channel down both ways (the socketpair end on its fd
    0, taken with pidfd_getfd): the module and the helper both see it closed."""
    pidfd = os.pidfd_open(pid)
    try:
        fd = _libc.syscall(SYS_PIDFD_GETFD, pidfd, 0, 0)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
    finally:
        os.close(pidfd)
    s = socket.socket(fileno=fd)
    s.shutdown(socket.SHUT_RDWR)
    s.close()


# state -> (module arguments, the prompt ending it waits at, or the path whose
# answer the double holds back while the fault strikes)
STATES = {
    "password_prompt": ("auth-level=1FA+2FA", "Password: ", None),
    "first_factor": ("auth-level=1FA+2FA", None, "/api/firstfactor"),
    "user_info": ("auth-level=1FA+2FA", None, "/api/user/info"),
    "totp_prompt": ("method-priority=totp", "TOTP Code: ", None),
    "totp_verify": ("method-priority=totp", None, "/api/secondfactor/totp"),
    "duo_push": ("method-priority=mobile_push", DUO, None),
    "device_authorization": (DEVICE, None, "/api/oidc/device-authorization"),
    "device_poll": (DEVICE, APPROVE, None),
    "identity_binding": (DEVICE, None, "/api/oidc/userinfo"),
}


def fault_at(run, authelia, state, fault):
    """Logs in, and in `state` applies fault(helper pid); returns accepted."""
    args, prompt, path = STATES[state]
    authelia.add_user("john", "pw-john", totp=True, duo_device=True, duo_delay=30)
    authelia.oidc.interval = 1
    authelia.oidc.device_script = {"action": "never" if state == "device_poll" else "approve",
                                   "user": "john", "after": 0.0}
    done = []

    def strike():
        if not done:
            done.append(True)
            fault(wait_for_helper(HELPER))
            time.sleep(0.2)  # the fault lands before the module reads again

    def on_prompt(p):
        if prompt is not None and p.endswith(prompt):
            strike()
    if path is not None:
        authelia.inject(path, delay=3)

        def watch():
            wait_request(authelia, path)
            strike()
        t = threading.Thread(target=watch, daemon=True)
        t.start()
    ok, _ = run(f"{args} timeout=20", answers(totp=lambda: authelia.totp("john"),
                                              on_prompt=on_prompt))
    assert done, "the fault never struck"
    return ok


@pytest.mark.parametrize("state", list(STATES))
def test_channel_closed_at_each_state(run, sshd, syslog, authelia, state):
    ok = fault_at(run, authelia, state, close_channel)
    assert not ok
    refused(sshd, syslog, run, helper_line=f"channel closed in state {state}; login abandoned",
            shim_line=f"helper {HELPER} exited with status 1")


@pytest.mark.parametrize("state", list(STATES))
def test_helper_killed_at_each_state(run, sshd, syslog, authelia, state):
    ok = fault_at(run, authelia, state, lambda pid: os.kill(pid, signal.SIGKILL))
    assert not ok
    refused(sshd, syslog, run, shim_line=f"helper {HELPER} killed by signal 9")


@pytest.mark.parametrize("state", ["password_prompt", "first_factor", "duo_push"])
def test_helper_terminated_at_a_state(run, sshd, syslog, authelia, state):
    ok = fault_at(run, authelia, state, lambda pid: os.kill(pid, signal.SIGTERM))
    assert not ok
    refused(sshd, syslog, run, "abort", f"stopped by signal Terminated in state {state}")
