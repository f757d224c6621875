"""End to end through the real OpenSSH server: each example configuration of
the guide, what a person sees in the ssh client (UTF-8 and C locale),
disconnects at every waiting point, timeouts, LoginGraceTime, and 20
concurrent logins.  sshd, its PAM stack and its users are private to the test
run (sshd_harness.py)."""
import os
import re
import signal
import subprocess
import threading
import time

import pexpect
import pytest

from conftest import GONE_AT_ONCE, HELPER, SHIM, wait_gone
from test_audit import assert_no_secret, audits, expect, one_audit
from test_device import _qr_to_pgm
from sshd_harness import PASSWORD, Sshd, helper_pids, login, wait_for_helper

DUO = "Duo Push sent, approve on your device, then press Enter: "
APPROVE = "Approve on your device, then press Enter."


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    d = tmp_path_factory.mktemp("sshd")
    d.chmod(0o755)
    server = Sshd(d)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _sshd_log_mark(request):
    if "sshd" in request.fixturenames:
        request.getfixturevalue("sshd").mark()


def stack(authelia, certs, args, unix_first=False):
    line = (f"auth required {SHIM} binary={HELPER} url={authelia.url} "
            f"ca-cert={certs / 'ca.pem'} debug {args}\n")
    return ("auth required pam_unix.so\n" if unix_first else "") + line


def answers(password=None, totp=None, extra=""):
    def answer(prompt):
        if prompt.endswith("Password: "):
            return password
        if prompt.endswith("TOTP Code: "):
            return totp() if callable(totp) else totp
        return extra
    return answer


def accepted(sshd, user):
    return f"Accepted keyboard-interactive/pam for {user} " in sshd.log_text()


# --- the guide's example configurations --------------------------------------

def test_1fa(sshd, authelia, certs):
    authelia.add_user("john", "pw-john")
    sshd.configure(stack(authelia, certs, "auth-level=1FA"))
    ok, out, seen = login(sshd.port, "john", answers("pw-john"))
    assert ok and out == "LOGIN-OK user=john"
    assert seen[0][1] == ["Password: "]
    assert accepted(sshd, "john")


def test_1fa_wrong_password_is_not_accepted(sshd, authelia, certs):
    authelia.add_user("jane", "pw-jane")
    sshd.configure(stack(authelia, certs, "auth-level=1FA"))
    ok, _, _ = login(sshd.port, "jane", answers("wrong"))
    assert not ok
    assert not accepted(sshd, "jane")
    deadline = time.monotonic() + 3  # sshd may log it just after the client hears
    while "Failed keyboard-interactive/pam for jane" not in sshd.log_text():
        assert time.monotonic() < deadline, sshd.log_text()
        time.sleep(0.05)


def test_1fa_2fa_totp(sshd, authelia, certs):
    authelia.add_user("john", "pw-john", totp=True)
    sshd.configure(stack(authelia, certs, "auth-level=1FA+2FA"))
    ok, out, seen = login(sshd.port, "john", answers("pw-john", lambda: authelia.totp("john")))
    assert ok and out == "LOGIN-OK user=john"
    assert [p for _, ps in seen for p in ps][:2] == ["Password: ", "TOTP Code: "]


def test_1fa_2fa_wrong_totp(sshd, authelia, certs):
    authelia.add_user("jane", "pw-jane", totp=True)
    sshd.configure(stack(authelia, certs, "auth-level=1FA+2FA"))
    ok, _, _ = login(sshd.port, "jane", answers("pw-jane", "000000"))
    assert not ok and not accepted(sshd, "jane")


def test_2fa_after_pam_unix(sshd, authelia, certs):
    """The guide's 2FA stack: pam_unix asks for the password, we only for TOTP."""
    authelia.add_user("john", PASSWORD, totp=True)
    sshd.configure(stack(authelia, certs, "auth-level=2FA", unix_first=True))
    ok, out, seen = login(sshd.port, "john", answers(PASSWORD, lambda: authelia.totp("john")))
    assert ok and out == "LOGIN-OK user=john"
    prompts = [p for _, ps in seen for p in ps]
    assert prompts.count("Password: ") == 1 and "TOTP Code: " in prompts


