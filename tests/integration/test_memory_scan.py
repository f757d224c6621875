"""Secrets leave no trace: the real helper, stopped by ptrace at its exit (the
PTRACE_EVENT_EXIT stop comes after exit_group() and before the kernel frees
its memory), has its every readable mapping read through /proc/<pid>/mem
(heap, stack, anonymous maps, .data/.bss, writable pages of libraries) and
searched for each secret of the login: the password, the TOTP code, the
OAuth2 client secret (inline and from oauth2-client-secret-file; raw,
form-encoded and inside the Basic header), the device code, the access and
ID tokens (and their Bearer header), and every session cookie value either
side sent.  A known value that stays in memory (the rhost) must be found: the
scan sees the heap.  The helper runs sandboxed, non-dumpable and as its own
user; root's CAP_SYS_PTRACE still attaches (PTRACE_SEIZE).  While the helper
is stopped, pam_test_app is stopped too (SIGSTOP), so the shim's 500 ms
between a result and the helper's exit cannot run out during the scan.

One earlier point is scanned as a report only (printed, never asserted):
buffers hold the secrets then by design.
"""
import base64
import ctypes
import os
import signal
import time
import urllib.parse

import pytest

from conftest import BUILD, HELPER, wait_gone

PASSWORD = "pw-Memscan-4b7e19c2-zq/password-of-john"
# Characters a form body must encode: the secret's form-encoded copy differs.
CLIENT_SECRET = "s3cret/Memscan+7d21f0=x/client-secret"
CLIENT_ID = "pam-authelia"
RHOST = "198.51.100.77"  # a value the helper keeps (the positive control)

PTRACE_CONT, PTRACE_DETACH = 7, 17
PTRACE_SEIZE = 0x4206
PTRACE_O_TRACEEXIT, PTRACE_EVENT_EXIT = 0x40, 6
WALL = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long


def ptrace(request, pid, addr=0, data=0):
    if _libc.ptrace(request, pid, addr, data) == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"ptrace({request:#x}, {pid}): {os.strerror(err)}")


class ExitTrap:
    """PTRACE_SEIZE with PTRACE_O_TRACEEXIT: the helper runs on untouched until
    it calls exit_group(), then stops with all its memory still mapped."""

    def __init__(self, pid):
        self.pid = pid
        ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXIT)
        self.attached = True

    def wait_exit(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG | WALL)
            if pid == 0:
                time.sleep(0.001)
                continue
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self.attached = False
                raise AssertionError(f"helper ended without an exit stop: {status:#x}")
            assert os.WIFSTOPPED(status), status
            if status >> 8 == (signal.SIGTRAP | PTRACE_EVENT_EXIT << 8):
                return
            # A signal-delivery stop: let the signal through, as without us.
            sig = os.WSTOPSIG(status)
            ptrace(PTRACE_CONT, self.pid, 0, 0 if sig == signal.SIGTRAP else sig)
        raise TimeoutError("the helper did not exit")

    def detach(self):
        if self.attached:
            self.attached = False
            try:
                ptrace(PTRACE_DETACH, self.pid, 0, 0)
            except OSError:
                pass


