"""The reference module's texts (authelia/pam) that operators match on, emitted by us with
the same words: README's table "Switching from authelia/pam" lists each, and this file
checks the ones we emit (the prompts are checked in test_flows.py, test_device.py and
test_sshd.py; the identity-binding lines in test_device.py).

Each case is one login against the double; one log line must start with the reference's
words, and our own detail follows on the same line after ": "."""
import pytest

from conftest import HELPER

PASSWORD = "pw-john"


def args(authelia, certs, extra=""):
    return f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} debug {extra}".strip()


def device_args(authelia, certs, extra=""):
    return args(authelia, certs, "method-priority=device_authorization "
                "oauth2-client-id=pam-authelia oauth2-client-secret=s3cret-client " + extra)


def password_then(*replies):
    def converse(l):
        assert l.conv() == ("echo_off", "Password: ")
        l.answer(PASSWORD)
        for reply in replies:
            l.conv()
            l.answer(reply)
    return converse


def nothing(l):
    pass


def enter(l):
    l.conv()
    l.answer("")


def one_line_starting(syslog, words):
    lines = [t for t in syslog.texts() if t.startswith(words)]
    assert len(lines) == 1, syslog.texts()
    return lines[0]


# (reference words, our detail on the same line, set-up, extra module args, conversation, code)
CASES = {
    "first factor refused": (
        "first factor authentication failed",
        ': first factor for user "john" refused (response status=401)',
        lambda a: a.add_user("john", "another password"), "auth-level=1FA",
        password_then(), "PAM_AUTH_ERR"),
    "first factor other 4xx": (
        "first factor authentication failed",
        ': first factor for user "john" refused (response status=400)',
        lambda a: a.inject("/api/firstfactor", status=400, body=b'{"status":"KO"}'),
        "auth-level=1FA", password_then(), "PAM_AUTH_ERR"),
    "first factor rate limited": (
        'first factor for user "john" rate limited by Authelia server, try again later',
        " (response status=429)",
        lambda a: a.rate_limited.add("/api/firstfactor"), "auth-level=1FA", password_then(),
        "PAM_AUTH_ERR"),
    "user info": (
        "user info fetch failed", ": user info refused (response status=403)",
        lambda a: (a.add_user("john", PASSWORD, totp=True),
                   a.inject("/api/user/info", status=403, body=b"403 Forbidden",
                            content_type="text/plain")),
        "", password_then(), "PAM_AUTH_ERR"),
    "no usable method": (
        "no usable 2FA method for this user", "",
        lambda a: a.add_user("john", PASSWORD, webauthn=True, method="webauthn"), "",
        password_then(), "PAM_AUTH_ERR"),
    "TOTP length": (
        "TOTP code must be 6 or 8 digits", ": refused before sending",
        lambda a: a.add_user("john", PASSWORD, totp=True), "", password_then("12345"),
        "PAM_AUTH_ERR"),
    "TOTP refused": (
        "TOTP authentication failed", ": TOTP refused (response status=403)",
        lambda a: a.add_user("john", PASSWORD, totp=True), "", password_then("000000"),
        "PAM_AUTH_ERR"),
    "TOTP request": (
        "TOTP request failed", ": ",
        lambda a: (a.add_user("john", PASSWORD, totp=True),
                   a.inject("/api/secondfactor/totp", reset=True)),
        "", password_then("000000"), "PAM_AUTHINFO_UNAVAIL"),
    "duo refused": (
        "duo push authentication failed", ": duo push refused (response status=401)",
        lambda a: a.add_user("john", PASSWORD, duo_device=True, duo_outcome="deny-push"),
        "method-priority=mobile_push", password_then(""), "PAM_AUTH_ERR"),
    "duo request": (
        "duo push authentication failed", ": no answer while the user was approving (",
        lambda a: (a.add_user("john", PASSWORD, duo_device=True),
                   a.inject("/api/secondfactor/duo", reset=True)),
        # once the push went out, whatever ends it is Authelia's "no" (README, PAM codes)
        "method-priority=mobile_push", password_then(""), "PAM_AUTH_ERR"),
    "configuration": (
        "configuration error", ': invalid auth level "3FA": must be 1FA, 2FA, or 1FA+2FA',
        lambda a: None, "auth-level=3FA", nothing, "PAM_SERVICE_ERR"),
    "device client refused": (
        "failed to initiate device authorization",
        ": device authorization response status=401: check oauth2-client-id",
        lambda a: setattr(a.oidc.clients["pam-authelia"], "secret", "another secret"),
        "DEVICE", nothing, "PAM_SERVICE_ERR"),
    "device verification URL": (
        "device authorization returned an invalid verification URL",
        ": verification URL is not on the host of url",
        lambda a: setattr(a.oidc, "verification_attack", "other_host"), "DEVICE", nothing,
        "PAM_AUTH_ERR"),
    "device denied": (
        "device authorization denied by user", "",
        lambda a: setattr(a.oidc, "device_script", {"action": "deny", "after": 0.0}),
        "DEVICE", enter, "PAM_AUTH_ERR"),
    "device token expired": (
        "device authorization token expired", "",
        lambda a: setattr(a.oidc, "expired_token_once", True),
        "DEVICE", enter, "PAM_AUTH_ERR"),
    "device token error": (
        "device token error", ': device authorization failed: token response status=400 '
                              'error="invalid_grant"',
        lambda a: a.inject("/api/oidc/token", status=400,
                           body=b'{"error":"invalid_grant","error_description":"x"}'),
        "DEVICE", enter, "PAM_AUTH_ERR"),
}


@pytest.mark.parametrize("case", CASES)
def test_reference_words_then_our_detail(login, authelia, certs, syslog, case):
    words, detail, setup, extra, converse, code = CASES[case]
    authelia.oidc.interval = 1
    setup(authelia)
    if extra.startswith("DEVICE"):
        l = login(device_args(authelia, certs, extra[6:]))
    else:
        l = login(args(authelia, certs, extra))
    converse(l)
    assert l.result()[0] == code
    line = one_line_starting(syslog, words)
    assert detail in line[len(words):], line


def test_device_token_response_is_logged_in_the_reference_form(login, authelia, certs, syslog):
    """The reference's debug line "device token response status=400
    error="authorization_pending"", which upstream's suite greps for."""
    authelia.oidc.device_script = {"action": "never"}
    l = login(device_args(authelia, certs, "timeout=2"))
    l.conv()
    assert syslog.wait_for('device token response status=400 error="authorization_pending"')
    l.kill()