def test_duo(sshd, authelia, certs):
    authelia.add_user("john", "pw-john", duo_device=True, method="mobile_push", duo_delay=1.0)
    sshd.configure(stack(authelia, certs, "auth-level=1FA+2FA"))
    shown = []

    def answer(prompt):
        if prompt.endswith("Password: "):
            return "pw-john"
        shown.append((prompt, time.monotonic()))
        return ""
    t0 = time.monotonic()
    ok, out, _ = login(sshd.port, "john", answer)
    assert ok and out == "LOGIN-OK user=john"
    duo_request = next(r for r in authelia.requests if r["path"] == "/api/secondfactor/duo")
    assert shown[0][0].endswith(DUO)
    assert shown[0][1] < duo_request["time"] + 1.0  # seen before the push completed


def test_device_flow_with_binding(sshd, authelia, certs):
    authelia.oidc.interval = 1
    sshd.configure(stack(authelia, certs, "method-priority=device_authorization,user "
                                          "oauth2-client-id=pam-authelia "
                                          "oauth2-client-secret=s3cret-client timeout=30"))
    ok, out, seen = login(sshd.port, "john", answers())
    assert ok and out == "LOGIN-OK user=john"
    assert seen[0][1][0].endswith(APPROVE)


def test_device_flow_approved_by_someone_else(sshd, authelia, certs, syslog):
    authelia.oidc.device_script = {"action": "approve", "user": "jane", "after": 0.0}
    sshd.configure(stack(authelia, certs, "method-priority=device_authorization "
                                          "oauth2-client-id=pam-authelia "
                                          "oauth2-client-secret=s3cret-client"))
    ok, _, _ = login(sshd.port, "john", answers())
    assert not ok and not accepted(sshd, "john")
    assert 'authelia identity "jane" does not match pam username "john"' in syslog.texts()


def test_custom_ca_is_required(sshd, authelia, certs, syslog):
    """Without ca-cert the system store does not trust the test CA."""
    authelia.add_user("john", "pw-john")
    sshd.configure(f"auth required {SHIM} binary={HELPER} url={authelia.url} auth-level=1FA\n")
    ok, _, _ = login(sshd.port, "john", answers("pw-john"))
    assert not ok
    assert any("not trusted" in t for t in syslog.texts())