def snapshot(pid):
    """Every readable mapping of pid as [(description, start, bytes)]."""
    regions = []
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read().splitlines()
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    try:
        for line in maps:
            fields = line.split(None, 5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            perms, name = fields[1], fields[5] if len(fields) > 5 else "[anon]"
            if "r" not in perms or name in ("[vvar]", "[vvar_vclock]", "[vsyscall]"):
                continue
            chunks, addr = [], start
            while addr < end:
                n = min(end - addr, 1 << 20)
                try:
                    chunks.append(os.pread(fd, n, addr))
                except OSError:
                    chunks.append(b"\0" * n)
                addr += n
            regions.append((f"{perms} {name}", start, b"".join(chunks)))
    finally:
        os.close(fd)
    return regions


def find(regions, needle):
    """Where needle occurs, as [(address, readable line)] (a digit string
    counts only with no digit either side: a TOTP code inside a longer
    number is not it)."""
    hits = []
    for desc, start, data in regions:
        i = data.find(needle)
        while i >= 0:
            before, after = data[i - 1:i], data[i + len(needle):i + len(needle) + 1]
            if not (needle.isdigit() and (before.isdigit() or after.isdigit())):
                ctx = data[max(0, i - 24):i + len(needle) + 24]
                hits.append((start + i, f"{desc} at {start + i:#x}: {ctx!r}"))
            i = data.find(needle, i + 1)
    return hits


def found_in(regions, needle, where):
    return any(where in line for _, line in find(regions, needle))


def encodings(value):
    """The forms in which the helper could hold value: raw and form-encoded,
    and what survives of each in a block freed unwiped: malloc writes its
    free-list pointers over a free block's first 16 bytes, so the rest of a
    long secret is what to look for."""
    forms = {value.encode(), urllib.parse.quote(value, safe="").encode(),
             urllib.parse.quote_plus(value, safe="").encode()}
    return forms | {f[16:] for f in forms if len(f) >= 16 + 12}


def leaks(regions, secrets):
    """One line per copy of a secret found (a copy seen in two forms, once).
    A value of bytes is searched as it is."""
    out = []
    for label, value in secrets.items():
        seen = []
        forms = {value} if isinstance(value, bytes) else encodings(value)
        for form in sorted(forms, key=len, reverse=True):
            for addr, line in find(regions, form):
                if not any(a <= addr < a + n for a, n in seen):
                    seen.append((addr - 16, len(form) + 16))
                    out.append(f"{label} ({form[:40]!r}): {line}")
    return out


class Recorder:
    """What the double handed out that the helper must forget: session
    cookies, device codes, access and ID tokens."""

    def __init__(self, authelia, monkeypatch):
        self.authelia, self.issued = authelia, {}
        set_cookie, id_token = authelia._set_cookie, authelia.oidc.id_token

        def record_cookie(value, entry=None):
            self.issued[f"Set-Cookie value {len(self.issued)}"] = value
            return set_cookie(value, entry)

        def record_id_token(dev, access_token):
            token = id_token(dev, access_token)
            self.issued["ID token"] = token
            # libjwt splits its copy at the dots and decodes each part.
            _, payload, signature = token.split(".")
            self.issued["ID token payload"] = payload
            self.issued["ID token signature"] = signature
            self.issued["ID token signature, decoded"] = base64.urlsafe_b64decode(
                signature + "=" * (-len(signature) % 4))
            return token
        monkeypatch.setattr(authelia, "_set_cookie", record_cookie)
        monkeypatch.setattr(authelia.oidc, "id_token", record_id_token)

    def secrets(self):
        found = dict(self.issued)
        for i, token in enumerate(self.authelia.oidc.access_tokens):
            found[f"access token {i}"] = token
        for i, code in enumerate(self.authelia.oidc.devices):
            found[f"device code {i}"] = code
        for r in self.authelia.requests:
            h = r["headers"]
            for c in h.get("cookie", "").split("; "):
                if "=" in c:
                    found[f"Cookie sent to {r['path']}"] = c.split("=", 1)[1]
            if "authorization" in h:
                found[f"Authorization header to {r['path']}"] = h["authorization"]
                found[f"Authorization credentials to {r['path']}"] = \
                    h["authorization"].split(" ", 1)[-1]
        unique = {}
        for k, v in found.items():
            if len(v) >= 8 and v not in unique.values():
                unique[k] = v
        return unique


def trace_to_exit(l, first_answer, then):
    """Attaches to the helper of login l (at its first prompt), answers
    first_answer, runs then(scan) (which may scan and answer the next prompt)
    and returns the helper's memory at its exit stop with the seconds the
    snapshot took."""
    pid = l.wait_helper()
    trap = ExitTrap(pid)
    try:
        l.answer(first_answer)
        then(lambda: snapshot(pid))
        trap.wait_exit()
        # The shim gives a helper 500 ms from its result to its exit: not
        # while it is stopped here.
        os.kill(l.pid, signal.SIGSTOP)
        try:
            began = time.monotonic()
            regions = snapshot(pid)
            took = time.monotonic() - began
        finally:
            trap.detach()
            assert wait_gone(pid, 10) is not None
            os.kill(l.pid, signal.SIGCONT)
    finally:
        trap.detach()
    return regions, took


def scan_args(authelia, certs, extra=""):
    return f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} {extra}".strip()


