"""Password, TOTP and Duo flows: the real helper behind the real shim in real
PAM transactions against the Authelia test double.  Each test checks the PAM
code, the prompts the user saw, the log lines and what the double received."""
import socket
import threading
import time

import pytest

from conftest import GONE_AT_ONCE, HELPER, wait_gone

DUO_PROMPT = "Duo Push sent, approve on your device, then press Enter: "


def args(authelia, certs, extra=""):
    return (f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} debug {extra}").strip()


def password_login(login, authelia, certs, extra="", password="pw-john", **kw):
    l = login(args(authelia, certs, extra), **kw)
    assert l.conv() == ("echo_off", "Password: ")
    l.answer(password)
    return l


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# --- 1FA ---------------------------------------------------------------------

def test_1fa_success(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    l = password_login(login, authelia, certs, "auth-level=1FA")
    assert l.result()[0] == "PAM_SUCCESS"
    texts = syslog.texts()
    for line in [f"POST {authelia.url}/api/firstfactor",
                 'response status=200 status_field="OK"',
                 f"GET {authelia.url}/api/state",
                 'session confirmed: user "john" authentication_level=1',
                 'authentication succeeded for user "john" (service pamtest, rhost -)']:
        assert line in texts, texts
    # Two requests, one connection (1FA has nothing to overlap).
    assert authelia.paths() == ["/api/firstfactor", "/api/state"]
    assert authelia.handshakes == 1
    ff = next(r for r in authelia.requests if r["path"] == "/api/firstfactor")
    assert ff["json"] == {"username": "john", "password": "pw-john"}
    assert ff["headers"]["host"] == f"localhost:{authelia.port}"
    assert ff["headers"]["user-agent"].startswith("pam_authelia/")
    assert "x-forwarded-for" not in ff["headers"]  # no PAM_RHOST
    assert not any("pw-john" in t for t in texts + syslog.shim_texts())


def test_1fa_wrong_password(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    l = password_login(login, authelia, certs, "auth-level=1FA", password="wrong")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert ('first factor authentication failed: first factor for user "john" refused '
            '(response status=401)') in syslog.texts()
    assert 'response status=401 status_field="KO"' in syslog.texts()
    assert authelia.paths() == ["/api/firstfactor"]


def test_1fa_unknown_user(login, authelia, certs, syslog):
    l = password_login(login, authelia, certs, "auth-level=1FA")
    assert l.result()[0] == "PAM_AUTH_ERR"


def test_banned_user_is_refused_like_a_wrong_password(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    for _ in range(3):
        password_login(login, authelia, certs, "auth-level=1FA", password="bad").result()
    l = password_login(login, authelia, certs, "auth-level=1FA")
    assert l.result()[0] == "PAM_AUTH_ERR"


def test_x_forwarded_for_carries_the_ssh_client(login, authelia, certs):
    authelia.add_user("john", "pw-john")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    l = password_login(login, authelia, certs, "auth-level=1FA", rhost="127.0.0.1",
                       connect=listener.getsockname()[1])
    conn, _ = listener.accept()
    assert l.result()[0] == "PAM_SUCCESS"
    assert all(r["headers"].get("x-forwarded-for") == "127.0.0.1" for r in authelia.requests)
    conn.close()


def test_canonical_name_differing_in_case_is_refused(login, authelia, certs, syslog):
    """A case-insensitive directory: "JOHN"'s login uses john's Authelia
    password, but Linux's JOHN is not john."""
    authelia.case_insensitive = True
    authelia.add_user("john", "pw-john")
    l = password_login(login, authelia, certs, "auth-level=1FA", user="JOHN")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert 'authelia identity "john" does not match pam username "JOHN"' in syslog.texts()


# --- 1FA+2FA with TOTP -------------------------------------------------------

def test_1fa_2fa_totp_success(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = password_login(login, authelia, certs)
    assert l.conv() == ("echo_on", "TOTP Code: ")
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    texts = syslog.texts()
    expected = [f"POST {authelia.url}/api/firstfactor",
                'response status=200 status_field="OK"',
                'user info method="totp" has_totp=true has_webauthn=false has_duo=false',
                'selected "totp" (from priority entry "user")',
                f"POST {authelia.url}/api/secondfactor/totp",
                'session confirmed: user "john" authentication_level=1']
    for line in expected:
        assert line in texts, texts
    # Four requests: user info and the session check overlap after the password.
    paths = authelia.paths()
    assert paths[0] == "/api/firstfactor" and paths[-1] == "/api/secondfactor/totp"
    assert sorted(paths[1:3]) == ["/api/state", "/api/user/info"]
    ui = next(r for r in authelia.requests if r["path"] == "/api/user/info")
    assert ui["method"] == "POST"


def test_two_connections_opened_before_the_password_and_cookies_follow(login, authelia, certs):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = login(args(authelia, certs))
    assert l.conv() == ("echo_off", "Password: ")
    # Both connections are opened (TCP and TLS) while the user types, without a request.
    assert wait_for(lambda: authelia.handshakes == 2)
    assert authelia.requests == []
    l.answer("pw-john")
    l.conv()
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    assert authelia.handshakes == 2 and authelia.connections == 2
    by_path = {r["path"]: r for r in authelia.requests}
    assert "cookie" not in by_path["/api/firstfactor"]["headers"]
    # user info and the session check go out on the two connections, both with
    # the session cookie firstfactor set, whichever connection it came on.
    assert by_path["/api/user/info"]["conn"] != by_path["/api/state"]["conn"]
    sessions = [by_path[p]["headers"]["cookie"] for p in
                ("/api/user/info", "/api/state", "/api/secondfactor/totp")]
    assert sessions[0] == sessions[1] == sessions[2]
    assert sessions[0].startswith("authelia_session=")
    assert len(sessions[0]) == len("authelia_session=") + 32


def test_user_info_and_session_state_overlap(login, authelia, certs):
    """The session check does not wait for user info (nor the other way round)."""
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    authelia.inject("/api/user/info", delay=0.6)
    l = password_login(login, authelia, certs)
    assert l.conv() == ("echo_on", "TOTP Code: ")
    times = {r["path"]: r["time"] for r in authelia.requests}
    # Both arrived before user info was answered (0.6 s after its arrival).
    assert abs(times["/api/state"] - times["/api/user/info"]) < 0.3
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"


@pytest.mark.parametrize("fails,slow,injection,code,line", [
    ("/api/state", "/api/user/info", dict(status=503, body=b"down", content_type="text/plain"),
     "PAM_AUTHINFO_UNAVAIL", "session state: Authelia failed (response status=503)"),
    ("/api/user/info", "/api/state", dict(status=503, body=b"down", content_type="text/plain"),
     "PAM_AUTHINFO_UNAVAIL", "user info: Authelia failed (response status=503)"),
    ("/api/state", "/api/user/info",
     dict(status=200, body=b'{"status":"OK","data":{"username":"jane","authentication_level":1}}'),
     "PAM_AUTH_ERR", 'authelia identity "jane" does not match pam username "john"'),
    ("/api/state", "/api/user/info",
     dict(status=200, body=b'{"status":"OK","data":{"username":"john","authentication_level":0}}'),
     "PAM_AUTH_ERR", 'Authelia reports authentication_level=0 for "john", this login needs 1'),
    ("/api/user/info", "/api/state", dict(status=403, body=b"403 Forbidden",
                                          content_type="text/plain"),
     "PAM_AUTH_ERR", "user info refused (response status=403)"),
])
def test_one_of_two_concurrent_requests_failing(login, authelia, certs, syslog, fails, slow,
                                                injection, code, line):
    """Either failing ends the login at once with its own failure; the other
    request, still waiting for its answer, is cancelled."""
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    authelia.inject(fails, **injection)
    authelia.inject(slow, delay=3)
    l = password_login(login, authelia, certs)
    helper = l.wait_helper()
    t0 = time.monotonic()
    name, _ = l.result()
    assert name == code
    assert time.monotonic() - t0 < 2.0  # not after the slow answer
    assert wait_gone(helper, 1.0) is not None
    assert any(line in t for t in syslog.texts()), syslog.texts()
    assert "/api/secondfactor/totp" not in authelia.paths()


def test_first_failure_of_two_wins(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    authelia.inject("/api/state", status=401, body=b"401 Unauthorized", content_type="text/plain")
    authelia.inject("/api/user/info", status=503, body=b"down", content_type="text/plain",
                    delay=0.5)
    l = password_login(login, authelia, certs)
    assert l.result()[0] == "PAM_AUTH_ERR"
    time.sleep(0.7)
    texts = syslog.texts()
    assert "session state refused (response status=401)" in texts, texts
    assert not any("user info" in t and "503" in t for t in texts)


@pytest.mark.parametrize("path,user_kw,extra", [
    ("/api/secondfactor/totp", dict(totp=True, method="totp"), ""),
    ("/api/secondfactor/duo", dict(duo_device=True, method="mobile_push"), ""),
])
@pytest.mark.parametrize("cookie", ["none", "same"])
def test_second_factor_ok_without_a_new_session_is_refused(login, authelia, certs, syslog, path,
                                                           user_kw, extra, cookie):
    """A 200 "OK" counts only with the session regeneration Authelia performs
    on every second factor it accepts: a new session cookie value."""
    authelia.add_user("john", "pw-john", **user_kw)
    authelia.inject(path, status=200, body=b'{"status":"OK"}', echo_cookie=cookie == "same")
    l = password_login(login, authelia, certs, extra)
    style, text = l.conv()
    l.answer(authelia.totp("john") if "totp" in path else "")
    assert l.result()[0] == "PAM_AUTH_ERR"
    what = "TOTP" if "totp" in path else "Duo push"
    assert (f"{what} answered OK without a new session cookie: Authelia regenerates the "
            "session after every second factor it accepts; refused") in syslog.texts()
    sent = [r for r in authelia.requests if r["path"] == path]
    assert len(sent) == 1
    if cookie == "same":
        assert "set-cookie" not in sent[0]["headers"]  # (the double echoed the request's)


def test_cookie_values_are_echoed_byte_for_byte(login, authelia, certs, monkeypatch):
    import authelia_double
    monkeypatch.setattr(authelia_double, "COOKIE_CHARS", "%#!^*$")
    authelia.add_user("john", "pw-john", totp=True)
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"


@pytest.mark.parametrize("typed", ["123 456", " 12345678 "])
def test_totp_spaces_are_dropped(login, authelia, certs, typed):
    authelia.add_user("john", "pw-john", totp=True)
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(typed)
    l.result()
    totp = [r for r in authelia.requests if r["path"] == "/api/secondfactor/totp"]
    assert totp[0]["json"] == {"token": typed.replace(" ", "")}


def test_totp_wrong_code(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True)
    code = authelia.totp("john")
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(str((int(code) + 1) % 1000000).zfill(6))
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert "TOTP authentication failed: TOTP refused (response status=403)" in syslog.texts()


def test_totp_replay_is_refused(login, authelia, certs):
    authelia.add_user("john", "pw-john", totp=True)
    code = authelia.totp("john")
    for expected in ("PAM_SUCCESS", "PAM_AUTH_ERR"):
        l = password_login(login, authelia, certs)
        l.conv()
        l.answer(code)
        assert l.result()[0] == expected


@pytest.mark.parametrize("typed", ["abcdefgh", "12345", "1234567", "123456789", "12345a", ""])
def test_malformed_totp_is_refused_before_any_request(login, authelia, certs, syslog, typed):
    authelia.add_user("john", "pw-john", totp=True)
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(typed)
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert "TOTP code must be 6 or 8 digits: refused before sending" in syslog.texts()
    assert "/api/secondfactor/totp" not in authelia.paths()


def test_eight_digit_totp(login, authelia, certs):
    authelia.add_user("john", "pw-john", totp=True, totp_digits=8)
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"


def test_totp_rate_limited(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True)
    authelia.rate_limited.add("/api/secondfactor/totp")
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_AUTH_ERR"
    texts = syslog.texts()
    assert "response status=429 status_field=\"KO\"" in texts
    assert "TOTP rate limited by Authelia server, try again later (response status=429)" in texts


def test_conversation_failure_at_the_totp_prompt(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True)
    l = password_login(login, authelia, certs)
    l.conv()
    l.close_stdin()
    assert l.result()[0] == "PAM_CONV_ERR"
    assert "conversation failed at the TOTP prompt" in syslog.texts()


# --- 2FA: the password comes from the stack ----------------------------------

def test_2fa_uses_the_stack_password_silently(login, authelia, certs):
    authelia.add_user("john", "pw-john", totp=True)
    l = login(args(authelia, certs, "auth-level=2FA"), authtok="pw-john")
    assert l.conv() == ("echo_on", "TOTP Code: ")  # no password prompt from us
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    ff = next(r for r in authelia.requests if r["path"] == "/api/firstfactor")
    assert ff["json"] == {"username": "john", "password": "pw-john"}


def test_2fa_with_a_stack_password_authelia_refuses(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True)
    l = login(args(authelia, certs, "auth-level=2FA"), authtok="local-only-password")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert "/api/secondfactor/totp" not in authelia.paths()


# --- Duo -----------------------------------------------------------------------

def test_duo_push_approved(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", duo_device=True, method="mobile_push", duo_delay=1.0)
    l = password_login(login, authelia, certs)
    t0 = time.monotonic()
    assert l.conv() == ("echo_on", DUO_PROMPT)
    assert time.monotonic() - t0 < 0.9  # the user sees the prompt before the push completes
    helper = l.wait_helper()
    gone = wait_gone(helper, 5.0)  # the helper decides on the push alone...
    assert gone is not None and gone > 0.5
    l.answer("")  # ...and the user's Enter releases the application's prompt
    assert l.result()[0] == "PAM_SUCCESS"
    duo = next(r for r in authelia.requests if r["path"] == "/api/secondfactor/duo")
    assert duo["body"] == b"{}"
    assert 'selected "mobile_push" (from priority entry "user")' in syslog.texts()


def test_duo_enter_before_approval_waits_for_the_push(login, authelia, certs):
    authelia.add_user("john", "pw-john", duo_device=True, method="mobile_push", duo_delay=0.5)
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer("")  # Enter at once
    assert l.result()[0] == "PAM_SUCCESS"


@pytest.mark.parametrize("outcome,line", [
    ("deny-push", "duo push authentication failed: duo push refused (response status=401)"),
    ("deny-stored", "duo push authentication failed: duo push refused (response status=401)"),
    ("enroll", 'duo push authentication failed: Duo push not completed: Authelia answered '
                'result "enroll" without a second factor'),
    ("deny", 'duo push authentication failed: Duo push not completed: Authelia answered '
                'result "deny" without a second factor'),
    ("auth", 'duo push authentication failed: Duo push not completed: Authelia answered '
                'result "auth" without a second factor'),
])
def test_duo_push_refused(login, authelia, certs, syslog, outcome, line):
    authelia.add_user("john", "pw-john", duo_device=True, duo_outcome=outcome)
    l = password_login(login, authelia, certs, "method-priority=mobile_push")
    assert l.conv() == ("echo_on", DUO_PROMPT)
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert line in syslog.texts(), syslog.texts()
    assert authelia.paths()[-1] == "/api/secondfactor/duo"  # nothing after the refusal


def test_duo_push_never_answered_times_out_and_is_cancelled(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", duo_device=True, duo_delay=30)
    l = password_login(login, authelia, certs, "method-priority=mobile_push timeout=2")
    helper = l.wait_helper()
    assert l.conv() == ("echo_on", DUO_PROMPT)
    gone = wait_gone(helper, 4.0)
    assert gone is not None
    assert "timed out after 2 s waiting for the user (state duo_push)" in syslog.texts()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"


def test_client_disconnect_during_duo_push(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", duo_device=True, duo_delay=30)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    l = password_login(login, authelia, certs, "method-priority=mobile_push",
                       rhost="127.0.0.1", connect=listener.getsockname()[1])
    conn, _ = listener.accept()
    helper = l.wait_helper()
    assert l.conv() == ("echo_on", DUO_PROMPT)
    # the push is on its way; the double records it when its body has arrived
    deadline = time.monotonic() + 5
    while not any(r["path"] == "/api/secondfactor/duo" for r in authelia.requests):
        assert time.monotonic() < deadline, "the Duo push never reached the double"
        time.sleep(0.005)
    conn.close()
    gone = wait_gone(helper, 1.0)
    assert gone is not None and gone < GONE_AT_ONCE
    before = len(authelia.requests)
    time.sleep(0.3)
    assert len(authelia.requests) == before  # nothing after the disconnect
    assert "client disconnected in state duo_push; login abandoned" in syslog.texts()
    listener.close()


# --- method selection ----------------------------------------------------------

@pytest.mark.parametrize("user_kw,priority,selected,entry", [
    (dict(totp=True, method="webauthn", webauthn=True), "", "totp", "user"),
    (dict(duo_device=True, webauthn=True, method="webauthn"), "", "mobile_push", "user"),
    (dict(totp=True, duo_device=True, method="mobile_push"), "", "mobile_push", "user"),
    (dict(totp=True, duo_device=True, method="mobile_push"), "totp,user", "totp", "totp"),
    (dict(totp=True, duo_device=True, method="totp"), "mobile_push,totp", "mobile_push", "mobile_push"),
    (dict(totp=True, method=""), "mobile_push,user", "totp", "user"),
    # Duo as the stored preference without a saved device: Authelia picks the device.
    (dict(method="mobile_push"), "", "mobile_push", "user"),
    # Never opened the portal: GET would report nothing; POST creates the row.
    (dict(totp=True, preferences_row=False), "", "totp", "user"),
])
def test_method_selection(login, authelia, certs, syslog, user_kw, priority, selected, entry):
    authelia.add_user("john", "pw-john", **user_kw)
    extra = f"method-priority={priority}" if priority else ""
    l = password_login(login, authelia, certs, extra)
    l.conv()
    l.kill()
    assert syslog.wait_for(f'selected "{selected}" (from priority entry "{entry}")'), syslog.texts()


@pytest.mark.parametrize("user_kw,priority", [
    (dict(webauthn=True, method="webauthn"), "totp"),
    (dict(webauthn=True, method="webauthn"), "user"),
    (dict(totp=True, method="totp"), "mobile_push"),
])
def test_no_usable_method(login, authelia, certs, syslog, user_kw, priority):
    authelia.add_user("john", "pw-john", **user_kw)
    l = password_login(login, authelia, certs, f"method-priority={priority}")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert "no usable 2FA method for this user" in syslog.texts()


def test_totp_preference_without_totp_falls_through(login, authelia, certs, syslog):
    """POST /api/user/info may report method "totp" with has_totp false."""
    authelia.add_user("john", "pw-john", method="totp", duo_device=True)
    l = password_login(login, authelia, certs)
    assert l.conv() == ("echo_on", DUO_PROMPT)
    l.kill()


# --- a server that misbehaves ---------------------------------------------------
# The rule (README, "PAM return codes"): PAM_AUTHINFO_UNAVAIL only for an
# observed failure to talk to Authelia (5xx, no connection, TLS, a connection
# lost); an answer that came but cannot be used is a refusal; a redirect means
# url is wrong.

NESTED = b'{"status":"OK","data":' + b"[" * 30000 + b"]" * 30000 + b"}"


@pytest.mark.parametrize("path,injection,code,line", [
    ("/api/firstfactor", dict(status=200, body=b"{not json"), "PAM_AUTH_ERR",
     'first factor for user "john": malformed response: malformed JSON'),
    ("/api/firstfactor", dict(status=200, body=b'{"status":1}'), "PAM_AUTH_ERR",
     'first factor for user "john": malformed response: field status is a number, not a string'),
    ("/api/firstfactor", dict(status=200, body=b'["OK"]'), "PAM_AUTH_ERR",
     "malformed JSON: an array, not an object"),
    ("/api/firstfactor", dict(status=200, body=b'{"status":"KO","status":"OK"}'),
     "PAM_AUTH_ERR", "malformed JSON: repeated key"),
    ("/api/firstfactor", dict(status=200, body=b'{"status":"KO","message":"Operation failed."}'),
     "PAM_AUTH_ERR", 'first factor authentication failed: first factor for user "john" refused '
     '(response status=200 status_field="KO")'),
    ("/api/firstfactor", dict(status=200, body=b'{"status":"OK","data":[]}'),
     "PAM_AUTH_ERR", "field data is an array, not an object"),
    ("/api/firstfactor", dict(status=200, body=b'{"status":"O\\u0000K"}'),
     "PAM_AUTH_ERR", "malformed JSON: a string holds \\u0000"),
    # 60 KB of nesting crashed the helper's recursive tree code (1 MiB stack).
    ("/api/firstfactor", dict(status=200, body=NESTED),
     "PAM_AUTH_ERR", "malformed JSON: nested deeper than 32 levels"),
    ("/api/user/info", dict(status=200, body=b'{"status":"OK","data":{"method":"totp",'
                            b'"has_totp":"yes","has_webauthn":false,"has_duo":false}}'),
     "PAM_AUTH_ERR", "user info fetch failed: user info: malformed response: field data.has_totp is a string, not a boolean"),
    ("/api/user/info", dict(status=200, body=b'{"status":"OK","data":{"method":"totp"}}'),
     "PAM_AUTH_ERR", "user info fetch failed: user info: malformed response"),
    ("/api/user/info", dict(status=200, body=b'{"status":"OK","data":{"method":"sms",'
                            b'"has_totp":true,"has_webauthn":false,"has_duo":false}}'),
     "PAM_AUTH_ERR", "user info fetch failed: user info: malformed response: unknown data.method"),
    ("/api/firstfactor", dict(status=200, body=b'{"status":"OK","x":"' + b"a" * 100000 + b'"}'),
     "PAM_AUTH_ERR", "response larger than 64 KiB"),
    ("/api/firstfactor", dict(status=302, headers={"Location": "https://evil.example/"}),
     "PAM_SERVICE_ERR", "unexpected redirect (response status=302); is url Authelia's own URL?"),
    ("/api/firstfactor", dict(status=503, body=b"Service Unavailable", content_type="text/plain"),
     "PAM_AUTHINFO_UNAVAIL", "Authelia failed (response status=503)"),
    ("/api/firstfactor", dict(status=502, body=b"Bad Gateway", content_type="text/plain"),
     "PAM_AUTHINFO_UNAVAIL", "Authelia failed (response status=502)"),
    ("/api/firstfactor", dict(status=404, body=b"404 Not Found", content_type="text/plain"),
     "PAM_AUTH_ERR", "refused (response status=404)"),
    ("/api/firstfactor", dict(status=413, body=b"413 Request Entity Too Large",
                              content_type="text/plain"),
     "PAM_AUTH_ERR", "refused (response status=413)"),
    ("/api/firstfactor", dict(reset=True), "PAM_AUTHINFO_UNAVAIL", "request failed"),
    ("/api/firstfactor", dict(raw=b"SSH-2.0-not-http\r\n\r\n"), "PAM_AUTH_ERR",
     "request failed: invalid HTTP response"),
    ("/api/state", dict(status=200, body=b'{"status":"OK","data":{"username":"john",'
                        b'"authentication_level":"2"}}'),
     "PAM_AUTH_ERR", "field data.authentication_level is a string, not an integer"),
    ("/api/state", dict(status=200, body=b'{"status":"OK","data":{"username":"john",'
                        b'"authentication_level":0}}'),
     "PAM_AUTH_ERR", 'Authelia reports authentication_level=0 for "john", this login needs 1'),
])
def test_bad_server_answers(login, authelia, certs, syslog, path, injection, code, line):
    authelia.add_user("john", "pw-john", totp=True)
    authelia.inject(path, **injection)
    l = password_login(login, authelia, certs, "auth-level=1FA" if path != "/api/user/info" else "")
    assert l.result()[0] == code
    assert any(line in t for t in syslog.texts()), syslog.texts()
    assert not any("evil.example" in p for p in authelia.paths())


def test_slow_server_hits_the_whole_exchange_timeout(login, authelia, certs, syslog):
    """The whole-exchange timeout is a refusal wherever it fires: when it
    fires is the user's choice (they pick when to answer), so it must never
    mean "Authelia unavailable".  Only a request's own fixed deadline does."""
    authelia.add_user("john", "pw-john")
    authelia.inject("/api/firstfactor", delay=10)
    l = password_login(login, authelia, certs, "auth-level=1FA timeout=2")
    name, ms = l.result()
    assert name == "PAM_AUTH_ERR"
    assert ms < 3000
    assert "timed out after 2 s waiting for Authelia (state first_factor)" in syslog.texts()


def test_server_closing_the_connection_means_a_new_verified_handshake(login, authelia, certs):
    authelia.add_user("john", "pw-john", totp=True)
    authelia.inject("/api/firstfactor", close=True)
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    assert authelia.handshakes == 3  # the two opened at the start, and one more
    ff = next(r for r in authelia.requests if r["path"] == "/api/firstfactor")
    assert all(r["conn"] != ff["conn"] for r in authelia.requests if r is not ff)


# --- a kept-alive connection the server closes just as it is used -------------

def login_once_connected(login, authelia, certs, extra, connections):
    """Answers the password once the connections opened at the start are up."""
    l = login(args(authelia, certs, extra))
    assert l.conv() == ("echo_off", "Password: ")
    assert wait_for(lambda: authelia.handshakes == connections)
    time.sleep(0.2)  # the helper has read the server's last handshake flight
    l.answer("pw-john")
    return l


def test_dropped_keep_alive_connection_is_retried_once(login, authelia, certs, syslog):
    """The server closes an idle connection just as the password goes out on
    it (Authelia's idle timeout is 30 s; the user chooses when to answer):
    sent once more on a new connection, it succeeds.  Without the retry the
    user could pick "Authelia unavailable" by timing."""
    authelia.add_user("john", "pw-john")
    authelia.inject("/api/firstfactor", drop=True, times=1)
    l = login_once_connected(login, authelia, certs, "auth-level=1FA", 1)
    assert l.result()[0] == "PAM_SUCCESS", syslog.texts()
    ff = [r for r in authelia.requests if r["path"] == "/api/firstfactor"]
    assert len(ff) == 2 and ff[0]["conn"] != ff[1]["conn"]
    assert ff[0]["json"] == ff[1]["json"] == {"username": "john", "password": "pw-john"}
    assert authelia.handshakes == 2
    assert any("closed before answering" in t for t in syslog.texts()), syslog.texts()


def test_dropped_twice_is_a_real_failure(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    authelia.inject("/api/firstfactor", drop=True, times=2)
    l = login_once_connected(login, authelia, certs, "auth-level=1FA", 1)
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    assert len([p for p in authelia.paths() if p == "/api/firstfactor"]) == 2
    assert any("first factor for user \"john\" request failed: connection to localhost:"
               in t and "closed before a response" in t for t in syslog.texts()), syslog.texts()


def test_idle_connections_closed_by_the_server_while_the_user_types(login, authelia, certs):
    """Authelia's idle timeout (here 0.3 s) closes both connections opened at
    the start while the user takes longer: each request meeting a closed one
    goes out again on a new connection."""
    authelia.idle_timeout = 0.3
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = login(args(authelia, certs))
    assert l.conv() == ("echo_off", "Password: ")
    assert wait_for(lambda: authelia.handshakes == 2)
    time.sleep(0.8)
    l.answer("pw-john")
    assert l.conv() == ("echo_on", "TOTP Code: ")
    time.sleep(0.8)
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    assert sorted(authelia.paths()) == sorted(["/api/firstfactor", "/api/user/info",
                                               "/api/state", "/api/secondfactor/totp"])


def test_failure_on_a_fresh_connection_is_not_retried(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    authelia.inject("/api/firstfactor", close=True)  # the state request needs a new connection
    authelia.inject("/api/state", drop=True)
    l = password_login(login, authelia, certs, "auth-level=1FA")
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    assert authelia.paths() == ["/api/firstfactor", "/api/state"]
    assert not any("closed before answering" in t for t in syslog.texts())


def test_failure_after_part_of_an_answer_is_not_retried(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    authelia.inject("/api/firstfactor", reset=True)
    l = login_once_connected(login, authelia, certs, "auth-level=1FA", 1)
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    assert authelia.paths() == ["/api/firstfactor"]


# "typing": the connection opened at the start has failed before the password
# is sent (no request to report it to); the request connects again and reports.
@pytest.mark.parametrize("typing", [0, 0.5])
def test_nothing_listening(login, certs, syslog, typing):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    l = login(f"binary={HELPER} url=https://localhost:{port} ca-cert={certs / 'ca.pem'} "
              "auth-level=1FA+2FA")
    l.conv()
    time.sleep(typing)
    l.answer("pw")
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    assert any(f"connection to localhost:{port} refused or unreachable" in t
               for t in syslog.texts()), syslog.texts()


@pytest.fixture
def bad_tls_server(certs):
    from authelia_double import AutheliaDouble
    servers = []

    def make(name):
        d = AutheliaDouble(certs / f"{name}.pem", certs / f"{name}.key")
        d.add_user("john", "pw-john")
        servers.append(d)
        return d
    yield make
    for d in servers:
        d.close()


@pytest.mark.parametrize("cert,ca,line", [
    ("wrong-host", "ca.pem", "not trusted: hostname mismatch"),
    ("self-signed", None, "not trusted: self-signed certificate"),
    ("other-ca-server", "ca.pem", "not trusted: unable to get local issuer certificate"),
])
@pytest.mark.parametrize("typing", [0, 0.5])
def test_untrusted_certificates(login, certs, syslog, bad_tls_server, cert, ca, line, typing):
    d = bad_tls_server(cert)
    ca_arg = f"ca-cert={certs / ca}" if ca else ""
    l = login(f"binary={HELPER} url=https://localhost:{d.port} {ca_arg} auth-level=1FA+2FA")
    l.conv()
    if typing:
        assert wait_for(lambda: d.failed_handshakes == 2)  # both connections opened early
        time.sleep(typing)
    l.answer("pw-john")
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    assert any(line in t for t in syslog.texts()), syslog.texts()
    assert not [r for r in d.requests if r["path"] == "/api/firstfactor"]


def test_http_url_is_refused(login, authelia, certs, syslog):
    l = login(f"binary={HELPER} url=http://localhost:{authelia.port} auth-level=1FA")
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert 'configuration error: URL scheme must be https, got "http"' in syslog.texts()
    assert authelia.requests == []


def test_2fa_with_duo(login, authelia, certs):
    authelia.add_user("john", "pw-john", duo_device=True, method="mobile_push")
    l = login(args(authelia, certs, "auth-level=2FA"), authtok="pw-john")
    assert l.conv() == ("echo_on", DUO_PROMPT)
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"


def test_no_delay_of_our_own_after_authelias_padding(login, authelia, certs):
    """Authelia pads /api/firstfactor to >= 250 ms; the module adds nothing."""
    authelia.add_user("john", "pw-john")
    authelia.pad_first_factor = 0.3
    l = password_login(login, authelia, certs, "auth-level=1FA")
    assert l.result()[0] == "PAM_SUCCESS"
    times = {r["path"]: r["time"] for r in authelia.requests}
    gap = times["/api/state"] - times["/api/firstfactor"]
    assert 0.3 <= gap < 0.5, gap


def test_a_post_body_follows_its_headers_without_a_nagle_stall(login, authelia, certs):
    """evhttp writes a request's headers and body as two TLS records; without
    TCP_NODELAY the body of a POST on a connection past its first exchanges
    (the TOTP code) waits for the server's delayed ACK of the headers, 40 ms
    or more.  The least wait of three logins stays well below that."""
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    authelia.totp_disable_reuse_policy = True
    waits = []
    for _ in range(3):
        authelia.requests.clear()
        l = password_login(login, authelia, certs)
        l.conv()
        l.answer(authelia.totp("john"))
        assert l.result()[0] == "PAM_SUCCESS"
        waits += [r["body_wait"] for r in authelia.requests
                  if r["path"] == "/api/secondfactor/totp"]
    assert len(waits) == 3
    assert min(waits) < 0.035, waits


def test_sudo_style_consumer_without_rhost(login, authelia, certs, syslog):
    """sudo, su and login set no PAM_RHOST: no socket to watch, the same flow."""
    authelia.add_user("john", "pw-john", totp=True)
    l = password_login(login, authelia, certs, "auth-level=1FA+2FA")
    assert l.conv() == ("echo_on", "TOTP Code: ")
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    assert any("rhost=-" in t and "client-watch=off" in t for t in syslog.texts())