def test_client_socket_is_watched_under_sshd(sshd, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    sshd.configure(stack(authelia, certs, "auth-level=1FA"))
    login(sshd.port, "john", answers("pw-john"))
    assert any("rhost=127.0.0.1" in t and "client-watch=on" in t for t in syslog.texts())


# --- the audit line ---------------------------------------------------------------

def test_audit_lines_through_sshd(sshd, authelia, certs, syslog):
    """One line per login, the helper's, naming sshd and the client's address;
    and when the helper cannot write it, the module's, which pam_syslog
    prefixes inside sshd's own ident."""
    authelia.add_user("john", "pw-john", totp=True)
    sshd.configure(stack(authelia, certs, "auth-level=1FA+2FA").replace(" debug ", " "))
    codes = []

    def totp():
        codes.append(authelia.totp("john"))
        return codes[-1]
    ok, _, _ = login(sshd.port, "john", answers("pw-john", totp))
    assert ok
    expect(one_audit(syslog), user="john", service="sshd", rhost="127.0.0.1",
           factors="password,totp", result="success", pam="PAM_SUCCESS")
    assert_no_secret(syslog, authelia, "pw-john", *codes)

    syslog.clear()
    ok, _, _ = login(sshd.port, "john", answers("wrong-pw-4711"))
    assert not ok
    expect(one_audit(syslog), user="john", service="sshd", rhost="127.0.0.1",
           factors="none", result="auth_err", pam="PAM_AUTH_ERR", state="first_factor")
    assert_no_secret(syslog, authelia, "wrong-pw-4711")

    syslog.clear()
    sshd.configure(f"auth required {SHIM} binary=/nonexistent/pam_authelia url={authelia.url}\n")
    ok, _, _ = login(sshd.port, "john", answers("pw-john"))
    assert not ok
    expect(one_audit(syslog, "module"), user="john", service="sshd", rhost="127.0.0.1",
           factors="none", result="service_err", pam="PAM_SERVICE_ERR",
           reason="helper binary /nonexistent/pam_authelia: No such file or directory")
    with syslog.lock:
        line = next(l for l in syslog.lines if "audit: " in l["text"])
    assert line["ident"] == "sshd"
    assert line["text"].startswith("pam_authelia(sshd:auth): audit: user=john service=sshd ")


# --- what a person sees --------------------------------------------------------

def _ssh(port, user, locale):
    env = dict(os.environ, LC_ALL=locale, LANG=locale, PYTHONCOERCECLOCALE="0")
    return pexpect.spawn("ssh", ["-p", str(port), "-o", "PreferredAuthentications=keyboard-interactive",
                                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                                 "-o", "LogLevel=ERROR", f"{user}@127.0.0.1"],
                         env=env, timeout=20, maxread=200000)


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_device_prompt_in_the_ssh_client(sshd, authelia, certs, locale, tmp_path):
    authelia.oidc.interval = 1
    authelia.oidc.device_script = {"action": "never"}
    sshd.configure(stack(authelia, certs, "method-priority=device_authorization "
                                          "oauth2-client-id=pam-authelia "
                                          "oauth2-client-secret=s3cret-client"))
    c = _ssh(sshd.port, "john", locale)
    c.expect_exact(APPROVE)
    seen = c.before.decode("utf-8", errors="replace")
    url = re.search(r"https://localhost:\d+/consent/openid/device-authorization\?user_code=([A-Z]{8})", seen)
    assert url, seen  # the URL and the user code stay readable in any locale
    assert f"Code: {url.group(1)}" in seen
    # the reference module's sentences, in the order that serves the user: what to open and
    # the code first (readable in any locale), then the QR code, then what to do
    scan = seen.index("Scan the QR code below or visit the URL to approve.")
    assert scan < url.start() < seen.index(f"Code: {url.group(1)}")
    if locale == "C.UTF-8":
        assert "\u2588" in seen and "\u2580" in seen  # the QR code arrives intact
        # ... and what the terminal shows still decodes to the URL
        qr = [l for l in seen.replace("\r", "").split("\n")
              if len(l) > 20 and set(l) <= set(" \u2580\u2584\u2588")]
        assert qr and len({len(l) for l in qr}) == 1, seen
        assert seen.index(qr[0]) > seen.index(f"Code: {url.group(1)}")
        _qr_to_pgm(qr, tmp_path / "qr.pgm")
        out = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "qr.pgm")],
                             capture_output=True, text=True)
        assert out.stdout.strip() == url.group(0)
    else:
        assert "\\342\\226" in seen  # OpenSSH escapes what the locale cannot show
    c.close(force=True)


def test_totp_prompt_in_the_ssh_client(sshd, authelia, certs):
    authelia.add_user("john", "pw-john", totp=True)
    sshd.configure(stack(authelia, certs, ""))
    c = _ssh(sshd.port, "john", "C.UTF-8")
    c.expect_exact("Password: ")
    c.sendline("pw-john")
    c.expect_exact("TOTP Code: ")
    c.sendline(authelia.totp("john"))
    c.expect_exact("LOGIN-OK user=john")
    c.close(force=True)


# --- disconnects ------------------------------------------------------------------