def check(regions, secrets, report, took):
    print(f"\nexit snapshot: {len(regions)} mappings, "
          f"{sum(len(d) for _, _, d in regions) // 1024} KiB in {took * 1000:.0f} ms")
    for line in report:
        print("report only (before the exit):", line)
    # Positive controls.  OpenSSL's name store, copied into the heap when it
    # is set up, lives until the exit; the audit line (with the rhost) was
    # formatted on the stack.
    assert found_in(regions, b"X942KDF-ASN1", "[heap]"), "the scan did not see the heap"
    assert found_in(regions, RHOST.encode(), "[stack]"), "the scan did not see the stack"
    found = leaks(regions, secrets)
    assert not found, "secrets left in the helper's memory at exit:\n" + "\n".join(found)


def test_password_and_totp_leave_no_trace(login, authelia, certs, monkeypatch):
    authelia.add_user("john", PASSWORD, totp=True, method="totp")
    rec = Recorder(authelia, monkeypatch)
    l = login(scan_args(authelia, certs), rhost=RHOST)
    assert l.conv() == ("echo_off", "Password: ")
    code = []

    def secrets_now():
        s = {"password": PASSWORD, **rec.secrets()}
        if code:
            s["TOTP code"] = code[0]
        return s

    report = []

    def at_totp_prompt(scan):
        assert l.conv() == ("echo_on", "TOTP Code: ")
        report.extend(leaks(scan(), secrets_now()))  # a report only
        code.append(authelia.totp("john"))
        l.answer(code[0])
    regions, took = trace_to_exit(l, PASSWORD, at_totp_prompt)
    assert l.result()[0] == "PAM_SUCCESS"
    secrets = secrets_now()
    assert any(k.startswith("Set-Cookie") for k in secrets), secrets  # cookies were handed out
    secrets["TOTP JSON body"] = f'"token":"{code[0]}"'
    check(regions, secrets, [f"at the TOTP prompt: {h}" for h in report], took)


@pytest.mark.parametrize("auth", ["inline-post", "file-basic"])
def test_device_flow_leaves_no_trace(login, authelia, certs, monkeypatch, tmp_path, auth):
    authelia.add_user("john", PASSWORD, totp=True)
    authelia.oidc.interval = 1
    # Approved 2 s after the grant: the scan at the device prompt comes first.
    authelia.oidc.device_script["after"] = 2.0
    client = authelia.oidc.clients[CLIENT_ID]
    client.secret = CLIENT_SECRET
    if auth == "inline-post":
        extra = f"oauth2-client-secret={CLIENT_SECRET}"
    else:
        client.auth_method = "client_secret_basic"
        secret_file = tmp_path / "client-secret"
        secret_file.write_text(CLIENT_SECRET + "\n")
        secret_file.chmod(0o600)
        extra = (f"oauth2-client-secret-file={secret_file} "
                 "oauth2-client-auth-method=client_secret_basic")
    rec = Recorder(authelia, monkeypatch)
    l = login(scan_args(authelia, certs, "method-priority=device_authorization,user "
                        f"oauth2-client-id={CLIENT_ID} device-flow=after-password {extra}"),
              rhost=RHOST)
    assert l.conv() == ("echo_off", "Password: ")

    def secrets_now():
        return {"password": PASSWORD, "client secret": CLIENT_SECRET, **rec.secrets()}

    report = []

    def at_device_prompt(scan):
        style, _ = l.conv()
        assert style == "echo_on"  # the device prompt; approval comes later
        report.extend(leaks(scan(), secrets_now()))  # a report only
        time.sleep(2.5)  # approved (and polled) by now
        l.answer("")
    regions, took = trace_to_exit(l, PASSWORD, at_device_prompt)
    assert l.result()[0] == "PAM_SUCCESS"
    secrets = secrets_now()
    for kind in ("access token", "ID token", "device code", "Authorization header"):
        assert any(k.startswith(kind) for k in secrets), (kind, secrets)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    secrets["client secret, Basic"] = basic
    check(regions, secrets, [f"at the device prompt: {h}" for h in report], took)


DOUBLE_FREE = BUILD / "tests" / "double_free"


@pytest.mark.parametrize("how", ["free", "secure"])
def test_wiping_keeps_glibc_double_free_check(how):
    """Wiping a block that is already free would erase the key glibc's tcache
    keeps in it, and a double free would go unnoticed: the same chunk handed
    out twice.  The helper's free() and secure_free leave such a block alone."""
    import subprocess
    run = subprocess.run([str(DOUBLE_FREE), how], capture_output=True, text=True, timeout=10)
    assert run.returncode == -signal.SIGABRT, (run.returncode, run.stdout, run.stderr)
    assert "double free detected" in run.stderr
