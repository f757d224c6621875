"""The OAuth2 Device Authorization flow and its identity binding: the real
helper behind the real shim against the double's OIDC endpoints, with every
scripted outcome and every attack the guide's binding section defends
against.  Each asserts the PAM code, the log line, and that the double saw
no poll after the decision."""
import socket
import time

import pytest

from conftest import GONE_AT_ONCE, HELPER, wait_gone

APPROVE = "Approve on your device, then press Enter."
SCAN = "Scan the QR code below or visit the URL to approve."  # the reference module's words


def device_args(authelia, certs, extra=""):
    return (f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} debug "
            f"method-priority=device_authorization,user oauth2-client-id=pam-authelia "
            f"oauth2-client-secret=s3cret-client {extra}").strip()


def start(login, authelia, certs, extra="", interval=1, **kw):
    authelia.oidc.interval = interval
    return login(device_args(authelia, certs, extra), **kw)


def polls(authelia):
    return [r for r in authelia.requests if r["path"] == "/api/oidc/token"]


def assert_no_poll_after(authelia, seconds=1.2):
    before = len(polls(authelia))
    time.sleep(seconds)
    assert len(polls(authelia)) == before


def test_approved_by_the_right_user(login, authelia, certs, syslog):
    l = start(login, authelia, certs)
    style, text = l.conv()
    assert style == "echo_on"  # no password prompt: device first
    lines = text.split("\n")
    url = next(r for r in authelia.requests if r["path"] == "/api/oidc/device-authorization")
    # URL and code readable first, then the QR code, then what to do
    assert lines[0] == SCAN
    assert lines[1].startswith(f"https://localhost:{authelia.port}/consent/openid/"
                               "device-authorization?user_code=")
    code = lines[1].rsplit("=", 1)[1]
    assert lines[2] == f"Code: {code}"
    assert lines[-1] == APPROVE
    assert set("".join(lines[3:-1])) <= set(" \u2580\u2584\u2588")  # the QR code
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    texts = syslog.texts()
    for line in ["device authorization response status=200",
                 'device identity verified: claim "authelia.pam.username" == pam username "john"']:
        assert line in texts, texts
    paths = authelia.paths()
    assert "/api/firstfactor" not in paths  # no password, no first factor
    # Five requests on two connections: discovery and the JWKS on the second
    # one while the device grant is asked for on the first, so that after the
    # approval only the token and userinfo requests remain.
    assert sorted(paths) == sorted(["/api/oidc/device-authorization",
                                    "/.well-known/openid-configuration", "/jwks.json",
                                    "/api/oidc/token", "/api/oidc/userinfo"])
    assert authelia.handshakes == 2
    by_path = {r["path"]: r for r in authelia.requests}
    assert by_path["/.well-known/openid-configuration"]["conn"] != \
        by_path["/api/oidc/device-authorization"]["conn"]
    assert paths.index("/jwks.json") < paths.index("/api/oidc/userinfo")
    dev = next(r for r in authelia.requests if r["path"] == "/api/oidc/device-authorization")
    assert dev["body"] == (b"client_id=pam-authelia&client_secret=s3cret-client&"
                           b"scope=openid+authelia.pam")
    ui = next(r for r in authelia.requests if r["path"] == "/api/oidc/userinfo")
    assert ui["headers"]["authorization"].startswith("Bearer authelia_at_")
    assert_no_poll_after(authelia)


def test_client_secret_basic(login, authelia, certs):
    authelia.oidc.clients["pam-authelia"].auth_method = "client_secret_basic"
    l = start(login, authelia, certs, "oauth2-client-auth-method=client_secret_basic")
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    dev = next(r for r in authelia.requests if r["path"] == "/api/oidc/device-authorization")
    assert dev["headers"]["authorization"].startswith("Basic ")
    assert b"client_secret" not in dev["body"]


def test_public_client(login, authelia, certs):
    authelia.oidc.clients["pam-authelia"] = type(authelia.oidc.clients["pam-authelia"])(
        "pam-authelia", None, "none")
    l = login(f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} "
              "method-priority=device_authorization oauth2-client-id=pam-authelia")
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"


def test_client_auth_method_mismatch_is_a_configuration_error(login, authelia, certs, syslog):
    # Authelia's default for confidential clients is client_secret_basic.
    authelia.oidc.clients["pam-authelia"].auth_method = "client_secret_basic"
    l = start(login, authelia, certs)
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert any("device authorization response status=401" in t for t in syslog.texts())