@pytest.mark.parametrize("where", ["password", "totp", "duo", "device"])
def test_disconnect_ends_the_helper_at_once(sshd, authelia, certs, syslog, where):
    authelia.add_user("john", "pw-john", totp=True, duo_device=True, duo_delay=60)
    authelia.oidc.interval = 1
    authelia.oidc.device_script = {"action": "never"}
    args = {"password": "", "totp": "method-priority=totp", "duo": "method-priority=mobile_push",
            "device": "method-priority=device_authorization oauth2-client-id=pam-authelia "
                      "oauth2-client-secret=s3cret-client"}[where]
    sshd.configure(stack(authelia, certs, args))
    c = _ssh(sshd.port, "john", "C.UTF-8")
    if where != "device":
        c.expect_exact("Password: ")
    if where in ("totp", "duo"):
        c.sendline("pw-john")
        c.expect_exact("TOTP Code: " if where == "totp" else DUO)
    if where == "duo":
        c.sendline("")  # Enter: the shim waits on the helper, not in pam_conv
        time.sleep(0.5)
    if where == "device":
        c.expect_exact(APPROVE)
        time.sleep(1.5)  # a poll or two
    helper = wait_for_helper(HELPER)
    os.kill(c.pid, signal.SIGKILL)
    gone = wait_gone(helper, 2.0)
    assert gone is not None and gone < GONE_AT_ONCE, gone
    n = len(authelia.requests)
    time.sleep(1.5)
    assert len(authelia.requests) == n  # nothing reached Authelia afterwards
    assert helper_pids(HELPER) == []
    c.close(force=True)
    expect(one_audit(syslog), user="john", service="sshd", result="abort", pam="PAM_ABORT")


# --- timeouts -----------------------------------------------------------------------

@pytest.mark.parametrize("flow", ["duo", "device"])
def test_timeout_5_ends_a_login_nobody_approves(sshd, authelia, certs, syslog, flow):
    authelia.add_user("john", "pw-john", duo_device=True, duo_delay=60)
    authelia.oidc.interval = 1
    authelia.oidc.device_script = {"action": "never"}
    args = ("method-priority=mobile_push" if flow == "duo" else
            "method-priority=device_authorization oauth2-client-id=pam-authelia "
            "oauth2-client-secret=s3cret-client") + " timeout=5"
    sshd.configure(stack(authelia, certs, args))
    t0 = time.monotonic()
    ok, _, _ = login(sshd.port, "john", answers("pw-john"))
    elapsed = time.monotonic() - t0
    assert not ok and elapsed < 6.5, elapsed
    state = "duo_push" if flow == "duo" else "device_poll"
    assert f"timed out after 5 s waiting for the user (state {state})" in syslog.texts()
    assert helper_pids(HELPER) == []


def test_login_grace_time_shorter_than_timeout(tmp_path_factory, authelia, certs):
    d = tmp_path_factory.mktemp("sshd-grace")
    d.chmod(0o755)
    server = Sshd(d)
    server.start(login_grace=3)
    try:
        authelia.add_user("john", "pw-john", duo_device=True, duo_delay=60)
        server.configure(stack(authelia, certs, "method-priority=mobile_push timeout=30"))
        t0 = time.monotonic()
        ok, _, _ = login(server.port, "john", answers("pw-john"))
        assert not ok and time.monotonic() - t0 < 5
        time.sleep(0.5)
        assert helper_pids(HELPER) == []
    finally:
        server.stop()


# --- many at once ---------------------------------------------------------------------

