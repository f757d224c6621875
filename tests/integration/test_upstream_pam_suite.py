"""Authelia's own PAM suite, ported: every test of internal/suites/suite_pam_test.go in
authelia/authelia (its newest version, eight tests), run through the real sshd
(sshd_harness.py) against the Authelia test double (authelia_double.py).

The assertions are upstream's, verbatim: the same log substrings, prompt substrings and
outcomes.  The set-up maps upstream's onto ours:

- Authelia (internal/suites/PAM/configuration.yml and users.yml): served by the double as
  https://login.example.com:8080, the URL upstream's PAM lines use and its assertions
  name.  login.example.com is a line in /etc/hosts (a bind mount in the test run's private
  mount namespace) pointing at a random 127.x.y.z, so port 8080 cannot collide with
  another run; its certificate comes from the tests' CA, given as ca-cert (upstream's
  CA_CERT).  Users john and jane with the password "password"; regulation off
  (max_retries 0); totp.disable_reuse_security_policy true; the OIDC client device-code
  (secret foobar, client_secret_post, scopes openid and authelia.pam, the pam claims
  policy giving authelia.pam.username).
- SetupSuite seeds TOTP for john and jane with upstream's pamTOTPSecret and makes TOTP their
  preferred method.
- The pam container (internal/suites/example/compose/pam: Dockerfile, entrypoint.sh):
  sshd with UsePAM, keyboard-interactive only, every local user's password "password",
  and one PAM file per mode (authelia-1fa, -2fa, -1fa2fa, -device-auth,
  -device-auth-bind) with upstream's options, plus binary= because our helper is not
  installed in /usr/bin during the tests.  setPAMAuthLevel copies one over
  /etc/pam.d/sshd; here Sshd.configure rewrites it.
- Upstream reads "the pam container's logs since <time>": sshd -e's output, where the
  helper's lines also land.  Here that is sshd's log since a mark plus the helper's syslog
  lines (ident pam_authelia) and the module's pam_syslog lines since the same moment.
- Upstream approves the device flow in a browser (log in with password and TOTP, accept
  the consent).  The double's approve_device does what that portal does; the verification
  URL is taken from the prompt exactly as upstream's extractVerificationURL does.
- Upstream dials ssh.example.com:22; here the harness's sshd on 127.0.0.1.
"""
import base64
import random
import socket
import subprocess

import paramiko
import pytest

import testca
from authelia_double import AutheliaDouble, OIDCClient, totp_code
from conftest import HELPER, SHIM
from sshd_harness import Sshd

PAM_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # upstream's pamTOTPSecret
AUTHELIA_URL = "https://login.example.com:8080"
PASSWORD = "password"  # users.yml and the pam container's chpasswd

# entrypoint.sh's PAM files, option for option ({ca} is its CA_FLAG).
PAM_FILES = {
    "1FA": "auth required {shim} binary={helper} url={url} auth-level=1FA "
           "cookie-name=authelia_session{ca} debug\n",
    "2FA": "auth required pam_unix.so\n"
           "auth required {shim} binary={helper} url={url} auth-level=2FA "
           "cookie-name=authelia_session{ca} debug\n",
    "1FA+2FA": "auth required {shim} binary={helper} url={url} auth-level=1FA+2FA "
               "cookie-name=authelia_session{ca} debug\n",
    "device-auth": "auth required {shim} binary={helper} url={url} auth-level=1FA+2FA "
                   "cookie-name=authelia_session{ca} method-priority=device_authorization "
                   "oauth2-client-id=device-code oauth2-client-secret=foobar "
                   "oauth2-scope=openid,authelia.pam timeout=3 debug\n",
    "device-auth-bind": "auth required {shim} binary={helper} url={url} auth-level=1FA+2FA "
                        "cookie-name=authelia_session{ca} method-priority=device_authorization "
                        "oauth2-client-id=device-code oauth2-client-secret=foobar "
                        "oauth2-scope=openid,authelia.pam timeout=120 debug\n",
}


