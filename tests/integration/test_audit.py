"""The audit line: exactly one key=value line per pam_authenticate() that
reaches the module, whatever happens, without `debug`.  The helper writes it
with its result (ident pam_authelia); the module writes it, through
pam_syslog, only when the application gets a code no helper result named (no
helper, a crash, the backstop, the sandbox, a protocol violation).  Every test
asserts the keys and values, the priority, that nothing else wrote an audit
line, and that no secret reached any log line."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import APP, HELPER, SHIM, wait_gone

LOG_AUTHPRIV = 10 << 3
LOG_NOTICE, LOG_INFO = 5, 6
KEYS = ["user", "service", "rhost", "factors", "result", "pam", "duration_ms", "helper"]
PAIR = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ "]+)')
MODULE_PREFIX = re.compile(r"^pam_authelia\(([^)]*)\): ")


def parse(text):
    """The fields of one audit line, which must be exactly key=value pairs in
    the documented order: the words unquoted, reason quoted (logfmt)."""
    assert text.startswith("audit: "), text
    body = text[len("audit: "):]
    fields, pos = {}, 0
    for m in PAIR.finditer(body):
        assert m.start() == pos, (text, pos)  # nothing between the pairs
        key, value = m.groups()
        assert key not in fields, text
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        fields[key] = value
        pos = m.end() + 1
    assert pos == len(body) + 1, text
    keys = list(fields)
    rest = keys[len(KEYS):]
    if rest[:1] == ["overrides"]:
        rest = rest[1:]
    assert keys[:len(KEYS)] == KEYS and rest in ([], ["reason"], ["state", "reason"]), text
    assert fields["helper"] == "-" or fields["helper"].isdigit(), text
    return fields


def audits(syslog):
    """Every audit line since the test began, as (who, fields, priority, text):
    who is "helper", or the application's ident for the module's lines."""
    syslog.texts()  # settle
    out = []
    with syslog.lock:
        lines = list(syslog.lines)
    for line in lines:
        text = line["text"]
        if line["ident"] != "pam_authelia":
            m = MODULE_PREFIX.match(text)
            if not m:
                continue
            text = text[m.end():]
        if text.startswith("audit: "):
            who = "helper" if line["ident"] == "pam_authelia" else line["ident"]
            fields = parse(text)
            if who == "helper":  # helper= is the pid that wrote the line
                assert fields["helper"] == line["pid"], (line, fields)
            out.append((who, fields, line["priority"], text))
    return out


def one_audit(syslog, who="helper"):
    """The one audit line of the login (who: "helper" or "module"), checked
    for what every line must have."""
    lines = audits(syslog)
    assert len(lines) == 1, lines
    source, fields, priority, text = lines[0]
    assert (source == "helper") == (who == "helper"), lines
    failed = fields["result"] != "success"
    assert priority == LOG_AUTHPRIV | (LOG_NOTICE if failed else LOG_INFO), lines
    assert fields["duration_ms"].isdigit()
    assert ("reason" in fields) == failed, lines
    assert ("state" in fields) == (failed and who == "helper"), lines
    assert "overrides" not in fields, lines  # one line: nothing to override
    # result and pam name the same code: auth_err is PAM_AUTH_ERR
    assert fields["pam"] == "PAM_" + fields["result"].upper(), lines
    return fields


def expect(fields, **want):
    got = {k: fields.get(k) for k in want}
    assert got == want, fields


def secrets_sent(authelia):
    """What the double received that must never be logged: passwords, TOTP
    codes, session cookies, bearer tokens, device codes, client secrets."""
    found = []
    for r in authelia.requests:
        h = r["headers"]
        if "cookie" in h:
            found += [c.split("=", 1)[1] for c in h["cookie"].split("; ") if "=" in c]
        if "authorization" in h:
            found.append(h["authorization"].split(" ", 1)[-1])
        if isinstance(r.get("json"), dict):
            found += [r["json"][k] for k in ("password", "token") if k in r["json"]]
        if r["body"] and not r.get("json"):
            form = urllib.parse.parse_qsl(r["body"].decode(errors="replace"))
            found += [v for k, v in form if k in ("device_code", "client_secret")]
    return [s for s in found if isinstance(s, str) and len(s) >= 6]


def assert_no_secret(syslog, authelia=None, *more):
    secrets = list(more) + (secrets_sent(authelia) if authelia is not None else [])
    with syslog.lock:
        texts = [l["text"] for l in syslog.lines]
    assert texts
    for s in secrets:
        assert not any(s in t for t in texts), (s, texts)


def args(authelia, certs, extra=""):
    # No debug: the audit line is there without it.
    return f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} {extra}".strip()


def password_login(login, authelia, certs, extra="", password="pw-john", **kw):
    l = login(args(authelia, certs, extra), **kw)
    assert l.conv() == ("echo_off", "Password: ")
    l.answer(password)
    return l


# --- successes ------------------------------------------------------------------

def test_1fa(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    l = password_login(login, authelia, certs, "auth-level=1FA", rhost="192.0.2.7")
    assert l.result()[0] == "PAM_SUCCESS"
    f = one_audit(syslog)
    assert f == {"user": "john", "service": "pamtest", "rhost": "192.0.2.7",
                 "factors": "password", "result": "success", "pam": "PAM_SUCCESS",
                 "duration_ms": f["duration_ms"], "helper": f["helper"]}
    assert_no_secret(syslog, authelia, "pw-john")


def test_totp(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = password_login(login, authelia, certs)
    assert l.conv() == ("echo_on", "TOTP Code: ")
    code = authelia.totp("john")
    l.answer(code)
    assert l.result()[0] == "PAM_SUCCESS"
    expect(one_audit(syslog), user="john", rhost="-", factors="password,totp",
           result="success", pam="PAM_SUCCESS")
    assert_no_secret(syslog, authelia, "pw-john", code)


def test_2fa_after_the_stack_password(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = login(args(authelia, certs, "auth-level=2FA"), authtok="pw-john")
    assert l.conv() == ("echo_on", "TOTP Code: ")
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    expect(one_audit(syslog), factors="password,totp", result="success")
    assert_no_secret(syslog, authelia, "pw-john")


def test_duo(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", duo_device=True, method="mobile_push", duo_delay=0.2)
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    expect(one_audit(syslog), factors="password,duo", result="success", pam="PAM_SUCCESS")
    assert_no_secret(syslog, authelia, "pw-john")


DEVICE = ("method-priority=device_authorization,user oauth2-client-id=pam-authelia "
          "oauth2-client-secret=s3cret-client")


@pytest.mark.parametrize("flow,factors", [("first", "device"),
                                          ("after-password", "password,device")])
def test_device(login, authelia, certs, syslog, flow, factors):
    authelia.add_user("john", "pw-john", totp=True)
    authelia.oidc.interval = 1
    l = login(args(authelia, certs, f"{DEVICE} device-flow={flow}"))
    if flow == "after-password":
        assert l.conv() == ("echo_off", "Password: ")
        l.answer("pw-john")
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    expect(one_audit(syslog), factors=factors, result="success", pam="PAM_SUCCESS")
    assert_no_secret(syslog, authelia, "pw-john", "s3cret-client")


# --- failures the helper reports ---------------------------------------------------

def test_wrong_password(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    l = password_login(login, authelia, certs, password="wrong-pw-4711")
    assert l.result()[0] == "PAM_AUTH_ERR"
    expect(one_audit(syslog), user="john", factors="none", result="auth_err",
           pam="PAM_AUTH_ERR", state="first_factor",
           reason='first factor authentication failed: first factor for user "john" refused '
                  "(response status=401)")
    assert_no_secret(syslog, authelia, "wrong-pw-4711")


def test_wrong_totp(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer("135790")
    assert l.result()[0] == "PAM_AUTH_ERR"
    expect(one_audit(syslog), factors="password", result="auth_err", pam="PAM_AUTH_ERR",
           state="totp_verify", reason="TOTP authentication failed: TOTP refused "
                                       "(response status=403)")
    assert_no_secret(syslog, authelia, "pw-john", "135790")


def test_password_accepted_but_another_identity(login, authelia, certs, syslog):
    """factors says what passed even when the login did not."""
    authelia.case_insensitive = True
    authelia.add_user("john", "pw-john")
    l = password_login(login, authelia, certs, "auth-level=1FA", user="JOHN")
    assert l.result()[0] == "PAM_AUTH_ERR"
    expect(one_audit(syslog), user="JOHN", factors="password", result="auth_err",
           state="confirm_session",
           reason='authelia identity "john" does not match pam username "JOHN"')


def test_timeout(login, authelia, certs, syslog):
    l = login(args(authelia, certs, "timeout=1"))
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    assert wait_gone(helper, 3.0) is not None
    l.answer("too late")
    assert l.result()[0] == "PAM_AUTH_ERR"
    expect(one_audit(syslog), factors="none", result="auth_err", state="password_prompt",
           reason="timed out after 1 s waiting for the user (state password_prompt)")


def test_authelia_down(login, authelia, certs, syslog):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    l = login(f"binary={HELPER} url=https://127.0.0.1:{port} auth-level=1FA")
    l.conv()
    l.answer("pw-john")
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    expect(one_audit(syslog), factors="none", result="authinfo_unavail",
           pam="PAM_AUTHINFO_UNAVAIL", state="first_factor",
           reason=f'first factor for user "john" request failed: connection to '
                  f"127.0.0.1:{port} refused or unreachable")
    assert_no_secret(syslog, None, "pw-john")


def test_authelia_answers_5xx(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    authelia.inject("/api/secondfactor/totp", status=502, body=b"Bad Gateway",
                    content_type="text/plain")
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    expect(one_audit(syslog), factors="password", result="authinfo_unavail",
           pam="PAM_AUTHINFO_UNAVAIL", state="totp_verify",
           reason="TOTP: Authelia failed (response status=502)")


# --- the access check (authz-url) ----------------------------------------------------

AUTHZ = "authz-url=https://web01.localhost/pam/%s"
WEB01 = "https://web01.localhost/pam/pamtest"
LOG_ERR = 3


def failure_lines(syslog):
    """The helper's lines at LOG_ERR: a failed login has exactly one."""
    syslog.texts()  # settle
    with syslog.lock:
        return [l["text"] for l in syslog.lines
                if l["ident"] == "pam_authelia" and l["priority"] & 7 == LOG_ERR]


