"""The OAuth2 Device Authorization flow and its identity binding: the real
helper behind the real shim against the double's OIDC endpoints, with every
scripted outcome and every attack the guide's binding section defends
against.  Each asserts the PAM code, the log line, and that the double saw
no poll after the decision."""
import socket
import time

import pytest

from conftest import HELPER, wait_gone

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
    assert paths.index("/.well-known/openid-configuration") < paths.index("/api/oidc/userinfo")
    assert len({r["conn"] for r in authelia.requests}) == 1
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
    assert gone is not None and gone < 0.1
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
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
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