def generate_code():
    return totp_code(base64.b32decode(PAM_TOTP_SECRET))


class Environment:
    """Authelia, sshd and /etc/hosts as upstream's docker environment has them."""

    def __init__(self, tmp, certs):
        testca.make_cert(certs, "login.example.com", "DNS:login.example.com", ca="ca")
        testca.readable(certs)
        self.ca = certs / "ca.pem"
        self.mounts = []
        address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        hosts = tmp / "hosts"
        hosts.write_text(open("/etc/hosts").read() + f"\n{address} login.example.com\n")
        hosts.chmod(0o644)
        subprocess.run(["mount", "--bind", str(hosts), "/etc/hosts"], check=True)
        self.mounts.append("/etc/hosts")
        try:
            self.authelia = AutheliaDouble(certs / "login.example.com.pem",
                                           certs / "login.example.com.key",
                                           cookie_domain="example.com", address=(address, 8080))
        except OSError as e:
            self.close()
            pytest.fail(f"cannot listen on {address}:8080 for login.example.com: {e}")
        self.sshd = Sshd(tmp, password=PASSWORD)
        self.sshd.start()
        self.configure_authelia()

    def configure_authelia(self):
        a = self.authelia
        a.configure({  # configuration.yml's session and access_control
            "session": {"cookies": [{"domain": "example.com", "authelia_url": AUTHELIA_URL,
                                     "expiration": "1h", "inactivity": "5m",
                                     "remember_me": "1y"}]},
            "access_control": {"default_policy": "one_factor",
                               "rules": [{"domain": "secure.example.com",
                                          "policy": "two_factor"}]},
        })
        a.max_retries = 0                   # regulation.max_retries: 0
        a.totp_disable_reuse_policy = True  # totp.disable_reuse_security_policy: true
        a.oidc.clients = {"device-code": OIDCClient("device-code", "foobar", "client_secret_post",
                                                    ("openid", "authelia.pam"))}
        a.oidc.device_script = {"action": "never"}  # only a person approves, in the portal
        for name in ("john", "jane"):       # SetupSuite: seedUserTOTP("john"), ("jane")
            user = a.add_user(name, PASSWORD, method="totp")
            user.totp_secret = base64.b32decode(PAM_TOTP_SECRET)

    def close(self):
        if getattr(self, "sshd", None) is not None:
            self.sshd.stop()
        if getattr(self, "authelia", None) is not None:
            self.authelia.close()
        for dst in reversed(self.mounts):
            subprocess.run(["umount", dst], check=False)


@pytest.fixture(scope="module")
def environment(tmp_path_factory, certs):
    tmp = tmp_path_factory.mktemp("pam-suite")
    tmp.chmod(0o755)
    env = Environment(tmp, certs)
    yield env
    env.close()