def test_after_password_and_user_info(login, authelia, certs, syslog):
    """method-priority selecting the device flow after the first factor."""
    authelia.add_user("john", "pw-john", webauthn=True, method="webauthn")
    authelia.oidc.interval = 1
    l = login(f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} debug "
              "oauth2-client-id=pam-authelia oauth2-client-secret=s3cret-client")
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("pw-john")
    style, text = l.conv()
    assert text.endswith(APPROVE)
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    assert 'selected "device_authorization" (from priority entry "user")' in syslog.texts()


def test_qr_off(login, authelia, certs):
    l = start(login, authelia, certs, "qr=off")
    _, text = l.conv()
    assert text.count("\n") == 3 and "\u2588" not in text
    assert text.startswith("Visit the URL to approve.\nhttps://")  # no QR code to scan
    assert text.endswith(APPROVE)
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"


def test_polling_starts_without_enter(login, authelia, certs):
    authelia.oidc.device_script = {"action": "approve", "user": "john", "after": 1.5}
    l = start(login, authelia, certs)
    helper = l.wait_helper()
    l.conv()
    gone = wait_gone(helper, 6.0)  # approved and verified without the user pressing Enter
    assert gone is not None
    assert len(polls(authelia)) >= 2
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"


def test_enter_never_polls_sooner_than_the_interval(login, authelia, certs):
    """RFC 8628 3.4: at least `interval` between polls; a user pressing Enter
    again and again must not hammer the token endpoint (or earn slow_down)."""
    authelia.oidc.device_script = {"action": "never"}
    l = start(login, authelia, certs, interval=30)
    l.conv()
    time.sleep(0.3)
    for _ in range(3):
        l.answer("")
        time.sleep(0.2)
    assert len(polls(authelia)) == 1
    l.kill()


def test_enter_while_pending_gets_a_not_yet_prompt(login, authelia, certs):
    authelia.oidc.device_script = {"action": "never"}
    l = start(login, authelia, certs, interval=1)
    l.conv()
    l.answer("")  # the next pending answer brings the "not yet" prompt
    assert l.conv(timeout=3) == ("echo_on", "Not approved yet. " + APPROVE)
    before = len(polls(authelia))
    l.answer("")
    assert l.conv(timeout=3) == ("echo_on", "Not approved yet. " + APPROVE)
    assert len(polls(authelia)) == before + 1  # one poll per Enter, an interval apart
    times = [r["time"] for r in polls(authelia)]
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:]))
    l.kill()


@pytest.mark.parametrize("knob,expect_polls", [("slow_down_once", 3), ("token_429_once", 3)])
def test_slow_down_and_429_back_off(login, authelia, certs, syslog, knob, expect_polls):
    setattr(authelia.oidc, knob, True)
    authelia.oidc.device_script = {"action": "approve", "user": "john", "after": 0.5}
    l = start(login, authelia, certs)
    l.conv()
    helper = l.wait_helper()
    assert wait_gone(helper, 12.0) is not None
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    times = [r["time"] for r in polls(authelia)]
    assert times[1] - times[0] >= 5.5  # interval 1 + 5


def test_denied(login, authelia, certs, syslog):
    authelia.oidc.device_script = {"action": "deny", "after": 0.2}
    l = start(login, authelia, certs)
    l.conv()
    helper = l.wait_helper()
    assert wait_gone(helper, 5.0) is not None
    assert "device authorization denied by user" in syslog.texts()
    assert_no_poll_after(authelia)
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"


def test_server_expired_token(login, authelia, certs, syslog):
    authelia.oidc.expired_token_once = True
    l = start(login, authelia, certs)
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert "device authorization token expired" in syslog.texts()
    assert_no_poll_after(authelia)


def test_our_own_deadline_at_expires_in(login, authelia, certs, syslog):
    """Authelia keeps answering authorization_pending after the code expired."""
    authelia.oidc.device_script = {"action": "never"}
    authelia.oidc.expires_in = 2
    l = start(login, authelia, certs)
    l.conv()
    helper = l.wait_helper()
    gone = wait_gone(helper, 5.0)
    assert gone is not None and gone < 3.0
    assert ("device authorization token expired: device authorization expired before user "
            "approval (expires_in passed)") in syslog.texts()
    assert_no_poll_after(authelia)
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"


def test_never_approved_hits_the_exchange_timeout(login, authelia, certs, syslog):
    authelia.oidc.device_script = {"action": "never"}
    l = start(login, authelia, certs, "timeout=2")
    l.conv()
    helper = l.wait_helper()
    assert wait_gone(helper, 4.0) is not None
    assert "timed out after 2 s waiting for the user (state device_poll)" in syslog.texts()
    assert_no_poll_after(authelia)
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"


