"""The real helper behind the real shim in PAM transactions: configuration
errors with the guide's wording, the first step chosen from auth-level and
method-priority, the password prompt, the whole-exchange timeout, client
disconnects, SIGTERM, logging, and secrets kept off /proc."""
import os
import signal
import socket
import time

import pytest

from conftest import GONE_AT_ONCE, HELPER, process_alive, wait_gone

# Nothing listens on port 1: whatever reaches the network fails at once.
BASE = f"binary={HELPER} url=https://127.0.0.1:1"
LOG_AUTHPRIV = 10 << 3


@pytest.mark.parametrize("args,message", [
    (f"binary={HELPER}", "--url is required"),
    (f"binary={HELPER} url=http://auth.example.com", 'URL scheme must be https, got "http"'),
    (f"binary={HELPER} url=https://user:pw@auth.example.com",
     "URL must not contain a user name or password"),
    (f"{BASE} auth-level=3FA", 'invalid auth level "3FA": must be 1FA, 2FA, or 1FA+2FA'),
    (f"{BASE} auth-level=1fa", 'invalid auth level "1fa": must be 1FA, 2FA, or 1FA+2FA'),
    (f"{BASE} method-priority=totp,sms",
     'invalid method "sms" in --method-priority: must be totp, mobile_push, '
     'device_authorization, or user'),
    (f"{BASE} method-priority=totp,device_authorization",
     "--method-priority includes device_authorization but --oauth2-client-id is not set"),
    (f"{BASE} oauth2-scope=authelia.pam,email", "--oauth2-scope must include openid"),
    (f"{BASE} oauth2-scope=openid,profile", "--oauth2-scope must include authelia.pam"),
    (f"{BASE} oauth2-scope=,,", "--oauth2-scope must not be empty"),
    (f"{BASE} ca-cert=/nonexistent/ca.pem", "failed to read CA certificate /nonexistent/ca.pem"),
    (f"{BASE} ca-cert=/etc/hostname", "failed to read CA certificate /etc/hostname"),
    (f"{BASE} cookie-name=a;b", 'invalid cookie-name "a;b"'),
    (f"{BASE} qr=yes", 'invalid qr "yes": must be on or off'),
    (f"{BASE} oauth2-client-id=c oauth2-client-auth-method=basic",
     'invalid oauth2-client-auth-method "basic": must be client_secret_post, '
     "client_secret_basic, or none"),
    (f"{BASE} oauth2-client-id=c oauth2-client-auth-method=client_secret_basic",
     "oauth2-client-auth-method=client_secret_basic needs oauth2-client-secret"),
    (f"{BASE} oauth2-client-id=c oauth2-client-secret=s oauth2-client-auth-method=none",
     "oauth2-client-auth-method=none is for public clients: remove oauth2-client-secret"),
])
def test_configuration_errors_fail_before_any_prompt(login, syslog, args, message):
    l = login(args)
    name, _ = l.result()
    assert name == "PAM_SERVICE_ERR"
    assert message in "\n".join(syslog.texts()), syslog.texts()


def test_log_lines_go_to_authpriv_with_ident_pam_authelia(login, syslog):
    login(f"{BASE} auth-level=3FA").result()
    assert syslog.texts()
    with syslog.lock:
        line = next(l for l in syslog.lines if l["ident"] == "pam_authelia")
    assert line["priority"] == LOG_AUTHPRIV | 3  # authpriv.err
    assert line["pid"]


def test_password_prompt_then_first_factor(login, syslog):
    l = login(f"{BASE} auth-level=1FA+2FA debug")
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("correct horse")
    name, _ = l.result()
    assert name == "PAM_AUTHINFO_UNAVAIL"  # nobody listens
    texts = syslog.texts()
    # (debug is known once the options are read, so the first transition is not logged)
    for line in ["state receive_config -> choose_first_step",
                 "state choose_first_step -> password_prompt",
                 "state password_prompt -> first_factor",
                 'first step password_prompt (auth-level=1FA+2FA, first priority entry "user")',
                 "POST https://127.0.0.1:1/api/firstfactor",
                 'first factor for user "john" request failed: connection to 127.0.0.1:1 '
                 "refused or unreachable"]:
        assert line in texts, texts
    assert not any("correct horse" in t for t in texts)


def test_debug_lines_only_with_debug(login, syslog):
    l = login(f"{BASE}")
    l.conv()
    l.answer("pw")
    l.result()
    texts = syslog.texts()
    assert any("refused or unreachable" in t for t in texts), texts
    assert not any(" -> " in t or t.startswith("login for user") for t in texts), texts


@pytest.mark.parametrize("level", ["1FA", "1FA+2FA"])
def test_levels_that_ask_for_the_password(login, level):
    l = login(f"{BASE} auth-level={level}")
    assert l.conv() == ("echo_off", "Password: ")


def test_2fa_uses_the_stack_password_without_prompting(login, syslog):
    l = login(f"{BASE} auth-level=2FA debug", authtok="local-pw")
    name, _ = l.result()  # no further conversation message
    assert name == "PAM_AUTHINFO_UNAVAIL"
    assert "state choose_first_step -> first_factor" in syslog.texts()