class PAMSuite:
    def __init__(self, env, syslog):
        self.env = env
        self.syslog = syslog

    def set_pam_auth_level(self, auth_level):
        if auth_level not in PAM_FILES:
            pytest.fail(f"unknown auth level: {auth_level}")
        self.env.sshd.configure(PAM_FILES[auth_level].format(
            shim=SHIM, helper=HELPER, url=AUTHELIA_URL, ca=f" ca-cert={self.env.ca}"))

    def now(self):
        """The `since` of upstream's pamLogsSince: what is logged from here on."""
        self.env.sshd.mark()
        self.syslog.clear()

    def pam_logs_since(self):
        helper = [f"pam_authelia: {t}" for t in self.syslog.texts()]
        return "\n".join([self.env.sshd.log_text()] + helper + self.syslog.shim_texts())

    def _dial(self, user, handler, timeout):
        """Upstream's dialSSHContext: (transport, None) or (None, error)."""
        sock = socket.create_connection(("127.0.0.1", self.env.sshd.port), timeout=timeout)
        t = paramiko.Transport(sock)
        t.auth_timeout = timeout
        try:
            t.start_client(timeout=timeout)
            t.auth_interactive(user, handler)
        except (paramiko.SSHException, OSError) as e:
            t.close()
            return None, e
        if not t.is_authenticated():
            t.close()
            return None, paramiko.AuthenticationException("not authenticated")
        return t, None

    @staticmethod
    def _run(t):
        """session.CombinedOutput(`echo "AUTHELIA_PAM_LOGIN_SUCCESS"`): (output, error)."""
        try:
            ch = t.open_session()
            ch.set_combine_stderr(True)
            ch.exec_command('echo "AUTHELIA_PAM_LOGIN_SUCCESS"')
            out = ch.makefile().read().decode()
            status = ch.recv_exit_status()
            return out, None if status == 0 else RuntimeError(f"exit status {status}")
        except paramiko.SSHException as e:
            return str(e), e
        finally:
            t.close()

    def ssh_login(self, user, responses, timeout=15):
        """Upstream's sshLogin: each keyboard-interactive prompt gets the next response."""
        answers = iter(responses)

        def handler(title, instruction, prompts):
            out = []
            for _ in prompts:
                nxt = next(answers, None)
                if nxt is None:
                    raise paramiko.AuthenticationException("ran out of responses for prompts")
                out.append(nxt)
            return out
        t, err = self._dial(user, handler, timeout)
        if err is not None:
            return str(err), err
        return self._run(t)

    def do_device_auth_ssh_login(self, linux_user, approve_fn, timeout=30):
        qr_seen = False

        def handler(title, instruction, prompts):
            nonlocal qr_seen
            answers = []
            for q, _ in prompts:
                if "Scan the QR code" in q:
                    qr_seen = True
                    verification_url = extract_verification_url(q)
                    if verification_url == "":
                        raise paramiko.SSHException("could not extract verification URL from prompt")
                    approve_fn(verification_url)
                answers.append("")
            return answers
        t, err = self._dial(linux_user, handler, timeout)
        assert qr_seen, "did not observe QR code prompt from device flow"
        if err is not None:
            return err
        return self._run(t)[1]

    def drive_device_auth_consent(self, verification_url, username, password):
        """The browser part: log in with password and TOTP, accept the consent."""
        assert self.env.authelia.approve_device(verification_url, username, password,
                                                generate_code()), "consent not accepted"


def extract_verification_url(prompt):
    for line in prompt.split("\n"):
        line = line.strip()
        if line.startswith("https://"):
            return line
    return ""


@pytest.fixture
def s(environment, syslog):
    environment.authelia.requests.clear()
    return PAMSuite(environment, syslog)


def test_should_authenticate_with_1fa(s):
    s.set_pam_auth_level("1FA")
    s.now()
    output, err = s.ssh_login("john", ["password"])
    assert err is None, f"1FA SSH login should succeed: {output}"
    logs = s.pam_logs_since()
    assert "POST https://login.example.com:8080/api/firstfactor" in logs
    assert 'response status=200 status_field="OK"' in logs
    assert "/api/secondfactor/" not in logs
    assert "Accepted keyboard-interactive/pam for john" in logs


def test_should_reject_1fa_with_bad_password(s):
    s.set_pam_auth_level("1FA")
    s.now()
    output, err = s.ssh_login("john", ["wrongpassword"])
    assert err is not None, f"1FA SSH with bad password should fail: {output}"
    logs = s.pam_logs_since()
    assert "POST https://login.example.com:8080/api/firstfactor" in logs
    assert "response status=401" in logs
    assert "first factor authentication failed" in logs
    assert "PAM: Authentication failure for john" in logs
    assert "Accepted keyboard-interactive/pam for john" not in logs


def test_should_authenticate_with_1fa_2fa_using_totp(s):
    s.set_pam_auth_level("1FA+2FA")
    code = generate_code()
    s.now()
    output, err = s.ssh_login("john", ["password", code])
    assert err is None, f"1FA+2FA SSH login should succeed: {output}"
    logs = s.pam_logs_since()
    assert "POST https://login.example.com:8080/api/firstfactor" in logs
    assert "user info method=" in logs
    assert 'method="totp"' in logs
    assert "has_totp=true" in logs
    assert "POST https://login.example.com:8080/api/secondfactor/totp" in logs
    assert "Accepted keyboard-interactive/pam for john" in logs