def test_client_disconnect_stops_polling(login, authelia, certs, syslog):
    authelia.oidc.device_script = {"action": "never"}
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    l = start(login, authelia, certs, rhost="127.0.0.1", connect=listener.getsockname()[1])
    conn, _ = listener.accept()
    helper = l.wait_helper()
    l.conv()
    time.sleep(1.2)
    conn.close()
    gone = wait_gone(helper, 1.0)
    assert gone is not None and gone < GONE_AT_ONCE
    assert "client disconnected in state device_poll; login abandoned" in syslog.texts()
    assert_no_poll_after(authelia, 1.5)
    listener.close()


@pytest.mark.parametrize("user,line", [
    ("jane", 'authelia identity "jane" does not match pam username "john"'),
])
def test_approved_by_another_user(login, authelia, certs, syslog, user, line):
    authelia.oidc.device_script = {"action": "approve", "user": user, "after": 0.0}
    l = start(login, authelia, certs)
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert line in syslog.texts()
    assert_no_poll_after(authelia)


@pytest.mark.parametrize("attack,line", [
    ("alg_none", 'id token verification failed: algorithm "none" is not RS256'),
    ("hs256_pubkey", 'id token verification failed: algorithm "HS256" is not RS256'),
    ("wrong_aud", 'id token verification failed: audience does not contain "pam-authelia"'),
    ("wrong_iss", "id token verification failed: issuer is not https://localhost:"),
    ("expired", "id token verification failed: token expired or has no exp"),
    ("iat_future", "id token verification failed: token issued in the future or has no iat"),
    ("unknown_kid", 'id token verification failed: unknown key id "zzzzzz-rs256"'),
    ("bad_signature", "id token verification failed: bad signature"),
    ("wrong_azp", 'id token verification failed: authorized party is not "pam-authelia"'),
    ("nbf_future", "id token verification failed: token not valid yet (nbf in the future)"),
    ("amr_missing", "id token verification failed: token has no amr: cannot tell that the "
                    "approver used two factors"),
    ("auth_time_missing", "id token verification failed: token has no auth_time"),
    ("auth_time_future", "id token verification failed: auth_time lies in the future"),
])
def test_id_token_attacks(login, authelia, certs, syslog, attack, line):
    authelia.oidc.id_token_attack = attack
    l = start(login, authelia, certs)
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert any(t.startswith(line) for t in syslog.texts()), syslog.texts()
    assert "/api/oidc/userinfo" not in authelia.paths()
    assert_no_poll_after(authelia)


@pytest.mark.parametrize("amr,ok", [
    (["pwd", "kba", "otp", "mfa"], True),   # password + TOTP, as Authelia reports it
    (["pwd", "kba", "sms", "mca", "mfa"], True),  # password + Duo
    (["pwd", "otp"], True),                  # a knowledge and a possession factor
    (["pop", "hwk", "user", "pin"], True),   # WebAuthn with a PIN
    (["mfa"], True),
    (["pwd", "kba"], False),                 # the password alone
    (["hwk", "pop", "user"], False),         # a security key without user verification
    (["otp"], False),
    ([], False),
])
def test_the_approver_must_have_used_two_factors(login, authelia, certs, syslog, amr, ok):
    """The device flow stands in for the second factor (or both): an approval
    from a session that used the password alone must not pass at
    auth-level=1FA+2FA."""
    authelia.oidc.device_script = {"action": "approve", "user": "john", "after": 0.0, "amr": amr}
    l = start(login, authelia, certs)
    l.conv()
    l.answer("")
    assert l.result()[0] == ("PAM_SUCCESS" if ok else "PAM_AUTH_ERR")
    if not ok:
        assert any(t.startswith("id token verification failed: amr [")
                   and t.endswith('does not show two factors ("mfa", or a knowledge and a '
                                  'possession factor)') for t in syslog.texts()), syslog.texts()
        assert "/api/oidc/userinfo" not in authelia.paths()