def test_2fa_without_a_stack_password_is_a_configuration_error(login, syslog):
    name, _ = login(f"{BASE} auth-level=2FA").result()
    assert name == "PAM_SERVICE_ERR"
    assert ("auth-level=2FA needs the password from a module above (PAM_AUTHTOK is not set; "
            "put pam_unix.so before pam_authelia.so)") in syslog.texts()


@pytest.mark.parametrize("level", ["2FA", "1FA+2FA"])
def test_device_authorization_first_asks_for_no_password(login, syslog, level):
    name, _ = login(f"{BASE} auth-level={level} debug oauth2-client-id=pam "
                    "method-priority=device_authorization,user").result()
    assert name == "PAM_AUTHINFO_UNAVAIL"  # nobody listens; but no prompt came first
    assert "state choose_first_step -> device_authorization" in syslog.texts()


def test_1fa_ignores_method_priority(login):
    l = login(f"{BASE} auth-level=1FA oauth2-client-id=pam method-priority=device_authorization")
    assert l.conv() == ("echo_off", "Password: ")


def test_empty_password_is_refused_without_a_request(login, syslog):
    l = login(BASE)
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert 'first factor authentication failed: empty password for user "john"' in syslog.texts()


def test_conversation_failure_at_the_password_prompt(login, syslog):
    l = login(BASE)
    l.conv()
    l.close_stdin()
    assert l.result()[0] == "PAM_CONV_ERR"
    assert "conversation failed at the password prompt" in syslog.texts()


def test_timeout_covers_user_input(login, syslog):
    """timeout bounds the whole exchange: a user who never answers is refused
    (PAM_AUTH_ERR, not AUTHINFO_UNAVAIL, so [authinfo_unavail=ignore] stacks
    cannot be bypassed by waiting)."""
    l = login(f"{BASE} timeout=1")
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    gone = wait_gone(helper, 3.0)
    assert gone is not None and gone < 1.5
    assert syslog.wait_for("timed out after 1 s waiting for the user (state password_prompt)")
    l.answer("too late")
    assert l.result()[0] == "PAM_AUTH_ERR"


def _client_pair(family=socket.AF_INET):
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    listener.listen(1)
    return listener


@pytest.mark.parametrize("family,rhost", [
    (socket.AF_INET, "127.0.0.1"),
    (socket.AF_INET, "::ffff:127.0.0.1"),
    (socket.AF_INET6, "::1"),
])
def test_client_disconnect_ends_the_helper_at_once(login, syslog, family, rhost):
    listener = _client_pair(family)
    l = login(f"{BASE} debug", rhost=rhost, connect=listener.getsockname()[1])
    conn, _ = listener.accept()
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    assert syslog.wait_for("client-watch=on")
    conn.close()  # the SSH client goes away
    gone = wait_gone(helper, 1.0)
    assert gone is not None and gone < GONE_AT_ONCE, gone
    assert syslog.wait_for("client disconnected in state password_prompt; login abandoned")
    l.answer("x")
    assert l.result()[0] == "PAM_ABORT"
    listener.close()


def test_sigterm_ends_the_helper_at_once(login, syslog):
    l = login(BASE)
    helper = l.wait_helper()
    l.conv()
    os.kill(helper, signal.SIGTERM)
    gone = wait_gone(helper, 1.0)
    assert gone is not None and gone < GONE_AT_ONCE
    assert syslog.wait_for("stopped by signal Terminated in state password_prompt; login abandoned")
    l.answer("x")
    assert l.result()[0] == "PAM_ABORT"


def test_helper_dies_with_the_pam_process(login):
    """PR_SET_PDEATHSIG: if sshd's PAM process dies, the helper follows."""
    l = login(BASE)
    helper = l.wait_helper()
    l.conv()
    l.proc.kill()
    gone = wait_gone(helper, 1.0)
    assert gone is not None and gone < GONE_AT_ONCE


def _proc_texts():
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for name in ("cmdline", "environ"):
            try:
                out.append(open(f"/proc/{pid}/{name}", "rb").read())
            except OSError:
                pass
    return b"\n".join(out)


def test_no_secret_in_any_proc_cmdline_or_environ(login):
    secret = b"CLIENT-SECRET-4f9a1c"
    l = login(f"{BASE} oauth2-client-id=pam oauth2-client-secret={secret.decode()}",
              )
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    assert process_alive(helper)
    assert secret not in _proc_texts()
    l.answer("x")
    l.result()


def test_2fa_stack_password_not_in_proc(login, tmp_path):
    """The stack password travels over the channel; the helper is checked while
    it is alive (timeout makes it wait at nothing: it fails at once, so the
    check runs against the stand-in-free real process list right away)."""
    secret = b"STACK-PASSWORD-77e1"
    l = login(f"{BASE} auth-level=2FA", authtok=secret.decode())
    assert secret not in _proc_texts()
    l.result()