def policy(authelia, rule_policy):
    authelia.configure({"access_control": {"default_policy": "deny", "rules": [
        {"domain": "web01.localhost", "policy": rule_policy}]}})


@pytest.mark.parametrize("level,rule,factors", [
    ("policy", "one_factor", "password,authz"),  # not the plain 1FA line's "password"
    ("1FA", "one_factor", "password,authz"),
    ("policy", "two_factor", "password,totp,authz"),
])
def test_access_check_allows(login, authelia, certs, syslog, level, rule, factors):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    policy(authelia, rule)
    l = password_login(login, authelia, certs, f"{AUTHZ} auth-level={level}")
    if "totp" in factors:
        assert l.conv() == ("echo_on", "TOTP Code: ")
        l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    expect(one_audit(syslog), user="john", factors=factors, result="success",
           pam="PAM_SUCCESS")
    assert failure_lines(syslog) == []
    assert_no_secret(syslog, authelia, "pw-john")


@pytest.mark.parametrize("case,result,reason", [
    ("deny", "auth_err",
     f'authelia access control denies "john" on {WEB01} (response status=403)'),
    ("outside the cookie domain", "service_err",
     "authelia access check on https://web01.example.org/pam/pamtest is misconfigured "
     "(response status=400): Authelia refuses the question itself (its log says why); fix: "
     "web01.example.org must lie within the session.cookies domain that holds localhost, and "
     "authz-endpoint /api/authz/auth-request must be an AuthRequest or ForwardAuth endpoint; "
     "pam_authelia --check tells which"),
    ("503", "authinfo_unavail",
     f"authelia access check on {WEB01}: Authelia failed (response status=503)"),
])
def test_access_check_refuses(login, authelia, certs, syslog, case, result, reason):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    policy(authelia, "deny")
    template = AUTHZ
    if case == "outside the cookie domain":
        template = "authz-url=https://web01.example.org/pam/%s"
    if case == "503":
        authelia.inject("/api/authz/auth-request", status=503, body=b"503 Service Unavailable",
                        content_type="text/plain; charset=utf-8")
    l = password_login(login, authelia, certs, f"{template} auth-level=policy")
    assert l.result()[0] == "PAM_" + result.upper()
    assert failure_lines(syslog) == [reason]
    expect(one_audit(syslog), user="john", factors="password", result=result,
           pam="PAM_" + result.upper(), state="access_check", reason=reason)
    assert_no_secret(syslog, authelia, "pw-john")


