"""Password, TOTP and Duo flows: the real helper behind the real shim in real
PAM transactions against the Authelia test double.  Each test checks the PAM
code, the prompts the user saw, the log lines and what the double received."""
import socket
import threading
import time

import pytest

from conftest import HELPER, wait_gone

DUO_PROMPT = "Duo Push sent, approve on your device, then press Enter: "


def args(authelia, certs, extra=""):
    return (f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} debug {extra}").strip()


def password_login(login, authelia, certs, extra="", password="pw-john", **kw):
    l = login(args(authelia, certs, extra), **kw)
    assert l.conv() == ("echo_off", "Password: ")
    l.answer(password)
    return l


def api_paths(authelia):
    return [p for p in authelia.paths() if p != "/api/health"]


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
    assert api_paths(authelia) == ["/api/firstfactor", "/api/state"]
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
    assert api_paths(authelia) == ["/api/firstfactor"]


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
                'session confirmed: user "john" authentication_level=2']
    for line in expected:
        assert line in texts, texts
    assert api_paths(authelia) == ["/api/firstfactor", "/api/user/info",
                                   "/api/secondfactor/totp", "/api/state"]
    ui = next(r for r in authelia.requests if r["path"] == "/api/user/info")
    assert ui["method"] == "POST"


def test_one_tls_handshake_per_login_and_cookies_follow_every_rotation(login, authelia, certs):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    assert authelia.handshakes == 1 and authelia.connections == 1
    assert len({r["conn"] for r in authelia.requests}) == 1
    # The connection was opened before the password was typed.
    assert authelia.requests[0]["path"] == "/api/health"
    by_path = {r["path"]: r for r in authelia.requests}
    assert "cookie" not in by_path["/api/firstfactor"]["headers"]
    # Each request carries the cookie the previous factor set (rotated after 1FA and TOTP).
    sessions = [by_path[p]["headers"]["cookie"] for p in
                ("/api/user/info", "/api/secondfactor/totp", "/api/state")]
    assert sessions[0] == sessions[1] != sessions[2]
    assert all(c.startswith("authelia_session=") and len(c) == len("authelia_session=") + 32
               for c in sessions)


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
    assert "/api/state" not in authelia.paths()


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
    conn.close()
    gone = wait_gone(helper, 1.0)
    assert gone is not None and gone < 0.1
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

@pytest.mark.parametrize("path,injection,code,line", [
    ("/api/firstfactor", dict(status=200, body=b"{not json"), "PAM_AUTHINFO_UNAVAIL",
     'first factor for user "john": malformed response: malformed JSON'),
    ("/api/firstfactor", dict(status=200, body=b'{"status":1}'), "PAM_AUTHINFO_UNAVAIL",
     'first factor for user "john": malformed response: field status is a number, not a string'),
    ("/api/firstfactor", dict(status=200, body=b'["OK"]'), "PAM_AUTHINFO_UNAVAIL",
     "malformed JSON: an array, not an object"),
    ("/api/firstfactor", dict(status=200, body=b'{"status":"KO","status":"OK"}'),
     "PAM_AUTHINFO_UNAVAIL", "malformed JSON: repeated key"),
    ("/api/firstfactor", dict(status=200, body=b'{"status":"KO","message":"Operation failed."}'),
     "PAM_AUTH_ERR", 'first factor authentication failed: first factor for user "john" refused '
     '(response status=200 status_field="KO")'),
    ("/api/firstfactor", dict(status=200, body=b'{"status":"OK","data":[]}'),
     "PAM_AUTHINFO_UNAVAIL", "field data is an array, not an object"),
    ("/api/user/info", dict(status=200, body=b'{"status":"OK","data":{"method":"totp",'
                            b'"has_totp":"yes","has_webauthn":false,"has_duo":false}}'),
     "PAM_AUTHINFO_UNAVAIL", "user info fetch failed: user info: malformed response: field data.has_totp is a string, not a boolean"),
    ("/api/user/info", dict(status=200, body=b'{"status":"OK","data":{"method":"totp"}}'),
     "PAM_AUTHINFO_UNAVAIL", "user info fetch failed: user info: malformed response"),
    ("/api/user/info", dict(status=200, body=b'{"status":"OK","data":{"method":"sms",'
                            b'"has_totp":true,"has_webauthn":false,"has_duo":false}}'),
     "PAM_AUTHINFO_UNAVAIL", "user info fetch failed: user info: malformed response: unknown data.method"),
    ("/api/firstfactor", dict(status=200, body=b'{"status":"OK","x":"' + b"a" * 100000 + b'"}'),
     "PAM_AUTHINFO_UNAVAIL", "response larger than 64 KiB"),
    ("/api/firstfactor", dict(status=302, headers={"Location": "https://evil.example/"}),
     "PAM_AUTHINFO_UNAVAIL", "unexpected redirect (response status=302)"),
    ("/api/firstfactor", dict(status=503, body=b"Service Unavailable", content_type="text/plain"),
     "PAM_AUTHINFO_UNAVAIL", "Authelia failed (response status=503)"),
    ("/api/firstfactor", dict(status=404, body=b"404 Not Found", content_type="text/plain"),
     "PAM_AUTH_ERR", "refused (response status=404)"),
    ("/api/firstfactor", dict(reset=True), "PAM_AUTHINFO_UNAVAIL", "request failed"),
    ("/api/firstfactor", dict(raw=b"SSH-2.0-not-http\r\n\r\n"), "PAM_AUTHINFO_UNAVAIL",
     "request failed"),
    ("/api/state", dict(status=200, body=b'{"status":"OK","data":{"username":"john",'
                        b'"authentication_level":"2"}}'),
     "PAM_AUTHINFO_UNAVAIL", "field data.authentication_level is a string, not an integer"),
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
    authelia.add_user("john", "pw-john")
    authelia.inject("/api/firstfactor", delay=10)
    l = password_login(login, authelia, certs, "auth-level=1FA timeout=2")
    name, ms = l.result()
    assert name == "PAM_AUTHINFO_UNAVAIL"
    assert ms < 3000
    assert "timed out after 2 s waiting for Authelia (state first_factor)" in syslog.texts()


def test_server_closing_the_connection_means_a_new_verified_handshake(login, authelia, certs):
    authelia.add_user("john", "pw-john", totp=True)
    authelia.inject("/api/firstfactor", close=True)
    l = password_login(login, authelia, certs)
    l.conv()
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    assert authelia.handshakes == 2


def test_nothing_listening(login, certs, syslog):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    l = login(f"binary={HELPER} url=https://localhost:{port} ca-cert={certs / 'ca.pem'} "
              "auth-level=1FA")
    l.conv()
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
def test_untrusted_certificates(login, certs, syslog, bad_tls_server, cert, ca, line):
    d = bad_tls_server(cert)
    ca_arg = f"ca-cert={certs / ca}" if ca else ""
    l = login(f"binary={HELPER} url=https://localhost:{d.port} {ca_arg} auth-level=1FA")
    l.conv()
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


def test_sudo_style_consumer_without_rhost(login, authelia, certs, syslog):
    """sudo, su and login set no PAM_RHOST: no socket to watch, the same flow."""
    authelia.add_user("john", "pw-john", totp=True)
    l = password_login(login, authelia, certs, "auth-level=1FA+2FA")
    assert l.conv() == ("echo_on", "TOTP Code: ")
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    assert any("rhost=-" in t and "client-watch=off" in t for t in syslog.texts())