def test_should_reject_1fa_2fa_with_invalid_totp(s):
    s.set_pam_auth_level("1FA+2FA")
    s.now()
    output, err = s.ssh_login("john", ["password", "000000"])
    assert err is not None, f"1FA+2FA with invalid TOTP should fail: {output}"
    logs = s.pam_logs_since()
    assert "POST https://login.example.com:8080/api/secondfactor/totp" in logs
    assert "response status=403" in logs
    assert "TOTP authentication failed" in logs
    assert "PAM: Authentication failure for john" in logs
    assert "Accepted keyboard-interactive/pam for john" not in logs


def test_should_authenticate_with_2fa_only(s):
    s.set_pam_auth_level("2FA")
    code = generate_code()
    s.now()
    output, err = s.ssh_login("john", ["password", code])
    assert err is None, f"2FA-only SSH login should succeed: {output}"
    logs = s.pam_logs_since()
    assert "POST https://login.example.com:8080/api/firstfactor" in logs
    assert "POST https://login.example.com:8080/api/secondfactor/totp" in logs
    assert "Accepted keyboard-interactive/pam for john" in logs


def test_should_initiate_device_authorization_flow(s):
    s.set_pam_auth_level("device-auth")
    s.now()
    qr_seen = False

    def handler(title, instruction, prompts):
        nonlocal qr_seen
        for q, _ in prompts:
            if "Scan the QR code" in q:
                qr_seen = True
        return ["" for _ in prompts]
    t, err = s._dial("john", handler, 15)
    if t is not None:
        t.close()
    assert err is not None, "device-auth SSH dial should fail when nobody approves the flow"
    assert qr_seen, "did not observe QR code prompt from device flow"
    logs = s.pam_logs_since()
    assert "POST https://login.example.com:8080/api/oidc/device-authorization" in logs
    assert "device authorization response status=200" in logs
    assert "POST https://login.example.com:8080/api/oidc/token" in logs
    assert "authorization_pending" in logs
    assert "invalid_client" not in logs
    assert "device token error" not in logs
    assert "device authorization denied" not in logs
    assert "device authorization token expired" not in logs
    assert "/api/firstfactor" not in logs


def test_should_authenticate_with_device_authorization_matching_user(s):
    s.set_pam_auth_level("device-auth-bind")
    s.now()
    err = s.do_device_auth_ssh_login(
        "john", lambda url: s.drive_device_auth_consent(url, "john", "password"))
    assert err is None, "device-auth SSH with matching user should succeed"
    logs = s.pam_logs_since()
    assert "POST https://login.example.com:8080/api/oidc/device-authorization" in logs
    assert "device authorization response status=200" in logs
    assert "POST https://login.example.com:8080/api/oidc/token" in logs
    assert 'device identity verified: claim "authelia.pam.username" == pam username "john"' in logs
    assert "Accepted keyboard-interactive/pam for john" in logs
    assert "does not match pam username" not in logs


def test_should_reject_device_authorization_with_mismatched_user(s):
    s.set_pam_auth_level("device-auth-bind")
    s.now()
    err = s.do_device_auth_ssh_login(
        "john", lambda url: s.drive_device_auth_consent(url, "jane", "password"))
    assert err is not None, "device-auth SSH with mismatched approver must be rejected"
    logs = s.pam_logs_since()
    assert "POST https://login.example.com:8080/api/oidc/device-authorization" in logs
    assert "POST https://login.example.com:8080/api/oidc/token" in logs
    assert 'authelia identity "jane" does not match pam username "john"' in logs
    assert "PAM: Authentication failure for john" in logs
    assert "Accepted keyboard-interactive/pam for john" not in logs
    assert ('device identity verified: claim "authelia.pam.username" == pam username "john"'
            not in logs)