def test_client_disconnect(login, authelia, certs, syslog):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    l = login(args(authelia, certs), rhost="127.0.0.1", connect=listener.getsockname()[1])
    conn, _ = listener.accept()
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    conn.close()
    assert wait_gone(helper, 2.0) is not None
    l.answer("x")
    assert l.result()[0] == "PAM_ABORT"
    expect(one_audit(syslog), rhost="127.0.0.1", factors="none", result="abort",
           pam="PAM_ABORT", state="password_prompt",
           reason="client disconnected in state password_prompt; login abandoned")
    listener.close()


def test_sigterm(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = password_login(login, authelia, certs)
    helper = l.wait_helper()
    assert l.conv() == ("echo_on", "TOTP Code: ")
    os.kill(helper, signal.SIGTERM)
    assert wait_gone(helper, 2.0) is not None
    l.answer("")
    assert l.result()[0] == "PAM_ABORT"
    expect(one_audit(syslog), factors="password", result="abort", state="totp_prompt",
           reason="stopped by signal Terminated in state totp_prompt; login abandoned")


def test_conversation_failure(login, authelia, certs, syslog):
    l = login(args(authelia, certs))
    l.conv()
    l.close_stdin()
    assert l.result()[0] == "PAM_CONV_ERR"
    expect(one_audit(syslog), result="conv_err", pam="PAM_CONV_ERR", state="password_prompt",
           reason="conversation failed at the password prompt")


def test_configuration_error_in_the_helper(login, authelia, certs, syslog):
    name, _ = login(args(authelia, certs, "auth-level=3FA oauth2-client-secret=TOPSECRET-1")
                    ).result()
    assert name == "PAM_SERVICE_ERR"
    expect(one_audit(syslog), factors="none", result="service_err", pam="PAM_SERVICE_ERR",
           state="receive_config",
           reason='configuration error: invalid auth level "3FA": must be 1FA, 2FA, or '
                  "1FA+2FA (or policy, with authz-url)")
    assert_no_secret(syslog, None, "TOPSECRET-1")


def test_hostile_user_name_cannot_forge_a_key(login, authelia, certs, syslog):
    """sshd's client chooses the user name: spaces, '=' and quotes must not
    make a second result= (or end the quoted reason) in the line."""
    user = 'x result=success pam=PAM_SUCCESS reason="" \\'
    l = password_login(login, authelia, certs, "auth-level=1FA", user=user)
    assert l.result()[0] == "PAM_AUTH_ERR"
    f = one_audit(syslog)
    expect(f, user="x?result?success?pam?PAM_SUCCESS?reason?????", result="auth_err")
    assert f["reason"] == ('first factor authentication failed: first factor for user '
                           '"x result?success pam?PAM_SUCCESS reason??? \\" refused '
                           "(response status=401)")
    text = audits(syslog)[0][3]
    assert text.count("result=") == 1 and text.count("pam=") == 1, text


# --- failures only the module can report ---------------------------------------------

def test_bad_option(login, syslog):
    name, _ = login(f"binary={HELPER} url=https://a.example colour=blue").result()
    assert name == "PAM_SERVICE_ERR"
    expect(one_audit(syslog, "module"), user="john", service="pamtest", factors="none",
           result="service_err", pam="PAM_SERVICE_ERR", reason='unknown option "colour"',
           helper="-")  # no helper ran
    with syslog.lock:
        line = next(l for l in syslog.lines if "audit: " in l["text"])
    assert line["text"].startswith("pam_authelia(pamtest:auth): audit: user=john "), line


def test_missing_helper(login, syslog):
    name, _ = login("binary=/nonexistent/pam_authelia url=https://a.example").result()
    assert name == "PAM_SERVICE_ERR"
    expect(one_audit(syslog, "module"), factors="none", result="service_err",
           reason="helper binary /nonexistent/pam_authelia: No such file or directory")


def test_no_user_name(login, syslog):
    name, _ = login(f"binary={HELPER} url=https://a.example", user="").result()
    assert name == "PAM_USER_UNKNOWN"
    expect(one_audit(syslog, "module"), user="-", factors="none", result="user_unknown",
           pam="PAM_USER_UNKNOWN", reason="the application gave no user name")


def test_helper_crash(login, authelia, certs, syslog):
    """SIGSEGV once the password was accepted: the helper writes nothing, the
    module's line says what the application got; factors are unknown to it."""
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = password_login(login, authelia, certs)
    helper = l.wait_helper()
    assert l.conv() == ("echo_on", "TOTP Code: ")
    os.kill(helper, signal.SIGSEGV)
    assert wait_gone(helper, 5.0) is not None
    l.answer("")
    assert l.result()[0] == "PAM_SERVICE_ERR"
    expect(one_audit(syslog, "module"), factors="unknown", result="service_err",
           pam="PAM_SERVICE_ERR", reason=f"helper {HELPER} killed by signal 11",
           helper=str(helper))
    assert_no_secret(syslog, authelia, "pw-john")


def test_backstop_after_sigstop(login, authelia, certs, syslog):
    """A stopped helper (the test is root; under su or sudo the user can no
    longer stop it) is killed by the backstop: one line, the module's."""
    l = login(args(authelia, certs, "timeout=1"))
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    os.kill(helper, signal.SIGSTOP)
    l.answer("pw-john")  # the module waits for the stopped helper now
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert wait_gone(helper, 1.0) is not None
    time.sleep(0.3)
    expect(one_audit(syslog, "module"), factors="unknown", result="auth_err",
           pam="PAM_AUTH_ERR", reason="helper still running past timeout; killed it")


def test_backstop_gives_the_helper_no_word_after_it(login, stand_in, syslog):
    """The module kills a helper it has given up on with SIGKILL: a helper
    that would still answer SIGTERM (with its line of an abandoned login,
    result=abort) must not contradict the module's line (result=auth_err)."""
    binary, _ = stand_in("hang-logging-on-sigterm")
    l = login(f"binary={binary} url=https://a.example timeout=1")
    helper = l.wait_helper()
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert wait_gone(helper, 1.0) is not None
    time.sleep(0.3)
    expect(one_audit(syslog, "module"), result="auth_err",
           reason="helper still running past timeout; killed it")


def test_sandbox_kill(login, syslog):
    from test_sandbox import SELFTEST
    from safe_dir import install_helper, make_safe_dir
    d = make_safe_dir()
    try:
        binary = install_helper(SELFTEST, d, "selftest-exec")
        with open(f"{binary}.action", "w") as f:
            f.write("exec\n")
        name, _ = login(f"binary={binary} url=https://127.0.0.1:1").result()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert name == "PAM_SERVICE_ERR"
    expect(one_audit(syslog, "module"), factors="unknown", result="service_err",
           reason=f"helper {binary} killed by signal 31 (SIGSYS): its sandbox stopped a "
                  "system call it must not make")


@pytest.mark.parametrize("scenario,result,reason", [
    ("exit-without-result", "service_err", "exited without a result"),
    ("crash", "service_err", "killed by signal 11"),
    ("flood-garbage", "service_err", "malformed frame from helper: unknown frame type"),
    ("hang", "auth_err", "helper still running past timeout; killed it"),
])
def test_stand_in_helper_failures(login, stand_in, syslog, scenario, result, reason):
    binary, record = stand_in(scenario)
    l = login(f"binary={binary} url=https://a.example timeout=1", rhost="192.0.2.7")
    while not l._line(10).startswith("RESULT "):
        pass
    f = one_audit(syslog, "module")
    expect(f, user="john", service="pamtest", rhost="192.0.2.7", factors="unknown",
           result=result, helper=str(json.loads(record.read_text())["pid"]))
    assert f["reason"].endswith(reason), f


@pytest.mark.parametrize("scenario,reason", [
    ("success-then-exit-3", "exited with status 3"),
    ("success-then-hang", "helper did not exit after its result; killed it"),
    ("frame-after-result", "helper sent a frame after its result"),
])
def test_an_overridden_helper_result_is_paired(login, stand_in, syslog, scenario, reason):
    """The helper's own line (the real one writes it just before its result,
    as this stand-in does) said success; then the helper exited 3, hung on or
    broke the protocol, and the application got PAM_SERVICE_ERR.  Two lines,
    and nothing else may count the login as a success: the module's line
    names the same helper= and overrides=success, among concurrent logins."""
    binary, _ = stand_in(scenario)
    runs = [login(f"binary={binary} url=https://a.example timeout=30", rhost="192.0.2.7")
            for _ in range(3)]
    for l in runs:
        while not l._line(10).startswith("RESULT "):
            pass
    time.sleep(0.3)
    lines = audits(syslog)  # checks the helper's helper= is the pid that logged
    assert len(lines) == 2 * len(runs), lines
    pids = {f["helper"] for who, f, _, _ in lines if who == "helper"}
    assert len(pids) == len(runs), lines
    for pid in pids:
        mine = [(who, f) for who, f, _, _ in lines if f["helper"] == pid]
        assert [who for who, _ in mine] == ["helper", "pam_test_app"], lines
        (_, helper), (_, module) = mine
        expect(helper, result="success", pam="PAM_SUCCESS")
        assert "overrides" not in helper
        expect(module, user="john", rhost="192.0.2.7", factors="unknown",
               result="service_err", pam="PAM_SERVICE_ERR", overrides="success")
        assert module["reason"].endswith(reason), module
    # What a tool that counts successes must do: drop those overridden.
    overridden = {f["helper"] for who, f, _, _ in lines if "overrides" in f}
    assert not [f for who, f, _, _ in lines
                if f["result"] == "success" and f["helper"] not in overridden]


@pytest.mark.parametrize("result", ["success", "auth_err", "abort"])
def test_a_helper_result_is_left_to_the_helper(login, stand_in, syslog, result):
    """The module writes no line when the application gets the code the
    helper's result named: the helper wrote it (this stand-in writes none)."""
    binary, _ = stand_in(f"result:{result}")
    login(f"binary={binary} url=https://a.example").result()
    assert audits(syslog) == []


# --- README's journalctl commands, run against a real journald ----------------------

JOURNALD = "/usr/lib/systemd/systemd-journald"
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_journalctl_commands():
    text = README.read_text()
    block = text[text.index("### The audit line"):].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines()
            if line.startswith("journalctl ")]


