"""Central policy with Authelia's access control (issue 12): authz-url,
authz-endpoint and auth-level=policy, end to end.

Authelia is the test double (authelia_double.py, whose authz endpoints and
access-control engine have their own contract tests in
test_authelia_double_authz.py), served as https://auth.example.com:PORT: a line
in a private /etc/hosts points auth.example.com at a random 127.x.y.z, and its
session cookie domain is example.com, which also holds the SSH pseudo-hosts.
Its access_control is README's example, loaded from README itself, with the
office network 192.0.2.0/24 played by the client address 127.0.0.2.

Logins go through the real sshd (sshd_harness.py), started in a UTS namespace
whose host name is web01 (so %h is web01; /etc/hosts gives web01 the fully
qualified name web01.ssh.example.com for %H), and through a sudo-style
consumer: pam_test_app with the service sudo and no PAM_RHOST, and the real
sudo of a local user.  Each test asserts the PAM result or the login's
outcome, the one log line, and what the double was asked.
"""
import ctypes
import random
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import testca
from authelia_double import AutheliaDouble
from conftest import HELPER, SHIM
from setuid_harness import USERS as LOCAL_USERS
from setuid_harness import SetuidCallers, shell
from sshd_harness import Sshd, login

README = Path(__file__).resolve().parents[2] / "README.md"
TEMPLATE = "https://%h.ssh.example.com/pam/%s"
WEB01 = "https://web01.ssh.example.com/pam/sshd"
OFFICE = "127.0.0.2"  # README's 192.0.2.0/24
ELSEWHERE = "127.0.0.1"
PASSWORD = "pw-authelia"