def test_twenty_concurrent_logins_without_cross_talk(sshd, authelia, certs, syslog):
    users = [f"user{i:02d}" for i in range(20)]
    for u in users:
        authelia.add_user(u, f"pw-{u}", totp=True)
    sshd.configure(stack(authelia, certs, "auth-level=1FA+2FA timeout=60"))
    results = {}

    def one(u, i):
        good = i % 2 == 0  # odd users type a wrong code
        code = (lambda: authelia.totp(u)) if good else "000000"
        results[u] = login(sshd.port, u, answers(f"pw-{u}", code), timeout=60)

    threads = [threading.Thread(target=one, args=(u, i)) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    for i, u in enumerate(users):
        ok, out, _ = results[u]
        assert ok == (i % 2 == 0), u
        if ok:
            assert out == f"LOGIN-OK user={u}"
    assert helper_pids(HELPER) == []
    # One audit line each, with that user's own outcome.
    lines = {f["user"]: f for who, f, _, _ in audits(syslog) if who == "helper"}
    assert len(audits(syslog)) == len(users) == len(lines)
    for i, u in enumerate(users):
        expect(lines[u], result="success" if i % 2 == 0 else "auth_err",
               factors="password,totp" if i % 2 == 0 else "password")


# --- [authinfo_unavail=ignore] stacks: nobody but Authelia picks the fallback ------------

FALLBACK = "auth [success=done authinfo_unavail=ignore default=die]"


def fallback_stack(authelia, certs, args, unix="after"):
    """The README's fallback stack: pam_authelia, and when Authelia is
    unavailable, pam_unix (after it for 1FA+2FA; before it, requisite, for 2FA,
    where PAM_AUTHTOK comes from pam_unix and the stack's result is then its)."""
    line = (f"{FALLBACK} {SHIM} binary={HELPER} url={authelia.url} "
            f"ca-cert={certs / 'ca.pem'} debug {args}\n")
    if unix == "before":
        return "auth requisite pam_unix.so\n" + line
    return line + "auth required pam_unix.so\n"


def answer_late(timeout, margin, answers_by_prompt):
    """A client that answers each prompt margin seconds before the module's
    timeout (counted from the first prompt, which comes right after the
    helper starts)."""
    first = []

    def answer(prompt):
        now = time.monotonic()
        if not first:
            first.append(now)
        for ending, (reply, late) in answers_by_prompt.items():
            if prompt.endswith(ending):
                if late:
                    time.sleep(max(0.0, first[0] + timeout - margin - now))
                return reply
        return ""
    return answer


def test_answering_the_password_just_before_timeout_is_no_bypass(sshd, authelia, certs, syslog):
    """Issue 8, defect 1: the client answers the password prompt just before
    `timeout`, so that it fires while /api/firstfactor (Authelia pads it to
    250 ms or more) is in flight.  That used to be PAM_AUTHINFO_UNAVAIL: the
    stack fell through to pam_unix and the Unix password alone logged in,
    no TOTP ever asked."""
    authelia.add_user("john", "authelia-pw", totp=True)
    authelia.pad_first_factor = 1.5
    sshd.configure(fallback_stack(authelia, certs, "auth-level=1FA+2FA timeout=3"))
    ok, _, seen = login(sshd.port, "john",
                        answer_late(3, 0.4, {"Password: ": (PASSWORD, True)}))
    assert not ok and not accepted(sshd, "john")
    assert "timed out after 3 s waiting for Authelia (state first_factor)" in syslog.texts()
    assert [p for _, ps in seen for p in ps].count("Password: ") == 1  # pam_unix never asked


def test_answering_the_totp_just_before_timeout_is_no_bypass(sshd, authelia, certs, syslog):
    """The same at the TOTP prompt of the 2FA stack (pam_unix first): the
    attacker knows the Unix password, not the TOTP code, and answers a guess
    just before `timeout`, while the TOTP check is in flight."""
    authelia.add_user("john", PASSWORD, totp=True)
    authelia.inject("/api/secondfactor/totp", delay=1.5)
    sshd.configure(fallback_stack(authelia, certs, "auth-level=2FA timeout=3", unix="before"))
    ok, _, _ = login(sshd.port, "john",
                     answer_late(3, 0.4, {"Password: ": (PASSWORD, False),
                                          "TOTP Code: ": ("000000", True)}))
    assert not ok and not accepted(sshd, "john")
    assert "timed out after 3 s waiting for Authelia (state totp_verify)" in syslog.texts()


@pytest.mark.parametrize("where", ["password", "totp"])
def test_waiting_out_the_timeout_at_a_prompt_is_no_bypass(sshd, authelia, certs, syslog, where):
    authelia.add_user("john", PASSWORD, totp=True)
    stack_args, unix = (("auth-level=1FA+2FA timeout=2", "after") if where == "password"
                        else ("auth-level=2FA timeout=2", "before"))
    sshd.configure(fallback_stack(authelia, certs, stack_args, unix=unix))
    late = ({"Password: ": (PASSWORD, True)} if where == "password" else
            {"Password: ": (PASSWORD, False), "TOTP Code: ": ("000000", True)})
    ok, _, _ = login(sshd.port, "john", answer_late(2, -0.5, late))
    assert not ok and not accepted(sshd, "john")
    state = "password_prompt" if where == "password" else "totp_prompt"
    assert f"timed out after 2 s waiting for the user (state {state})" in syslog.texts()


@pytest.mark.parametrize("down", ["503", "nothing listening"])
def test_the_fallback_still_works_when_authelia_is_down(sshd, authelia, certs, syslog, down):
    """What the fallback is for: Authelia answering 503 or not listening is an
    observed failure to reach it, PAM_AUTHINFO_UNAVAIL, and the stack falls
    through to pam_unix."""
    if down == "503":
        authelia.inject("/api/firstfactor", status=503, body=b"Service Unavailable",
                        content_type="text/plain")
        sshd.configure(fallback_stack(authelia, certs, "auth-level=1FA+2FA"))
    else:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        sshd.configure(f"{FALLBACK} {SHIM} binary={HELPER} url=https://localhost:{port} "
                       f"ca-cert={certs / 'ca.pem'} auth-level=1FA+2FA\n"
                       "auth required pam_unix.so\n")
    ok, out, seen = login(sshd.port, "john", answers(PASSWORD))
    assert ok and out == "LOGIN-OK user=john"
    assert [p for _, ps in seen for p in ps].count("Password: ") == 2  # ours, then pam_unix's


@pytest.mark.parametrize("proxy", ["504", "drop"])
def test_ignoring_the_duo_push_behind_a_proxy_is_no_bypass(sshd, authelia, certs, syslog, proxy):
    """The Duo push has no deadline of its own: it lasts until the user answers
    it.  A user who ignores it lets a reverse proxy in front of Authelia (with a
    shorter timeout than Duo's minute) answer 504 or drop the connection: that
    used to be PAM_AUTHINFO_UNAVAIL, and the fallback stack logged in with the
    Unix password alone.  The push is never sent a second time either (the
    retry on a dropped kept connection is not for it)."""
    authelia.add_user("john", PASSWORD, duo_device=True, method="mobile_push")
    if proxy == "504":
        authelia.inject("/api/secondfactor/duo", delay=1.5, status=504,
                        body=b"<html>504 Gateway Time-out</html>", content_type="text/html")
    else:
        authelia.inject("/api/secondfactor/duo", delay=1.5, drop=True)
    sshd.configure(fallback_stack(authelia, certs, "auth-level=1FA+2FA timeout=20"))
    ok, _, seen = login(sshd.port, "john", answers(PASSWORD, extra=""), timeout=30)
    prompts = [p for _, ps in seen for p in ps]
    assert not ok and not accepted(sshd, "john"), syslog.texts()
    assert prompts.count("Password: ") == 1  # pam_unix never asked
    assert any(p.endswith(DUO) for p in prompts)
    assert authelia.paths().count("/api/secondfactor/duo") == 1
    why = ("response status=504" if proxy == "504"
           else "closed before a response")
    assert any(t.startswith("duo push authentication failed: no answer while the user was "
                            "approving (") and why in t for t in syslog.texts()), syslog.texts()