# What each of README's commands must find among the four logins below.
README_FINDS = {
    "journalctl -t pam_authelia -g '^audit: '":
        {("john", "success"), ("john", "auth_err"), ("john", "authinfo_unavail")},
    "journalctl -t pam_authelia -g '^audit: .* result=(?!success)'":
        {("john", "auth_err"), ("john", "authinfo_unavail")},
    "journalctl -t pam_authelia -g '^audit: .* pam=PAM_AUTHINFO_UNAVAIL'":
        {("john", "authinfo_unavail")},
    "journalctl --facility=authpriv -g 'pam_authelia\\(.*\\): audit: '":
        {("jane", "service_err")},
    "journalctl --facility=authpriv -g 'audit: user=john '":
        {("john", "success"), ("john", "auth_err"), ("john", "authinfo_unavail")},
}


@pytest.mark.skipif(not os.path.exists(JOURNALD), reason="no systemd-journald")
def test_readme_journalctl_commands(authelia, certs, syslog, tmp_path):
    """README's commands, run as written against a journald of the test's own
    (a nested mount namespace: its /run, journal and /dev/log are private), on
    a success, a wrong password and Authelia unreachable (the helper's lines)
    and a bad option (the module's line, under the application's ident)."""
    assert set(readme_journalctl_commands()) == set(README_FINDS)
    authelia.add_user("john", "pw-john")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    shutil.copy(HELPER, tmp_path / "helper")
    # The CA file too: the tmpfs over /run hides the safe directory it is in.
    shutil.copy(certs / "ca.pem", tmp_path / "ca.pem")
    logins = [
        ("john", "pw-john", f"url={authelia.url} ca-cert=/run/bin/ca.pem auth-level=1FA"),
        ("john", "wrong", f"url={authelia.url} ca-cert=/run/bin/ca.pem auth-level=1FA"),
        ("john", "pw-john", f"url=https://127.0.0.1:{closed} auth-level=1FA"),
        ("jane", "x", f"url={authelia.url} colour=blue"),
    ]
    script = ["set -eu",
              "[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal",
              f"cp {tmp_path / 'helper'} /tmp/audit-helper-$$",
              "mount -t tmpfs -o mode=0755 tmpfs /run",
              "mkdir -m 755 /run/bin",
              "cp /tmp/audit-helper-$$ /run/bin/pam_authelia && rm /tmp/audit-helper-$$",
              "chmod 755 /run/bin/pam_authelia",
              f"cp {tmp_path / 'ca.pem'} /run/bin/ca.pem && chmod 644 /run/bin/ca.pem",
              f"{JOURNALD} >/dev/null 2>&1 & journald=$!",
              "trap 'kill $journald' EXIT",
              "for i in $(seq 100); do [ -S /run/systemd/journal/dev-log ] && break; "
              "sleep 0.05; done",
              "[ -S /run/systemd/journal/dev-log ] || { echo NO-JOURNALD; exit 0; }",
              "mount --bind /run/systemd/journal/dev-log /dev/log"]
    for i, (user, password, module_args) in enumerate(logins):
        confdir = tmp_path / f"pam.d-{i}"
        confdir.mkdir()
        (confdir / "pamtest").write_text(
            f"auth required {SHIM} binary=/run/bin/pam_authelia {module_args}\n")
        script.append(f"echo {password} | {APP} {confdir} pamtest {user} >/dev/null")
    script.append("sleep 0.3")
    commands = list(README_FINDS)
    for i, command in enumerate(commands):
        script += [f"echo '>>> {i}'", f"{command} --no-pager -q || true"]
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                          "\n".join(script)], capture_output=True, text=True, timeout=60)
    if "NO-JOURNALD" in out.stdout:
        pytest.skip("systemd-journald does not start here")
    assert out.returncode == 0, out
    found, command = {}, None
    for line in out.stdout.splitlines():
        if line.startswith(">>> "):
            command = commands[int(line[4:])]
            found[command] = set()
        elif "audit: " in line:
            f = parse(line[line.index("audit: "):])
            found[command].add((f["user"], f["result"]))
    assert found == README_FINDS, out.stdout