@pytest.mark.parametrize("age,max_age,ok", [
    (30 * 86400, None, False),  # the token: approved from a month-old session
    (3700, None, False),        # default device-max-age=3600
    (3000, None, True),
    (700, 600, False),
    (500, 600, True),
])
def test_device_max_age_bounds_the_approvers_authentication(login, authelia, certs, syslog,
                                                            age, max_age, ok):
    authelia.oidc.device_script = {"action": "approve", "user": "john", "after": 0.0,
                                   "auth_age": age}
    l = start(login, authelia, certs, f"device-max-age={max_age}" if max_age else "")
    l.conv()
    l.answer("")
    assert l.result()[0] == ("PAM_SUCCESS" if ok else "PAM_AUTH_ERR")
    if not ok:
        limit = max_age or 3600
        assert any(t.startswith("id token verification failed: the approver authenticated ")
                   and t.endswith(f"s ago, more than device-max-age={limit}")
                   for t in syslog.texts()), syslog.texts()


def test_device_flow_after_password(login, authelia, certs, syslog):
    """device-flow=after-password: the Authelia password first, the device
    flow only as the second factor; nobody who merely knows a user name can
    put an approval request on that user's phone."""
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = start(login, authelia, certs, "device-flow=after-password")
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("pw-john")
    style, text = l.conv()
    assert style == "echo_on" and text.endswith(APPROVE)
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    paths = authelia.paths()
    assert paths.index("/api/firstfactor") < paths.index("/api/oidc/device-authorization")
    assert 'selected "device_authorization" (from priority entry "device_authorization")' \
        in syslog.texts()


def test_device_flow_after_a_wrong_password_never_starts(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True)
    l = start(login, authelia, certs, "device-flow=after-password")
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("guess")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert "/api/oidc/device-authorization" not in authelia.paths()


def test_device_flow_after_password_still_checks_the_approval(login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john")
    authelia.oidc.device_script = {"action": "approve", "user": "john", "after": 0.0,
                                   "amr": ["pwd", "kba"]}
    l = start(login, authelia, certs, "device-flow=after-password")
    l.conv()
    l.answer("pw-john")
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert any("does not show two factors" in t for t in syslog.texts())


def test_device_flow_option_is_validated(login, authelia, certs, syslog):
    l = start(login, authelia, certs, "device-flow=second")
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert any(t.endswith('invalid device-flow "second": must be first or after-password')
               for t in syslog.texts()), syslog.texts()


@pytest.mark.parametrize("attack,ending", [
    ("weak_key", "is shorter than 2048 bits"),
    ("duplicate_kid", "is in the JWKS twice"),
])
def test_jwks_attacks(login, authelia, certs, syslog, attack, ending):
    authelia.oidc.id_token_attack = attack
    l = start(login, authelia, certs)
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert any(t.startswith("id token verification failed: key") and t.endswith(ending)
               for t in syslog.texts()), syslog.texts()
    assert "/api/oidc/userinfo" not in authelia.paths()


@pytest.mark.parametrize("attack,line", [
    ("sub_differs", "userinfo sub does not match the id token's: token substitution?"),
    ("claim_missing", 'claim "authelia.pam.username" missing from userinfo response'),
    ("claim_empty", 'claim "authelia.pam.username" is not a non-empty string'),
    ("claim_not_string", 'claim "authelia.pam.username" is not a non-empty string'),
    ("claim_case", 'authelia identity "JOHN" does not match pam username "john"'),
    # "john\u0000@evil.example" read as a C string is "john"
    ("claim_nul", "userinfo response: malformed JSON: a string holds \\u0000"),
])
def test_userinfo_attacks(login, authelia, certs, syslog, attack, line):
    authelia.oidc.userinfo_attack = attack
    l = start(login, authelia, certs)
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert line in syslog.texts(), syslog.texts()


def test_discovery_issuer_must_be_url(login, authelia, certs, syslog):
    authelia.oidc.discovery_issuer = "https://evil.example"
    l = start(login, authelia, certs)
    # Discovery goes out with the device grant: the login may end before the prompt.
    line = l._line(5)
    if line.startswith("CONV "):
        l.answer("")
        line = l._line(5)
    assert line.startswith("RESULT PAM_AUTH_ERR "), line
    assert any('OIDC discovery issuer "https://evil.example" does not match url' in t
               for t in syslog.texts())


@pytest.mark.parametrize("attack,line", [
    ("other_host", "verification URL is not on the host of url"),
    ("http", "verification URL is not https"),
    ("userinfo", "verification URL has a user name"),
    ("too_long", "verification URL is longer than 2 KiB"),
])
def test_verification_url_attacks_fail_before_showing_anything(login, authelia, certs, syslog,
                                                              attack, line):
    authelia.oidc.verification_attack = attack
    l = start(login, authelia, certs)
    assert l.result()[0] == "PAM_AUTH_ERR"  # no prompt was shown
    assert f"device authorization returned an invalid verification URL: {line}" in syslog.texts()
    assert polls(authelia) == []


def test_scope_option_reaches_the_server(login, authelia, certs):
    authelia.oidc.clients["pam-authelia"].scopes = ("openid", "authelia.pam", "email")
    l = start(login, authelia, certs, "oauth2-scope=openid,authelia.pam,email")
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    dev = next(r for r in authelia.requests if r["path"] == "/api/oidc/device-authorization")
    assert dev["body"].endswith(b"scope=openid+authelia.pam+email")


def _qr_to_pgm(lines, path, scale=4):
    """Half blocks back to modules (block = light), then a PGM image."""
    top = {" ": 0, "\u2584": 0, "\u2580": 1, "\u2588": 1}
    bottom = {" ": 0, "\u2584": 1, "\u2580": 0, "\u2588": 1}
    rows = []
    for line in lines:
        rows.append([top[c] for c in line])
        rows.append([bottom[c] for c in line])
    width, height = len(rows[0]) * scale, len(rows) * scale
    pixels = bytearray()
    for row in rows:
        line = bytearray()
        for light in row:
            line += bytes([255 if light else 0]) * scale
        pixels += bytes(line) * scale
    path.write_bytes(f"P5 {width} {height} 255\n".encode() + bytes(pixels))


def test_the_qr_code_decodes_to_the_verification_url(login, authelia, certs, tmp_path):
    import subprocess
    l = start(login, authelia, certs)
    _, text = l.conv()
    lines = text.split("\n")
    url, qr = lines[1], lines[3:-1]
    assert len({len(line) for line in qr}) == 1
    _qr_to_pgm(qr, tmp_path / "qr.pgm")
    out = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "qr.pgm")],
                         capture_output=True, text=True)
    assert out.stdout.strip() == url
    l.kill()