def readme_config():
    """README's Authelia example, as a dict (the first yaml block of its section)."""
    text = README.read_text()
    section = text[text.index("## Central policy with Authelia's access control"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return yaml.safe_load(block)


def in_uts_namespace(hostname):
    """A preexec_fn: the process gets a UTS namespace of its own with this host name."""
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec():
        if libc.unshare(0x04000000) != 0:  # CLONE_NEWUTS
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUTS)")
        if libc.sethostname(hostname.encode(), len(hostname)) != 0:
            raise OSError(ctypes.get_errno(), "sethostname")
    return preexec


class Environment:
    def __init__(self, tmp, certs):
        testca.make_cert(certs, "auth.example.com", "DNS:auth.example.com", ca="ca")
        testca.readable(certs)
        self.ca = certs / "ca.pem"
        self.mounts = []
        self.address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        hosts = tmp / "hosts"
        hosts.write_text(open("/etc/hosts").read() +
                         f"\n{self.address} auth.example.com\n"
                         "127.0.1.1 web01.ssh.example.com web01\n")
        hosts.chmod(0o644)
        subprocess.run(["mount", "--bind", str(hosts), "/etc/hosts"], check=True)
        self.mounts.append("/etc/hosts")
        self.authelia = AutheliaDouble(certs / "auth.example.com.pem",
                                       certs / "auth.example.com.key",
                                       cookie_domain="example.com", address=(self.address, 0))
        self.url = f"https://auth.example.com:{self.authelia.port}"
        self.sshd = Sshd(tmp)
        self.sshd.start(preexec=in_uts_namespace("web01"))

    def reset(self):
        a = self.authelia
        a.reset()
        config = readme_config()
        config["session"]["cookies"][0]["authelia_url"] = self.url
        for rule in config["access_control"]["rules"]:
            if "networks" in rule:
                rule["networks"] = [f"{OFFICE}/32"]
        a.configure(config)
        # the README's people
        a.add_user("john", PASSWORD, totp=True, groups=["admins"])
        a.add_user("jane", PASSWORD, totp=True, groups=["dba", "ssh"])
        a.add_user("user00", PASSWORD, totp=True, groups=["dba"])
        a.add_user("user01", PASSWORD, totp=True, groups=[])
        a.add_user("user02", PASSWORD, duo_device=True, method="mobile_push",
                   groups=["admins"])

    def close(self):
        self.sshd.stop()
        self.authelia.close()
        for dst in reversed(self.mounts):
            subprocess.run(["umount", dst], check=False)


@pytest.fixture(scope="module")
def env(tmp_path_factory, certs):
    d = tmp_path_factory.mktemp("access")
    d.chmod(0o755)
    e = Environment(d, certs)
    yield e
    e.close()


@pytest.fixture
def authelia(env):
    """The double of this module, reset to README's configuration (this
    shadows conftest's fixture of the same name)."""
    env.reset()
    env.sshd.mark()
    return env.authelia


def pam_args(env, level="policy", template=TEMPLATE, extra=""):
    return (f"binary={HELPER} url={env.url} ca-cert={env.ca} debug auth-level={level} "
            f"authz-url={template} {extra}").rstrip()


def configure_sshd(env, **kw):
    env.sshd.configure(f"auth required {SHIM} {pam_args(env, **kw)}\n")


def answers(authelia, user, password=PASSWORD, on_totp=None):
    """Answers for paramiko: the password, the TOTP code (on_totp runs first),
    and Enter at a Duo prompt.  Records the prompts."""
    seen = []

    def answer(prompt):
        seen.append(prompt)
        if prompt.endswith("Password: "):
            return password
        if prompt.endswith("TOTP Code: "):
            if on_totp:
                on_totp()
            return authelia.totp(user)
        return ""
    answer.seen = seen
    return answer


def accepted(env, user):
    return f"Accepted keyboard-interactive/pam for {user} " in env.sshd.log_text()


def ssh(env, authelia, user, source=ELSEWHERE, **kw):
    answer = answers(authelia, user, **kw)
    ok, out, _ = login(env.sshd.port, user, answer, source=source)
    if ok:
        assert out == f"LOGIN-OK user={user}"
    return ok, answer.seen


def authz(authelia):
    return authelia.authz_requests()


def second_factor_requests(authelia):
    return [p for p in authelia.paths() if p.startswith("/api/secondfactor/")]


# --- through the real sshd -------------------------------------------------------

def test_two_factor_host_with_totp(env, authelia, syslog):
    configure_sshd(env)
    ok, seen = ssh(env, authelia, "john")
    assert ok and accepted(env, "john")
    assert seen == ["Password: ", "TOTP Code: "]
    first, second = authz(authelia)
    assert (first["authz"]["status"], second["authz"]["status"]) == (401, 200)
    assert first["authz"]["policy"] == "two_factor" and first["authz"]["level"] == 1
    assert second["authz"]["level"] == 2
    # the question: the target, GET, the session's user, the client's address, the cookie
    for r in (first, second):
        h = r["headers"]
        assert r["method"] == "GET" and r["path"] == "/api/authz/auth-request"
        assert r["query"] == "authelia_url=" + env.url.replace(":", "%3A").replace("/", "%2F")
        assert h["x-original-url"] == WEB01 and h["x-original-method"] == "GET"
        assert h["session-username"] == "john"
        assert h["x-forwarded-for"] == ELSEWHERE
        assert h["accept"] == "application/json"
        assert "authorization" not in h and "proxy-authorization" not in h
        assert h["cookie"].startswith("authelia_session=")
    assert first["headers"]["cookie"] != second["headers"]["cookie"]  # rotated by TOTP
    # after the password, the question, the session check and user info at once
    after = authelia.requests[1:4]
    assert sorted(r["path"] for r in after) == ["/api/authz/auth-request", "/api/state",
                                                "/api/user/info"]
    assert len({r["conn"] for r in after}) == 3
    # forwarding headers go on the authz requests only
    for r in authelia.requests:
        if "authz" not in r:
            assert not any(k.startswith(("x-original-", "x-forwarded-host", "x-forwarded-uri",
                                         "session-username")) for k in r["headers"]), r
    texts = syslog.texts()
    assert any(f"authelia access control allows \"john\" on {WEB01} after the second factor"
               in t for t in texts)
    for step in ("first_factor -> access_check", "access_check -> select_method",
                 "totp_verify -> access_recheck", "access_recheck -> success"):
        assert f"state {step}" in texts, texts


def test_two_factor_host_with_duo(env, authelia):
    configure_sshd(env)
    ok, seen = ssh(env, authelia, "user02")
    assert ok and accepted(env, "user02")
    assert seen[0] == "Password: " and "Duo Push sent" in seen[1]
    assert [r["authz"]["status"] for r in authz(authelia)] == [401, 200]


def test_one_factor_host_without_a_totp_prompt(env, authelia):
    """The bastion's rule: admins, by ssh, from the office network: the password alone."""
    configure_sshd(env, template="https://bastion.ssh.example.com/pam/%s")
    ok, seen = ssh(env, authelia, "john", source=OFFICE)
    assert ok and accepted(env, "john")
    assert seen == ["Password: "]
    assert second_factor_requests(authelia) == []
    (only,) = authz(authelia)
    assert only["authz"]["status"] == 200 and only["authz"]["policy"] == "one_factor"
    assert only["headers"]["x-forwarded-for"] == OFFICE


def test_a_network_rule_differs_by_client_address(env, authelia):
    """The same login from outside the office meets the two_factor rule."""
    configure_sshd(env, template="https://bastion.ssh.example.com/pam/%s")
    ok, seen = ssh(env, authelia, "john", source=ELSEWHERE)
    assert ok and seen == ["Password: ", "TOTP Code: "]
    assert [r["authz"]["policy"] for r in authz(authelia)] == ["two_factor", "two_factor"]
    assert authz(authelia)[0]["headers"]["x-forwarded-for"] == ELSEWHERE


def test_denied_by_rule_before_any_second_factor(env, authelia, syslog):
    """user01 is in no group: the catch-all deny of *.ssh.example.com."""
    configure_sshd(env)
    ok, seen = ssh(env, authelia, "user01")
    assert not ok and not accepted(env, "user01")
    assert seen == ["Password: "]
    assert second_factor_requests(authelia) == []
    (only,) = authz(authelia)
    assert only["authz"]["status"] == 403 and only["authz"]["rule"] is not None
    assert one_failure(syslog) == \
        f'authelia access control denies "user01" on {WEB01} (response status=403)'


def test_denied_by_default_policy(env, authelia, syslog):
    """A host no rule names: default_policy deny."""
    configure_sshd(env, template="https://%h.lab.example.com/pam/%s")
    ok, seen = ssh(env, authelia, "john")
    assert not ok and seen == ["Password: "]
    (only,) = authz(authelia)
    assert only["authz"]["status"] == 403 and only["authz"]["rule"] is None
    assert one_failure(syslog) == 'authelia access control denies "john" on ' \
        'https://web01.lab.example.com/pam/sshd (response status=403)'


def test_group_rule_needs_both_groups(env, authelia, syslog):
    """db1: whoever is in dba AND ssh, by ssh, with two factors."""
    configure_sshd(env, template="https://db1.ssh.example.com/pam/%s")
    ok, seen = ssh(env, authelia, "jane")
    assert ok and seen == ["Password: ", "TOTP Code: "]
    assert authz(authelia)[0]["authz"]["groups"] == ["dba", "ssh"]
    authelia.requests.clear()
    ok, seen = ssh(env, authelia, "user00")  # dba alone
    assert not ok and seen == ["Password: "]
    assert one_failure(syslog) == 'authelia access control denies "user00" on ' \
        'https://db1.ssh.example.com/pam/sshd (response status=403)'


def test_a_group_removed_between_the_two_checks_is_refused(env, authelia, syslog):
    """Authelia refreshes the groups on every check (refresh_interval: always):
    john loses admins while typing the TOTP code."""
    authelia.configure({"authentication_backend": {"refresh_interval": "always"}})
    configure_sshd(env)
    ok, seen = ssh(env, authelia, "john",
                   on_totp=lambda: authelia.set_groups("john", []))
    assert not ok and not accepted(env, "john")
    assert seen == ["Password: ", "TOTP Code: "]
    assert "/api/secondfactor/totp" in authelia.paths()
    assert [r["authz"]["status"] for r in authz(authelia)] == [401, 403]
    assert one_failure(syslog) == \
        f'authelia access control denies "john" on {WEB01} (response status=403)'


def test_fully_qualified_host_name_from_etc_hosts(env, authelia):
    configure_sshd(env, template="https://%H/pam/%s")
    ok, _ = ssh(env, authelia, "john")
    assert ok
    assert authz(authelia)[0]["headers"]["x-original-url"] == WEB01


def test_a_host_outside_the_cookie_domains_is_a_configuration_error(env, authelia, syslog):
    configure_sshd(env, template="https://%h.ssh.example.org/pam/%s")
    ok, seen = ssh(env, authelia, "john")
    assert not ok and seen == ["Password: "]
    (only,) = authz(authelia)
    assert only["authz"]["status"] == 400
    assert "relevant session cookies configuration" in only["authz"]["reason"]
    assert any("authelia access check on https://web01.ssh.example.org/pam/sshd is "
               "misconfigured (response status=400): Authelia refuses the question itself "
               "(its log says why); fix: web01.ssh.example.org must lie within the "
               "session.cookies domain that holds auth.example.com" in t
               for t in syslog.texts())


def test_a_host_in_another_cookie_domain_is_a_configuration_error(env, authelia, syslog):
    """The pseudo-host lies in a session.cookies entry, but not in url's: the
    session the password opened does not apply there, and the authelia_url the
    module sends (url) lies outside that entry."""
    authelia.configure({"session": {"cookies": [
        {"domain": "example.com", "authelia_url": env.url},
        {"domain": "example.org", "authelia_url": "https://auth.example.org"}]}})
    configure_sshd(env, template="https://%h.ssh.example.org/pam/%s")
    ok, seen = ssh(env, authelia, "john")
    assert not ok and seen == ["Password: "]
    (only,) = authz(authelia)
    assert only["authz"]["status"] == 400
    assert "is not in the cookie domain" in only["authz"]["reason"]
    assert any("is misconfigured (response status=400)" in t for t in syslog.texts())
    assert authelia.sessions  # nothing destroyed the session


def test_authelia_failing_the_authz_request(env, authelia, syslog):
    authelia.inject("/api/authz/auth-request", status=503, body=b"503 Service Unavailable",
                    content_type="text/plain; charset=utf-8")
    configure_sshd(env)
    ok, seen = ssh(env, authelia, "john")
    assert not ok and seen == ["Password: "]
    assert f"authelia access check on {WEB01}: Authelia failed (response status=503)" \
        in syslog.texts()


# --- a sudo-style consumer: pam_test_app with the service sudo, no rhost --------

def sudo_login(login, env, user, level="policy", template=TEMPLATE, extra=""):
    return login(pam_args(env, level, template, extra), user=user, service="sudo",
                 preexec=in_uts_namespace("web01"))


def run(l, authelia, user, password=PASSWORD, totp=True):
    assert l.conv() == ("echo_off", "Password: ")
    l.answer(password)
    if totp:
        assert l.conv() == ("echo_on", "TOTP Code: ")
        l.answer(authelia.totp(user))
    return l.result()[0]


def test_sudo_allowed_with_two_factors(login, env, authelia):
    l = sudo_login(login, env, "john")
    assert run(l, authelia, "john") == "PAM_SUCCESS"
    first, second = authz(authelia)
    assert first["headers"]["x-original-url"] == "https://web01.ssh.example.com/pam/sudo"
    assert "x-forwarded-for" not in first["headers"]  # no PAM_RHOST: nothing to forward
    assert (first["authz"]["status"], second["authz"]["status"]) == (401, 200)


def test_sudo_denied_where_only_ssh_is_allowed(login, env, authelia, syslog):
    l = sudo_login(login, env, "jane", template="https://db1.ssh.example.com/pam/%s")
    assert run(l, authelia, "jane", totp=False) == "PAM_AUTH_ERR"
    assert one_failure(syslog) == 'authelia access control denies "jane" on ' \
        'https://db1.ssh.example.com/pam/sudo (response status=403)'
    assert second_factor_requests(authelia) == []


def test_sudo_host_outside_the_cookie_domains(login, env, authelia, syslog):
    l = sudo_login(login, env, "john", template="https://%h.ssh.example.org/pam/%s")
    assert run(l, authelia, "john", totp=False) == "PAM_SERVICE_ERR"
    assert any("is misconfigured (response status=400)" in t for t in syslog.texts())


def test_sudo_authelia_failing_the_authz_request(login, env, authelia, syslog):
    authelia.inject("/api/authz/auth-request", status=502, body=b"bad gateway",
                    content_type="text/plain")
    l = sudo_login(login, env, "john")
    assert run(l, authelia, "john", totp=False) == "PAM_AUTHINFO_UNAVAIL"
    assert any("Authelia failed (response status=502)" in t for t in syslog.texts())


def test_sudo_group_removed_between_the_checks(login, env, authelia, syslog):
    authelia.configure({"authentication_backend": {"refresh_interval": "always"}})
    l = sudo_login(login, env, "john")
    assert l.conv() == ("echo_off", "Password: ")
    l.answer(PASSWORD)
    assert l.conv() == ("echo_on", "TOTP Code: ")
    authelia.set_groups("john", ["users"])
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert [r["authz"]["status"] for r in authz(authelia)] == [401, 403]
    assert one_failure(syslog) == 'authelia access control denies "john" on ' \
        'https://web01.ssh.example.com/pam/sudo (response status=403)'


# --- the real sudo, run by a local user ----------------------------------------

@pytest.fixture
def real_sudo(tmp_path, env, authelia):
    tmp_path.chmod(0o755)
    callers = SetuidCallers(tmp_path)
    callers.start()
    authelia.add_user("mallory", PASSWORD, totp=True, groups=["admins"])
    callers.configure(f"auth required {SHIM} "
                      f"{pam_args(env, template='https://web01.ssh.example.com/pam/%s')}\n")
    yield callers
    callers.stop()


@pytest.mark.parametrize("groups,allowed", [(["admins"], True), (["dba", "ssh"], False)])
def test_real_sudo(real_sudo, authelia, syslog, groups, allowed):
    authelia.set_groups("mallory", groups)
    sh = shell("mallory")
    sh.sendline("sudo sh -c 'echo ESCALATED-$(id -un)'")
    sh.expect(["password for mallory: ", "Password: "])  # sudo may put its own words
    sh.sendline(PASSWORD)
    if allowed:
        sh.expect_exact("TOTP Code: ")
        sh.sendline(authelia.totp("mallory"))
        sh.expect_exact("ESCALATED-root")
    else:
        sh.expect_exact("$ ", timeout=20)
        assert "ESCALATED-root" not in sh.before and "TOTP" not in sh.before
        assert one_failure(syslog) == 'authelia access control denies "mallory" on ' \
            'https://web01.ssh.example.com/pam/sudo (response status=403)'
    sh.close(force=True)
    assert LOCAL_USERS["mallory"]  # the local account sudo authenticates


# --- every level, endpoint and answer, through pam_test_app ----------------------

def pam_login(login, env, user="john", level="policy", template=TEMPLATE, extra="", **kw):
    return login(pam_args(env, level, template, extra), user=user,
                 preexec=in_uts_namespace("web01"), **kw)


def logged(syslog, needle):
    return any(needle in t for t in syslog.texts())


def one_failure(syslog):
    """The login's one failure line: the helper's only line at LOG_ERR."""
    syslog.texts()  # settle
    with syslog.lock:
        lines = [l["text"] for l in syslog.lines
                 if l["ident"] == "pam_authelia" and l["priority"] & 7 == 3]
    assert len(lines) == 1, lines
    return lines[0]


def test_1fa_allowed_by_a_one_factor_rule(login, env, authelia):
    l = pam_login(login, env, level="1FA", template="https://bastion.ssh.example.com/pam/%s",
                  rhost=OFFICE, service="sshd")
    assert run(l, authelia, "john", totp=False) == "PAM_SUCCESS"
    paths = authelia.paths()
    assert paths[0] == "/api/firstfactor"  # then the two at once, on two connections
    assert sorted(paths[1:]) == ["/api/authz/auth-request", "/api/state"]
    assert len({r["conn"] for r in authelia.requests[1:]}) == 2


def test_1fa_refused_where_the_rule_wants_two_factors(login, env, authelia, syslog):
    l = pam_login(login, env, level="1FA", service="sshd", rhost=ELSEWHERE)
    assert run(l, authelia, "john", totp=False) == "PAM_AUTH_ERR"
    assert logged(syslog, f'authelia access control requires a second factor for "john" on '
                          f'{WEB01} (response status=401), and auth-level=1FA asks for none')
    assert "/api/user/info" not in authelia.paths()


def test_1fa_2fa_asks_for_the_second_factor_even_where_one_would_do(login, env, authelia):
    l = pam_login(login, env, level="1FA+2FA", template="https://bastion.ssh.example.com/pam/%s",
                  rhost=OFFICE, service="sshd")
    assert run(l, authelia, "john") == "PAM_SUCCESS"
    assert [r["authz"]["status"] for r in authz(authelia)] == [200, 200]


def test_2fa_after_pam_unix_asks_too(login, env, authelia):
    l = pam_login(login, env, level="2FA", authtok=PASSWORD, service="sshd", rhost=ELSEWHERE)
    assert l.conv() == ("echo_on", "TOTP Code: ")
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    assert [r["authz"]["status"] for r in authz(authelia)] == [401, 200]


def test_bypass_never_skips_the_password(login, env, authelia, syslog):
    authelia.configure({"access_control": {"default_policy": "deny", "rules": [
        {"domain": "*.ssh.example.com", "policy": "bypass"}]}})
    l = pam_login(login, env, service="sshd")
    assert run(l, authelia, "john", password="wrong", totp=False) == "PAM_AUTH_ERR"
    assert authz(authelia) == []
    l = pam_login(login, env, service="sshd")
    assert run(l, authelia, "john", totp=False) == "PAM_SUCCESS"  # 200 with Remote-User
    assert authz(authelia)[0]["authz"]["policy"] == "bypass"


@pytest.mark.parametrize("endpoint,config,kind", [
    ("/api/authz/forward-auth", None, "ForwardAuth"),
    ("/api/authz/pam", {"pam": {"implementation": "AuthRequest",
                                "authn_strategies": [{"name": "CookieSession"}]}}, "AuthRequest"),
    ("/api/authz/pam", {"pam": {"implementation": "ForwardAuth"}}, "ForwardAuth"),
])
def test_other_endpoints(login, env, authelia, endpoint, config, kind):
    if config:
        authelia.configure({"server": {"endpoints": {"authz": config}}})
    l = pam_login(login, env, service="sshd", rhost=ELSEWHERE,
                  extra=f"authz-endpoint={endpoint}")
    assert run(l, authelia, "john") == "PAM_SUCCESS"
    first = authz(authelia)[0]
    assert first["path"] == endpoint and first["authz"]["implementation"] == kind
    assert first["authz"]["target"] == WEB01 and first["authz"]["method"] == "GET"
    h = first["headers"]
    if endpoint.endswith("forward-auth"):
        assert "x-original-url" not in h
    if kind == "ForwardAuth" or endpoint.endswith("/pam"):
        assert (h["x-forwarded-proto"], h["x-forwarded-host"], h["x-forwarded-uri"],
                h["x-forwarded-method"]) == ("https", "web01.ssh.example.com", "/pam/sshd", "GET")


@pytest.mark.parametrize("config,status,message", [
    (None, 404, "authz-endpoint /api/authz/pam is not enabled in Authelia (response status=404)"),
    ({"pam": {"implementation": "AuthRequest",
              "authn_strategies": [{"name": "HeaderAuthorization", "schemes": ["basic"]}]}},
     401, "/api/authz/pam asks for credentials (response status=401 with WWW-Authenticate)"),
])
def test_misconfigured_endpoints(login, env, authelia, syslog, config, status, message):
    if config:
        authelia.configure({"server": {"endpoints": {"authz": config}}})
    l = pam_login(login, env, service="sshd", extra="authz-endpoint=/api/authz/pam")
    assert run(l, authelia, "john", totp=False) == "PAM_SERVICE_ERR"
    assert "/api/authz/pam" in authelia.paths()
    assert config is None or authz(authelia)[0]["authz"]["status"] == status
    assert logged(syslog, message)


@pytest.mark.parametrize("inject,result,message", [
    (dict(status=200, body=b"200 OK", content_type="text/plain",
          headers={"Remote-User": "jane"}),
     "PAM_AUTH_ERR", f'authelia access control answered for "jane", not "john", on {WEB01}'),
    (dict(status=200, body=b"200 OK", content_type="text/plain"),
     "PAM_AUTH_ERR", f"authelia access control allowed {WEB01} without naming a user"),
    (dict(status=302, body=b"", headers={"Location": "https://auth.example.com/"}),
     "PAM_SERVICE_ERR", "unexpected redirect (response status=302)"),
    (dict(status=407, body=b"", headers={"Proxy-Authenticate": "Basic"}),
     "PAM_SERVICE_ERR", "asks for proxy credentials (response status=407)"),
    (dict(reset=True), "PAM_AUTHINFO_UNAVAIL", f"authelia access check on {WEB01} failed: "),
    (dict(status=204, body=b""), "PAM_AUTH_ERR", "unexpected answer (response status=204)"),
])
def test_answers_and_their_codes(login, env, authelia, syslog, inject, result, message):
    authelia.inject("/api/authz/auth-request", **inject)
    l = pam_login(login, env, service="sshd")
    assert run(l, authelia, "john", totp=False) == result
    assert logged(syslog, message)
    assert second_factor_requests(authelia) == []


def test_the_whole_exchange_timeout_is_never_unavailable(login, env, authelia, syslog):
    authelia.inject("/api/authz/auth-request", delay=4.0)
    l = pam_login(login, env, service="sshd", extra="timeout=2")
    assert run(l, authelia, "john", totp=False) == "PAM_AUTH_ERR"
    assert logged(syslog, "timed out after 2 s waiting for Authelia (state access_check)")


def test_remote_user_must_match_exactly(login, env, authelia, syslog):
    """A case-insensitive directory: JOHN's password is john's; Authelia names
    the session john (Session-Username compares case-insensitively)."""
    authelia.case_insensitive = True
    l = pam_login(login, env, user="JOHN", service="sshd",
                  template="https://bastion.ssh.example.com/pam/%s", rhost=OFFICE)
    assert run(l, authelia, "john", totp=False) == "PAM_AUTH_ERR"
    assert logged(syslog, 'authelia identity "john" does not match pam username "JOHN"') or \
        logged(syslog, 'authelia access control answered for "john", not "JOHN"')


def test_device_flow_as_the_second_factor(login, env, authelia, syslog):
    authelia.oidc.interval = 1
    extra = ("method-priority=device_authorization device-flow=after-password "
             "oauth2-client-id=pam-authelia oauth2-client-secret-file=" + str(secret_file(env)))
    l = pam_login(login, env, service="sshd", extra=extra)
    assert l.conv() == ("echo_off", "Password: ")
    l.answer(PASSWORD)
    assert approve_until_done(l) == "PAM_SUCCESS"
    first, second = authz(authelia)
    assert (first["authz"]["status"], second["authz"]["status"]) == (401, 401)
    assert second["authz"]["level"] == 1  # the device flow raises no cookie session
    assert logged(syslog, "the device approval showed two")


def test_device_flow_then_a_group_removed(login, env, authelia, syslog):
    authelia.oidc.interval = 1
    authelia.configure({"authentication_backend": {"refresh_interval": "always"}})
    authelia.oidc.device_script = {"action": "approve", "user": "john", "after": 0.5}
    extra = ("method-priority=device_authorization device-flow=after-password "
             "oauth2-client-id=pam-authelia oauth2-client-secret-file=" + str(secret_file(env)))
    l = pam_login(login, env, service="sshd", extra=extra)
    assert l.conv() == ("echo_off", "Password: ")
    l.answer(PASSWORD)
    assert "Approve on your device" in l.conv()[1]  # the first check is behind us
    authelia.set_groups("john", [])
    l.answer("")
    assert approve_until_done(l) == "PAM_AUTH_ERR"
    assert [r["authz"]["status"] for r in authz(authelia)] == [401, 403]
    assert one_failure(syslog) == \
        f'authelia access control denies "john" on {WEB01} (response status=403)'


@pytest.mark.parametrize("destroyed_cookie,message", [
    # the contract's reading: the 401 brings the new, anonymous session's cookie
    ("new", 'Authelia replaced the session of "john" (response status=401) with a new '
            'session cookie'),
    # what a live Authelia or a proxy might do instead
    ("delete", 'Authelia replaced the session of "john" (response status=401) and deleted '
               'its cookie'),
    ("none", f'authelia access control answered 401 for "john" on {WEB01} after the device '
             'approval, and Authelia no longer holds the password\'s session at level 1 '
             '(/api/state: user "", authentication_level=0)'),
])
def test_device_approval_slower_than_authelia_s_inactivity(login, env, authelia, syslog,
                                                           destroyed_cookie, message):
    """Authelia drops a session idle longer than inactivity (5 min) when it is
    next asked about it, and then answers as it would anyone: john, removed
    from admins meanwhile (the catch-all deny for him), meets the admins rule
    as an anonymous subject, a 401.  The session check must come after that
    answer: Authelia serving it first (the authz answer is slow here) would
    still show the session at level 1."""
    authelia.oidc.interval = 1
    authelia.oidc.device_script = {"action": "approve", "user": "john", "after": 0.5}
    authelia.authz_destroyed_cookie = destroyed_cookie
    extra = ("method-priority=device_authorization device-flow=after-password "
             "oauth2-client-id=pam-authelia oauth2-client-secret-file=" + str(secret_file(env)))
    l = pam_login(login, env, service="sshd", extra=extra)
    assert l.conv() == ("echo_off", "Password: ")
    l.answer(PASSWORD)
    assert "Approve on your device" in l.conv()[1]
    authelia.advance_clock(400)
    authelia.set_groups("john", [])
    authelia.inject("/api/authz/auth-request", delay=1.0)
    l.answer("")
    assert approve_until_done(l) == "PAM_AUTH_ERR"
    first, second = authz(authelia)
    assert second["authz"]["session"] == "destroyed: inactive"
    assert second["authz"]["status"] == 401 and second["authz"]["rule_has_subject"]
    states = [r for r in authelia.requests if r["path"] == "/api/state"]
    if destroyed_cookie == "none":  # asked once the 401 was in, not beside the question
        assert len(states) == 2 and states[1]["time"] >= second["time"] + 1.0
    else:  # refused on the answer alone
        assert len(states) == 1 and states[0]["time"] < second["time"]
    assert message in one_failure(syslog)


def test_a_user_name_unfit_for_a_header_is_never_sent(login, env, authelia, syslog):
    authelia.add_user("j doe", PASSWORD, totp=True, groups=["admins"])
    l = pam_login(login, env, user="j doe", service="sshd",
                  template="https://bastion.ssh.example.com/pam/%s", rhost=OFFICE)
    assert run(l, authelia, "j doe", totp=False) == "PAM_AUTH_ERR"
    assert authz(authelia) == []
    assert logged(syslog, 'user name "j doe" cannot be sent in the access check\'s '
                          'Session-Username header')


def test_a_client_host_name_instead_of_its_address(login, env, authelia, syslog):
    """sshd with UseDNS yes: PAM_RHOST is the client's name, which cannot go into
    X-Forwarded-For; without it Authelia's networks rules would match this host's
    own address (one_factor for the office network here).  Refused before any
    prompt."""
    l = pam_login(login, env, service="sshd", rhost="client.example.net",
                  template="https://bastion.ssh.example.com/pam/%s")
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert authelia.paths() == []
    assert one_failure(syslog) == \
        'PAM_RHOST "client.example.net" is a host name, not an address, so the access check ' \
        "cannot tell Authelia the client's address (its networks rules would match this " \
        "host's); fix: UseDNS no in sshd_config"


def test_device_flow_first_cannot_be_checked(login, env, authelia, syslog):
    l = pam_login(login, env, level="1FA+2FA", service="sshd",
                  extra="method-priority=device_authorization oauth2-client-id=pam-authelia")
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert logged(syslog, "configuration error: authz-url cannot check a login that starts "
                          "with the device flow")
    assert authelia.paths() == []


@pytest.mark.parametrize("args,message", [
    ("auth-level=policy", "auth-level=policy needs authz-url"),
    ("authz-url=http://%h.example.com/pam/%s", 'authz-url must be https://, got "http"'),
    ("authz-url=https://%h.example.com/pam/%u", 'authz-url: unknown placeholder "%u"'),
    ("authz-url=https://%h.example.com/pam?s=%s", 'authz-url holds "?"'),
    ("authz-url=https://%h.example.com/pam/%s authz-endpoint=/api/verify",
     'invalid authz-endpoint "/api/verify"'),
])
def test_option_errors(login, env, authelia, syslog, args, message):
    l = login(f"binary={HELPER} url={env.url} ca-cert={env.ca} {args}")
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert logged(syslog, "configuration error: " + message)


def test_a_service_that_cannot_go_into_the_url(login, env, authelia, syslog):
    l = pam_login(login, env, service="sudo-x.y_z")  # fine
    assert l.conv() == ("echo_off", "Password: ")
    l.kill()
    l = pam_login(login, env, service="a..b")
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert logged(syslog, 'configuration error: authz-url: the PAM service "a..b" cannot go '
                          'into the URL')


def approve_until_done(l):
    """Presses Enter at the device prompt (again while not approved yet) until
    the result; returns it."""
    while True:
        line = l._line(20)
        if line.startswith("RESULT "):
            assert l.proc.wait(10) == 0
            return line.split(" ")[1]
        assert "Approve on your device" in line, line
        time.sleep(0.3)
        l.answer("")


def secret_file(env):
    path = Path(env.sshd.dir) / "client-secret"
    if not path.exists():
        path.write_text("s3cret-client\n")
        path.chmod(0o600)
    return path


# --- pam_authelia --check ----------------------------------------------------------

def doctor(pam_file, hostname="web01"):
    sshd_config = Path(pam_file).parents[1] / "sshd_config"  # set by pam_files
    r = subprocess.run([str(HELPER), "--check", "--pam-file", str(pam_file),
                        "--sshd-config", str(sshd_config)],
                       capture_output=True, text=True, env={}, timeout=60,
                       preexec_fn=in_uts_namespace(hostname))
    lines = r.stdout.splitlines()
    assert r.stderr == "" and lines[-1].startswith("summary: "), r
    for line in lines[:-1]:
        assert line[:5] in ("OK   ", "WARN ", "FAIL "), line
        if not line.startswith("OK"):
            assert "; fix: " in line, line
    return r.returncode, lines[:-1]


def has(lines, level, *needles):
    return any(l.startswith(level) and all(n in l for n in needles) for l in lines)


def pam_files(tmp_path, env, template=TEMPLATE, extra="", services=("sshd",)):
    d = tmp_path / "pam.d"
    d.mkdir(exist_ok=True)
    # the test sshd's settings, for the doctor's sshd checks of the service sshd
    (tmp_path / "sshd_config").write_text((env.sshd.dir / "sshd_config").read_text())
    (d / "common-authelia").write_text(
        f"auth required {SHIM} {pam_args(env, template=template, extra=extra)}\n")
    for name in services:
        (d / name).write_text("@include common-authelia\naccount required pam_permit.so\n")
    return d / services[0]


def test_check_shows_the_url_of_each_service_and_that_the_endpoint_answers(tmp_path, env,
                                                                            authelia):
    f = pam_files(tmp_path, env, services=("sshd", "sudo"))
    rc, lines = doctor(f)
    assert has(lines, "OK", "service sshd on this host asks Authelia's access control about "
               f"{WEB01} (GET /api/authz/auth-request)"), lines
    assert has(lines, "OK", f"/api/authz/auth-request answers about {WEB01} (status 401 without "
               "a session: a login is needed)"), lines
    assert not any(l.startswith("FAIL") for l in lines), lines
    # no login: the questions carry no cookie and no user
    assert all("cookie" not in r["headers"] and "session-username" not in r["headers"]
               for r in authz(authelia))
    rc, lines = doctor(f.parent / "sudo")
    assert has(lines, "OK", "service sudo on this host asks Authelia's access control about "
               "https://web01.ssh.example.com/pam/sudo"), lines


def test_check_a_host_outside_the_cookie_domain(tmp_path, env, authelia):
    rc, lines = doctor(pam_files(tmp_path, env, template="https://%h.ssh.example.org/pam/%s"))
    assert rc == 2
    assert has(lines, "FAIL", "Authelia refuses to be asked about "
               "https://web01.ssh.example.org/pam/sshd (status 400, and 403 for "
               "https://auth.example.com/): web01.ssh.example.org is not within the "
               "session.cookies domain that holds auth.example.com"), lines


def test_check_an_endpoint_not_enabled(tmp_path, env, authelia):
    rc, lines = doctor(pam_files(tmp_path, env, extra="authz-endpoint=/api/authz/pam"))
    assert rc == 2
    assert has(lines, "FAIL", "authz-endpoint /api/authz/pam is not enabled (status 404)"), lines


@pytest.mark.parametrize("implementation,level", [("AuthRequest", "OK"), ("ForwardAuth", "OK"),
                                                  ("ExtAuthz", "FAIL")])
def test_check_a_custom_endpoint_s_implementation(tmp_path, env, authelia, implementation,
                                                  level):
    authelia.configure({"server": {"endpoints": {"authz": {
        "pam": {"implementation": implementation}}}}})
    rc, lines = doctor(pam_files(tmp_path, env, extra="authz-endpoint=/api/authz/pam"))
    if level == "OK":
        assert has(lines, "OK", "authz-endpoint /api/authz/pam takes GET and HEAD only"), lines
    else:
        assert has(lines, "FAIL", "authz-endpoint /api/authz/pam answers POST", "ExtAuthz"), lines


def test_check_bypass_and_deny_before_login(tmp_path, env, authelia):
    authelia.configure({"access_control": {"default_policy": "deny", "rules": [
        {"domain": "web01.ssh.example.com", "policy": "bypass"}]}})
    rc, lines = doctor(pam_files(tmp_path, env))
    assert has(lines, "WARN", f"a bypass rule matches {WEB01} (status 200 without a session)")
    rc, lines = doctor(pam_files(tmp_path, env, template="https://%h.lab.example.com/pam/%s"))
    assert has(lines, "WARN", "denies https://web01.lab.example.com/pam/sshd before any login "
               "(status 403"), lines


def test_check_a_host_name_without_a_fully_qualified_one(tmp_path, env, authelia):
    rc, lines = doctor(pam_files(tmp_path, env, template="https://%H/pam/%s"), hostname="web02")
    assert rc == 2
    assert has(lines, "FAIL", 'service sshd: authz-url uses %H, but this host\'s name "web02" is '
               "not fully qualified and /etc/hosts gives none"), lines
    rc, lines = doctor(pam_files(tmp_path, env, template="https://%H/pam/%s"))
    assert has(lines, "OK", f"asks Authelia's access control about {WEB01}"), lines


def test_check_by_hand_shows_the_url_for_this_host(env):
    def by_hand(*args):
        return subprocess.run([str(HELPER), "--check", "--url", "https://auth.example.com",
                               *args], capture_output=True, text=True, env={}, timeout=30,
                              preexec_fn=in_uts_namespace("web01"))
    r = by_hand("--auth-level", "policy", "--authz-url", TEMPLATE)
    assert r.returncode == 0, r
    assert "auth-level=policy\n" in r.stdout
    assert f"authz-url={TEMPLATE}\nauthz-endpoint=/api/authz/auth-request\n" in r.stdout
    assert f"access check for service sshd on this host: {WEB01}\n" in r.stdout
    r = by_hand("--authz-url", "https://%h.ssh.example.com/pam/%s?x=1")
    assert r.returncode == 1
    assert r.stderr == 'pam_authelia: authz-url holds "?", which an https URL without user ' \
        'name, query or fragment cannot hold as it is\n'
    r = by_hand("--auth-level", "policy")
    assert r.returncode == 1 and "auth-level=policy needs authz-url" in r.stderr