@pytest.mark.parametrize("path,injection,code,line", [
    ("/api/oidc/device-authorization", dict(status=503, body=b"{}"), "PAM_AUTHINFO_UNAVAIL",
     "device authorization response status=503"),
    ("/api/oidc/device-authorization", dict(status=302, headers={"Location": "https://x/"}),
     "PAM_SERVICE_ERR", "device authorization response status=302; is url Authelia's own URL?"),
    ("/api/oidc/device-authorization", dict(status=200, body=b'{"device_code":1}'),
     "PAM_AUTH_ERR", "device authorization: malformed response"),
    ("/api/oidc/token", dict(status=502, body=b"Bad Gateway", content_type="text/plain"),
     "PAM_AUTHINFO_UNAVAIL", "device authorization failed: token response status=502"),
    ("/api/oidc/token", dict(status=307, headers={"Location": "https://x/"}),
     "PAM_SERVICE_ERR", "token request: unexpected redirect (response status=307)"),
    ("/api/oidc/token", dict(status=200, body=b"not json"),
     "PAM_AUTH_ERR", "device authorization failed: malformed token response: "),
    ("/jwks.json", dict(status=500, body=b"{}"), "PAM_AUTHINFO_UNAVAIL",
     "JWKS request failed (response status=500)"),
    ("/jwks.json", dict(status=404, body=b"{}"), "PAM_AUTH_ERR",
     "JWKS request failed (response status=404)"),
    ("/.well-known/openid-configuration", dict(raw=b"garbage\r\n\r\n"), "PAM_AUTH_ERR",
     "OIDC discovery request failed: invalid HTTP response"),
    ("/api/oidc/userinfo", dict(status=503, body=b"{}"), "PAM_AUTHINFO_UNAVAIL",
     "userinfo request failed (response status=503)"),
    ("/api/oidc/userinfo", dict(reset=True), "PAM_AUTHINFO_UNAVAIL",
     "userinfo request failed: "),
])
def test_server_failures_follow_the_result_rule(login, authelia, certs, syslog, path, injection,
                                                code, line):
    """The same rule as the password flows: PAM_AUTHINFO_UNAVAIL only for an
    observed failure to talk to Authelia (5xx, a connection lost), a refusal
    for an answer that cannot be used, PAM_SERVICE_ERR for a redirect."""
    authelia.inject(path, **injection)
    l = start(login, authelia, certs)
    line_seen = l._line(15)
    while line_seen.startswith("CONV "):  # the device prompt: press Enter
        l.answer("")
        line_seen = l._line(15)
    assert line_seen.split(" ")[1] == code
    assert any(line in t for t in syslog.texts()), syslog.texts()
