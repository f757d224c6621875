"""The Authelia test double's authorization endpoints and access-control engine,
checked against ../shared/spec/authelia-authz-contract.md row by row: the
preconditions of s.1, the decision table and the answers of s.3, the criteria
of s.4, the X-Forwarded-For parsing of s.5, the operator example of s.7, and
the cookie strategy of s.2.  A small client drives the double over real HTTPS
(the test CA); no PAM is involved.  The later module tests trust these
answers, so they are the double's own contract tests."""
import base64
import http.client
import json
import re
import ssl
import time
import urllib.parse

import pytest
import yaml

import authelia_acl as acl

AUTH = "auth.example.com"
SHORT_BASIC_PAD = 0.05


class Client:
    """One HTTPS request per call to the double (SNI and certificate: localhost);
    Host and every other header are the caller's."""

    def __init__(self, authelia, certs):
        self.authelia = authelia
        self.ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))

    def request(self, method, path, headers=None, body=None):
        conn = http.client.HTTPSConnection("localhost", self.authelia.port, context=self.ctx,
                                           timeout=30)
        headers = dict(headers or {})
        headers.setdefault("Host", AUTH)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.getheaders(), data)
        finally:
            conn.close()

    def login(self, user, password, host=AUTH, xff=None, extra=None, **body):
        """/api/firstfactor; returns the new cookie value (None if refused)."""
        headers = {"Host": host, "Content-Type": "application/json"}
        if xff:
            headers["X-Forwarded-For"] = xff
        headers.update(extra or {})
        r = self.request("POST", "/api/firstfactor", headers,
                         json.dumps({"username": user, "password": password, **body}).encode())
        self.last = r
        return r.cookie()

    def totp(self, cookie, code, host=AUTH, name="authelia_session"):
        r = self.request("POST", "/api/secondfactor/totp",
                         {"Host": host, "Cookie": f"{name}={cookie}"},
                         json.dumps({"token": code}).encode())
        assert r.status == 200, r
        return r.cookie()

    def login2(self, user, password, host=AUTH, **kw):
        cookie = self.login(user, password, host=host, **kw)
        return self.totp(cookie, self.authelia.totp(user), host=host)

    def auth_request(self, url, cookie=None, method="GET", xff=None, name="authelia_session",
                     headers=None, path="/api/authz/auth-request", http_method="GET"):
        h = {"X-Original-URL": url, "X-Original-Method": method, "Accept": "application/json"}
        if cookie is not None:
            h["Cookie"] = f"{name}={cookie}"
        if xff is not None:
            h["X-Forwarded-For"] = xff
        h.update(headers or {})
        return self.request(http_method, path, {k: v for k, v in h.items() if v is not None})

    def forward_auth(self, host, uri="/", cookie=None, method="GET", proto="https",
                     accept="application/json", headers=None, path="/api/authz/forward-auth"):
        h = {"X-Forwarded-Proto": proto, "X-Forwarded-Host": host, "X-Forwarded-URI": uri,
             "X-Forwarded-Method": method, "Accept": accept}
        if cookie is not None:
            h["Cookie"] = f"authelia_session={cookie}"
        h.update(headers or {})
        return self.request("GET", path, {k: v for k, v in h.items() if v is not None})


class Response:
    def __init__(self, status, headers, body):
        self.status, self.header_list, self.body = status, headers, body
        self.headers = {}
        for k, v in headers:
            self.headers.setdefault(k.lower(), v)

    def all(self, name):
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    def cookie(self, name="authelia_session"):
        for v in self.all("Set-Cookie"):
            if v.startswith(name + "="):
                return v.split(";", 1)[0][len(name) + 1:]
        return None

    def remote(self):
        return {k: v for k, v in self.headers.items() if k.startswith("remote-")}

    def __repr__(self):
        return f"<{self.status} {self.header_list} {self.body!r}>"


@pytest.fixture
def client(authelia, certs):
    authelia.basic_failure_delay = SHORT_BASIC_PAD
    return Client(authelia, certs)


BASE_SESSION = {"cookies": [{"domain": "example.com", "authelia_url": f"https://{AUTH}"}]}


def configure(authelia, rules=(), default_policy=None, **extra):
    ac = {"rules": list(rules)}
    if default_policy:
        ac["default_policy"] = default_policy
    authelia.configure({"session": BASE_SESSION, "access_control": ac, **extra})


def decision(authelia):
    return authelia.authz_requests()[-1]["authz"]


def assert_plain(r, status, text):
    assert r.status == status, r
    assert r.headers["content-type"] == "text/plain; charset=utf-8", r
    assert r.body == text.encode(), r
    assert "set-cookie" not in r.headers, r
    assert "location" not in r.headers, r


# --- s.1: endpoints and preconditions ------------------------------------------

@pytest.fixture
def open_site(authelia, client):
    """A one_factor site and a logged-in john: everything that passes the
    preconditions answers 200."""
    configure(authelia, [{"domain": "*.example.com", "policy": "one_factor"}])
    authelia.add_user("john", "pw-john")
    return client.login("john", "pw-john")


@pytest.mark.parametrize("headers,reason", [
    ({}, "missing X-Original-URL"),
    ({"X-Original-URL": ""}, "missing X-Original-URL"),
    ({"X-Original-URL": "https://web01.example.com/pam/sshd"}, "missing method"),
    ({"X-Original-URL": "https://web01.example.com/pam/sshd", "X-Original-Method": "get"},
     "invalid characters"),
    ({"X-Original-URL": "https://web01.example.com/pam/sshd", "X-Original-Method": "G-T"},
     "invalid characters"),
    ({"X-Original-URL": "https://web 01.example.com/", "X-Original-Method": "GET"},
     "invalid character in host"),
    ({"X-Original-URL": "https://web01.example.com:22x/", "X-Original-Method": "GET"},
     "invalid port"),
    ({"X-Original-URL": "https://web01.example.com/%zz", "X-Original-Method": "GET"},
     "invalid URL escape"),
    ({"X-Original-URL": "web01.example.com/pam", "X-Original-Method": "GET"},
     "invalid URI for request"),
])
def test_auth_request_target_and_method_headers(authelia, client, open_site, headers, reason):
    r = client.request("GET", "/api/authz/auth-request",
                       {"Cookie": f"authelia_session={open_site}", **headers})
    assert_plain(r, 400, "400 Bad Request")
    assert reason in decision(authelia)["reason"]


def test_auth_request_passes_with_both_headers(authelia, client, open_site):
    r = client.auth_request("https://web01.example.com/pam/sshd", open_site)
    assert_plain(r, 200, "200 OK")
    # the request's own Host plays no part
    r = client.auth_request("https://web01.example.com/pam/sshd", open_site,
                            headers={"Host": f"localhost:{authelia.port}"})
    assert_plain(r, 200, "200 OK")


@pytest.mark.parametrize("drop,reason", [
    ("X-Forwarded-Host", "missing host value"),
    ("X-Forwarded-Method", "missing method"),
])
def test_forward_auth_required_headers(authelia, client, open_site, drop, reason):
    # Host lies in the cookie domain, but forward-auth never falls back to it.
    r = client.forward_auth("web01.example.com", cookie=open_site, headers={drop: None})
    assert_plain(r, 400, "400 Bad Request")
    assert reason in decision(authelia)["reason"]


def test_forward_auth_method_must_be_uppercase(authelia, client, open_site):
    assert_plain(client.forward_auth("web01.example.com", cookie=open_site, method="GeT"),
                 400, "400 Bad Request")


def test_forward_auth_builds_the_target_from_the_forwarded_headers(authelia, client, open_site):
    r = client.forward_auth("web01.example.com", "/pam/sshd", cookie=open_site)
    assert_plain(r, 200, "200 OK")
    assert decision(authelia)["target"] == "https://web01.example.com/pam/sshd"


def test_forward_auth_without_proto_is_https_on_a_tls_listener(authelia, client, open_site):
    r = client.forward_auth("web01.example.com", "/x", cookie=open_site, proto=None)
    assert r.status == 200, r
    assert decision(authelia)["target"] == "https://web01.example.com/x"


def test_forward_auth_without_uri_has_the_path_dot(authelia, client, open_site):
    r = client.forward_auth("web01.example.com", uri=None, cookie=open_site)
    assert r.status == 200, r
    assert decision(authelia)["path"] == "."


@pytest.mark.parametrize("url,status", [
    ("http://web01.example.com/pam/sshd", 400),
    ("ws://web01.example.com/pam/sshd", 400),
    ("HTTPS://web01.example.com/pam/sshd", 200),
    ("wss://web01.example.com/pam/sshd", 200),
])
def test_scheme_must_be_https_or_wss(authelia, client, open_site, url, status):
    r = client.auth_request(url, open_site)
    assert r.status == status, r
    if status == 400:
        assert "insecure scheme" in decision(authelia)["reason"]


@pytest.mark.parametrize("host,status", [
    ("example.com", 403),                # in the cookie domain; *.example.com misses it
    ("web01.example.com", 200),
    ("a.b.example.com", 200),
    ("WEB01.Example.COM", 200),          # case-insensitive
    ("web01.example.com:8443", 200),     # the port is not part of the host name
    ("notexample.com", 400),             # a suffix, but not a subdomain
    ("web01.example.org", 400),
    ("example.com.evil.net", 400),
])
def test_target_host_must_lie_in_a_cookie_domain(authelia, client, open_site, host, status):
    r = client.auth_request(f"https://{host}/pam/sshd", open_site)
    assert r.status == status, r
    if status == 400:
        assert_plain(r, 400, "400 Bad Request")
        assert "session cookies configuration" in decision(authelia)["reason"]


def test_authelia_url_from_the_query_or_the_cookie_entry(authelia, client):
    authelia.configure({"session": {"cookies": [
        {"domain": "example.com"},                                    # no authelia_url
        {"domain": "example.org", "authelia_url": "https://auth.example.org/portal"}]},
        "access_control": {"rules": [{"domain": ["*.example.com", "*.example.org"],
                                      "policy": "one_factor"}]}})
    # neither: 400
    r = client.auth_request("https://web01.example.com/")
    assert_plain(r, 400, "400 Bad Request")
    assert "authelia url lookup failed" in decision(authelia)["reason"]
    # ?authelia_url= inside the cookie domain: used for the redirect
    q = "?authelia_url=" + urllib.parse.quote("https://login.example.com/")
    r = client.auth_request("https://web01.example.com/", path="/api/authz/auth-request" + q)
    assert r.status == 401 and r.headers["location"].startswith("https://login.example.com/?rd="), r
    # ?authelia_url= outside it: 400
    q = "?authelia_url=" + urllib.parse.quote("https://login.example.org/")
    r = client.auth_request("https://web01.example.com/", path="/api/authz/auth-request" + q)
    assert_plain(r, 400, "400 Bad Request")
    assert "not in the cookie domain" in decision(authelia)["reason"]
    # the entry's own authelia_url
    r = client.auth_request("https://web01.example.org/")
    assert r.headers["location"].startswith("https://auth.example.org/portal?rd="), r


def test_preconditions_are_checked_in_order(authelia, client):
    configure(authelia, [{"domain": "*.example.com", "policy": "one_factor"}])
    # a bad method and an insecure scheme outside the cookie domain: the method is reported
    r = client.auth_request("http://web01.example.org/", method="get")
    assert r.status == 400 and "invalid characters" in decision(authelia)["reason"]
    # insecure scheme outside the cookie domain: the scheme
    client.auth_request("http://web01.example.org/")
    assert "insecure scheme" in decision(authelia)["reason"]
    # outside the cookie domain and a bad authelia_url: the cookie domain
    client.auth_request("https://web01.example.org/",
                        path="/api/authz/auth-request?authelia_url=https://evil.net/")
    assert "session cookies configuration" in decision(authelia)["reason"]


@pytest.mark.parametrize("headers,reason", [
    ({"X-Original-URL": "http://web01.example.com/"}, "insecure scheme"),
    ({"X-Original-URL": "https://web01.example.org/"}, "session cookies configuration"),
    ({"X-Original-URL": "https://web01.example.com/", "X-Forwarded-Method": "get"},
     "invalid characters"),
])
def test_legacy_preconditions_answer_401(authelia, client, open_site, headers, reason):
    r = client.request("GET", "/api/verify", {"Cookie": f"authelia_session={open_site}", **headers})
    assert_plain(r, 401, "401 Unauthorized")
    assert reason in decision(authelia)["reason"]


def test_legacy_target_from_forwarded_headers_and_request_method(authelia, client, open_site):
    r = client.request("POST", "/api/verify", {
        "Cookie": f"authelia_session={open_site}", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "web01.example.com", "X-Forwarded-URI": "/pam/sshd"})
    assert_plain(r, 200, "200 OK")
    d = decision(authelia)
    assert (d["target"], d["method"]) == ("https://web01.example.com/pam/sshd", "POST")


def test_methods_and_unknown_endpoints(authelia, client, open_site):
    for path in ("/api/authz/auth-request", "/api/authz/forward-auth"):
        r = client.request("POST", path, {"X-Original-URL": "https://web01.example.com/"})
        assert_plain(r, 405, "405 Method Not Allowed")
    r = client.auth_request("https://web01.example.com/", open_site, http_method="HEAD")
    assert r.status == 200 and r.body == b""
    r = client.auth_request("https://web01.example.com/", open_site, path="/api/authz/pam")
    assert_plain(r, 404, "404 Not Found")
    # legacy and ext-authz take any method and the paths below them
    r = client.request("DELETE", "/api/verify/some/path", {
        "Cookie": f"authelia_session={open_site}", "X-Original-URL": "https://web01.example.com/"})
    assert r.status == 200, r
    r = client.request("PUT", "/api/authz/ext-authz/pam/sshd", {
        "Host": "web01.example.com", "Cookie": f"authelia_session={open_site}"})
    assert r.status == 200, r
    d = decision(authelia)
    assert (d["target"], d["method"]) == ("https://web01.example.com/pam/sshd", "PUT")


def test_configured_endpoints_replace_the_defaults(authelia, client, open_site):
    authelia.configure({"server": {"endpoints": {"authz": {
        "pam": {"implementation": "AuthRequest",
                "authn_strategies": [{"name": "CookieSession"}]}}}}})
    r = client.auth_request("https://web01.example.com/", open_site, path="/api/authz/pam")
    assert_plain(r, 200, "200 OK")
    for path in ("/api/authz/auth-request", "/api/authz/forward-auth", "/api/authz/ext-authz",
                 "/api/verify"):
        r = client.auth_request("https://web01.example.com/", open_site, path=path)
        assert_plain(r, 404, "404 Not Found")


def test_default_cookie_entry_is_localhost(authelia, client):
    """Without session: in configure(), the one cookie entry is the double's own
    localhost (what the module's tests use: authz-url=https://%h.ssh.localhost/...)."""
    authelia.configure({"access_control": {"rules": [
        {"domain": "*.ssh.localhost", "policy": "one_factor"}]}})
    authelia.add_user("john", "pw-john")
    cookie = client.login("john", "pw-john", host=f"localhost:{authelia.port}")
    assert "domain=localhost;" in client.last.headers["set-cookie"]
    r = client.auth_request("https://web01.ssh.localhost/pam/sshd", cookie,
                            headers={"Host": f"localhost:{authelia.port}"})
    assert_plain(r, 200, "200 OK")
    r = client.auth_request("https://web01.ssh.example.com/pam/sshd", cookie)
    assert_plain(r, 400, "400 Bad Request")  # outside every cookie domain
    r = client.auth_request("https://web01.ssh.localhost/pam/sudo")
    assert r.headers["location"].startswith(f"https://localhost:{authelia.port}/?rd="), r


# --- s.3: the decision table and the answers -------------------------------------

TABLE_RULES = [
    {"domain": "bypass.example.com", "policy": "bypass"},
    {"domain": "one.example.com", "policy": "one_factor"},
    {"domain": "two.example.com", "policy": "two_factor"},
    {"domain": "denysub.example.com", "subject": "group:dev", "policy": "deny"},
    {"domain": "deny.example.com", "policy": "deny"},
]


@pytest.fixture
def table(authelia, client):
    configure(authelia, TABLE_RULES)  # default_policy unset: deny
    authelia.add_user("john", "pw-john", totp=True, groups=["dev", "ops"],
                      display_name="John Doe", emails=["john@example.com", "jd@example.com"])
    return {"none": None, "invalid": "x" * 32,
            "1": client.login("john", "pw-john"),
            "2": client.login2("john", "pw-john")}


# (host, answers for no session, an unknown cookie, level 1, level 2); U = unauthorized
DECISIONS = [
    ("bypass", (200, 200, 200, 200)),
    ("one", ("U", "U", 200, 200)),
    ("two", ("U", "U", "U", 200)),
    ("denysub", ("U", "U", 403, 403)),
    ("deny", (403, 403, 403, 403)),
    ("default", (403, 403, 403, 403)),
]


@pytest.mark.parametrize("host,answers", DECISIONS)
@pytest.mark.parametrize("state", ["none", "invalid", "1", "2"])
def test_decision_table(authelia, client, table, host, answers, state):
    expected = answers[["none", "invalid", "1", "2"].index(state)]
    r = client.auth_request(f"https://{host}.example.com/pam/sshd", table[state])
    if expected == "U":
        assert r.status == 401 and "location" in r.headers, r
        return
    assert r.status == expected, r
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert "set-cookie" not in r.headers  # no Set-Cookie on 200 and 403
    if expected == 403:
        assert r.body == b"403 Forbidden"
        return
    assert r.body == b"200 OK"
    if state in ("1", "2"):
        assert r.remote() == {"remote-user": "john", "remote-groups": "dev,ops",
                              "remote-name": "John Doe", "remote-email": "john@example.com"}
    else:
        assert r.remote() == {}  # bypass without a session: no Remote-*


def test_remote_headers_for_a_user_without_groups_or_email(authelia, client):
    configure(authelia, [{"domain": "one.example.com", "policy": "one_factor"}])
    authelia.add_user("Jane", "pw-jane", emails=[])
    cookie = client.login("Jane", "pw-jane")
    r = client.auth_request("https://one.example.com/", cookie)
    assert r.remote() == {"remote-user": "Jane", "remote-groups": "", "remote-name": "Jane",
                          "remote-email": ""}


def test_one_factor_session_on_two_factor_rule_looks_like_no_session(authelia, client, table):
    url = "https://two.example.com/pam/sshd"
    answers = [client.auth_request(url, table[s]) for s in ("none", "1")]
    for r in answers:
        assert r.status == 401
        assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert answers[0].headers["location"] == answers[1].headers["location"] == (
        f"https://{AUTH}/?rd=https%3A%2F%2Ftwo.example.com%2Fpam%2Fsshd&rm=GET")
    assert answers[0].body == answers[1].body == (
        b'<a href="https://auth.example.com/?rd=https%3A%2F%2Ftwo.example.com%2Fpam%2Fsshd'
        b'&amp;rm=GET">401 Unauthorized</a>')
    # forward-auth: 401 for a JSON client, 302 for a browser
    assert client.forward_auth("two.example.com", "/pam/sshd", table["1"]).status == 401
    r = client.forward_auth("two.example.com", "/pam/sshd", table["1"], accept="text/html")
    assert r.status == 302 and r.headers["location"] == answers[0].headers["location"]


@pytest.mark.parametrize("accept,xrw,method,status", [
    ("application/json", None, "GET", 401),
    (None, None, "GET", 401),                         # no Accept: lacks text/html
    ("text/html", None, "GET", 302),
    ("text/html", None, "HEAD", 302),
    ("text/html", None, "OPTIONS", 302),
    ("text/html", None, "POST", 303),
    ("text/html", None, "DELETE", 303),
    ("*/*", None, "GET", 302),                        # */* counts as the first entry
    ("application/json, */*", None, "GET", 401),      # ... but only there
    ("application/json, text/html;q=0.9", None, "GET", 302),
    ("TEXT/HTML", None, "GET", 401),                  # exact compare
    ("text/html", "XMLHttpRequest", "GET", 401),
    ("text/html", "xmlhttprequest", "POST", 401),     # case-insensitive
])
def test_forward_auth_unauthorized_status(authelia, client, table, accept, xrw, method, status):
    r = client.forward_auth("two.example.com", "/pam/sshd", table["1"], method=method,
                            accept=accept, headers={"X-Requested-With": xrw})
    assert r.status == status, r
    assert r.headers["location"] == (
        f"https://{AUTH}/?rd=https%3A%2F%2Ftwo.example.com%2Fpam%2Fsshd&rm={method}")
    assert r.body == (b"" if method == "HEAD" else
                      f'<a href="{r.headers["location"].replace("&", "&amp;")}">{status} '
                      f'{http.client.responses[status]}</a>'.encode())


def test_auth_request_is_always_401(authelia, client, table):
    for method in ("GET", "POST"):
        r = client.auth_request("https://two.example.com/", table["1"], method=method,
                                headers={"Accept": "text/html"})
        assert r.status == 401, r


def test_legacy_unauthorized(authelia, client, table):
    h = {"X-Original-URL": "https://two.example.com/", "Cookie": f"authelia_session={table['1']}"}
    # no rd and no X-Authelia-URL: a plain 401
    assert_plain(client.request("GET", "/api/verify", h), 401, "401 Unauthorized")
    # with rd: redirect-style, by Accept
    r = client.request("GET", "/api/verify?rd=https://auth.example.com/",
                       {**h, "Accept": "text/html"})
    assert r.status == 302 and r.headers["location"].startswith(f"https://{AUTH}/?rd="), r
    r = client.request("GET", "/api/verify", {**h, "X-Authelia-URL": f"https://{AUTH}/"})
    assert r.status == 401 and "location" in r.headers, r
    # rd outside the cookie domain: a precondition failure (HEAD; 4.39.20 skipped it)
    assert_plain(client.request("GET", "/api/verify?rd=https://evil.net/", h), 401,
                 "401 Unauthorized")


def test_set_cookie_only_on_redirect_style_answers(authelia, client, table):
    cookie = table["1"]
    r = client.auth_request("https://two.example.com/", cookie)
    assert r.status == 401 and r.cookie() == cookie  # re-saved under the same ID
    set_cookie = r.headers["set-cookie"]
    assert "domain=example.com; path=/; HttpOnly; secure; SameSite=Lax" in set_cookie
    for url in ("https://one.example.com/", "https://deny.example.com/",
                "https://web01.example.org/"):
        assert "set-cookie" not in client.auth_request(url, cookie).headers
    # no session at all: nothing to save
    assert "set-cookie" not in client.auth_request("https://two.example.com/").headers


# --- s.2: the cookie strategy -------------------------------------------------------

@pytest.fixture
def john(authelia, client):
    configure(authelia, [{"domain": "*.example.com", "policy": "one_factor"},
                         {"domain": "*.example.org", "policy": "one_factor"}])
    authelia.add_user("john", "pw-john", groups=["admins"])
    return client.login("john", "pw-john")


def state(client, cookie, host=AUTH, name="authelia_session"):
    r = client.request("GET", "/api/state", {"Host": host, "Cookie": f"{name}={cookie}"})
    return json.loads(r.body)["data"]


def test_session_username_case_insensitive_match(authelia, client, john):
    for sent in ("john", "JOHN", "John"):
        r = client.auth_request("https://web01.example.com/", john,
                                headers={"Session-Username": sent})
        assert r.status == 200 and r.headers["remote-user"] == "john", r


def test_session_username_mismatch_destroys_the_session(authelia, client, john):
    r = client.auth_request("https://web01.example.com/", john,
                            headers={"Session-Username": "jane"})
    assert r.status == 401 and r.cookie() not in (None, john), r  # a new anonymous session
    assert decision(authelia)["session"] == "destroyed: Session-Username differs"
    assert client.auth_request("https://web01.example.com/", john).status == 401
    assert state(client, john)["authentication_level"] == 0


def test_session_from_another_cookie_domain_is_destroyed(authelia, client):
    authelia.configure({"session": {"cookies": [
        {"domain": "example.com", "authelia_url": "https://auth.example.com"},
        {"domain": "example.org", "authelia_url": "https://auth.example.org"}]},
        "access_control": {"rules": [{"domain": ["*.example.com", "*.example.org"],
                                      "policy": "one_factor"}]}})
    authelia.add_user("john", "pw-john")
    cookie = client.login("john", "pw-john", host="auth.example.com")
    assert client.auth_request("https://web01.example.com/", cookie).status == 200
    # the same cookie name under example.org: Authelia destroys the session
    r = client.auth_request("https://web01.example.org/", cookie)
    assert r.status == 401, r
    assert decision(authelia)["session"] == "destroyed: cookie domain differs"
    assert client.auth_request("https://web01.example.com/", cookie).status == 401


def test_cookie_named_by_the_targets_entry(authelia, client):
    authelia.configure({"session": {"cookies": [
        {"domain": "example.com", "authelia_url": "https://auth.example.com", "name": "sess_com"},
        {"domain": "example.org", "authelia_url": "https://auth.example.org", "name": "sess_org"}]},
        "access_control": {"rules": [{"domain": ["*.example.com", "*.example.org"],
                                      "policy": "one_factor"}]}})
    authelia.add_user("john", "pw-john")
    cookie = client.login("john", "pw-john", host="auth.example.com")
    assert cookie is None  # not named authelia_session
    cookie = client.last.cookie("sess_com")
    assert "domain=example.com;" in client.last.headers["set-cookie"]
    assert client.auth_request("https://web01.example.com/", cookie, name="sess_com").status == 200
    # example.org reads sess_org: no session there, and the example.com one survives
    assert client.auth_request("https://web01.example.org/", cookie, name="sess_com").status == 401
    assert decision(authelia)["session"] == "none"
    assert client.auth_request("https://web01.example.com/", cookie, name="sess_com").status == 200


def test_first_factor_picks_the_cookie_entry_by_forwarded_headers(authelia, client):
    authelia.configure({"session": {"cookies": [
        {"domain": "example.com", "authelia_url": "https://auth.example.com"},
        {"domain": "example.org", "authelia_url": "https://auth.example.org"}]},
        "access_control": {"rules": [{"domain": ["*.example.com", "*.example.org"],
                                      "policy": "one_factor"}]}})
    authelia.add_user("john", "pw-john")
    for extra, domain in [({"X-Forwarded-Host": "auth.example.org"}, "example.org"),
                          ({"X-Original-URL": "https://auth.example.org/"}, "example.org"),
                          ({}, "example.com")]:
        cookie = client.login("john", "pw-john", host="auth.example.com", extra=extra)
        assert f"domain={domain};" in client.last.headers["set-cookie"]
        assert client.auth_request(f"https://web01.{domain}/", cookie).status == 200
    # a Host outside every cookie domain: 401 KO as before
    assert client.login("john", "pw-john", host="auth.example.net") is None
    assert client.last.status == 401


def test_inactivity_destroys_the_session(authelia, client, john):
    authelia.advance_clock(200)
    assert client.auth_request("https://web01.example.com/", john).status == 200  # renews it
    authelia.advance_clock(200)
    assert client.auth_request("https://web01.example.com/", john).status == 200
    authelia.advance_clock(301)
    r = client.auth_request("https://web01.example.com/", john)
    assert r.status == 401 and decision(authelia)["session"] == "destroyed: inactive", r


def test_inactivity_is_set_per_cookie_entry_and_skips_remember_me(authelia, client):
    configure(authelia, [{"domain": "*.example.com", "policy": "one_factor"}])
    authelia.configure({"session": {"inactivity": "1m", "cookies": BASE_SESSION["cookies"]}})
    authelia.add_user("john", "pw-john")
    short = client.login("john", "pw-john")
    remembered = client.login("john", "pw-john", keepMeLoggedIn=True)
    authelia.advance_clock(61)
    assert client.auth_request("https://web01.example.com/", short).status == 401
    assert client.auth_request("https://web01.example.com/", remembered).status == 200


def test_inactivity_counts_even_on_403(authelia, client):
    """LastActivity is updated on a forbidden resource too."""
    configure(authelia, [{"domain": "deny.example.com", "subject": "user:john", "policy": "deny"},
                         {"domain": "*.example.com", "policy": "one_factor"}])
    authelia.add_user("john", "pw-john")
    cookie = client.login("john", "pw-john")
    authelia.advance_clock(200)
    assert client.auth_request("https://deny.example.com/", cookie).status == 403
    authelia.advance_clock(200)
    assert client.auth_request("https://web01.example.com/", cookie).status == 200


def test_group_removed_between_two_checks_with_refresh_always(authelia, client):
    configure(authelia, [{"domain": "*.ssh.example.com", "subject": "group:admins",
                          "policy": "one_factor"},
                         {"domain": "*.ssh.example.com", "policy": "deny"}],
              authentication_backend={"refresh_interval": "always"})
    authelia.add_user("alice", "pw-alice", groups=["admins"])
    cookie = client.login("alice", "pw-alice")
    r = client.auth_request("https://web01.ssh.example.com/pam/sshd", cookie)
    assert r.status == 200 and r.headers["remote-groups"] == "admins", r
    authelia.set_groups("alice", ["users"])
    r = client.auth_request("https://web01.ssh.example.com/pam/sshd", cookie)
    assert_plain(r, 403, "403 Forbidden")
    assert decision(authelia)["groups"] == ["users"]


def test_group_removal_waits_for_the_refresh_interval(authelia, client):
    configure(authelia, [{"domain": "*.ssh.example.com", "subject": "group:admins",
                          "policy": "one_factor"},
                         {"domain": "*.ssh.example.com", "policy": "deny"}])  # default 5 min
    authelia.add_user("alice", "pw-alice", groups=["admins"])
    cookie = client.login("alice", "pw-alice")
    authelia.set_groups("alice", [])
    assert client.auth_request("https://web01.ssh.example.com/", cookie).status == 200  # stale
    authelia.advance_clock(290)
    assert client.auth_request("https://web01.ssh.example.com/", cookie).status == 200
    authelia.advance_clock(11)  # 5 min after the login: refreshed
    assert client.auth_request("https://web01.ssh.example.com/", cookie).status == 403


def test_refresh_disabled_never_rereads_the_backend(authelia, client):
    configure(authelia, [{"domain": "*.ssh.example.com", "subject": "group:admins",
                          "policy": "one_factor"}],
              authentication_backend={"refresh_interval": "disable"})
    authelia.add_user("alice", "pw-alice", groups=["admins"])
    cookie = client.login("alice", "pw-alice")
    authelia.set_groups("alice", [])
    for _ in range(5):  # within the inactivity limit each time, 1000 s in all
        authelia.advance_clock(200)
        assert client.auth_request("https://web01.ssh.example.com/", cookie).status == 200


def test_vanished_user_invalidates_the_session(authelia, client):
    configure(authelia, [{"domain": "*.example.com", "policy": "one_factor"}],
              authentication_backend={"refresh_interval": "always"})
    authelia.add_user("john", "pw-john")
    cookie = client.login("john", "pw-john")
    authelia.remove_user("john")
    r = client.auth_request("https://web01.example.com/", cookie)
    assert r.status == 401 and decision(authelia)["session"] == "destroyed: user vanished", r


# --- s.2: Basic in the Authorization header (we never send it; the double follows it) ---

def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_reaches_level_1_only(authelia, client):
    configure(authelia, [{"domain": "one.example.com", "policy": "one_factor"},
                         {"domain": "two.example.com", "policy": "two_factor"}])
    authelia.add_user("john", "pw-john", groups=["dev"])
    r = client.auth_request("https://one.example.com/",
                            headers={"Authorization": basic("john", "pw-john")})
    assert r.status == 200 and r.headers["remote-user"] == "john", r
    too_weak = client.auth_request("https://two.example.com/",
                                   headers={"Authorization": basic("john", "pw-john")})
    wrong = client.auth_request("https://two.example.com/",
                                headers={"Authorization": basic("john", "nope")})
    for r in (too_weak, wrong):  # a wrong password and "needs 2FA" look identical
        assert_plain(r, 401, "401 Unauthorized")
        assert r.headers["www-authenticate"] == 'Basic realm="Authorization Required"'
    assert [h for h in too_weak.header_list if h[0] != "Date"] == \
        [h for h in wrong.header_list if h[0] != "Date"]


def test_basic_failures_are_padded_and_count_toward_bans(authelia, client):
    configure(authelia, [{"domain": "one.example.com", "policy": "one_factor"}])
    authelia.add_user("john", "pw-john")
    authelia.basic_failure_delay = 2.0  # Authelia's value
    started = time.monotonic()
    wrong = {"Authorization": basic("john", "x")}
    r = client.auth_request("https://one.example.com/", headers=wrong)
    assert r.status == 401 and time.monotonic() - started >= 2.0
    authelia.basic_failure_delay = SHORT_BASIC_PAD
    for _ in range(2):
        client.auth_request("https://one.example.com/", headers=wrong)
    assert client.login("john", "pw-john") is None  # banned by the Basic failures


def test_basic_error_on_bypass_or_subject_rule_continues_as_anonymous(authelia, client):
    configure(authelia, [{"domain": "bypass.example.com", "policy": "bypass"},
                         {"domain": "dev.example.com", "subject": "group:dev", "policy": "deny"}])
    authelia.add_user("john", "pw-john")
    bad = {"Authorization": basic("john", "x")}
    assert client.auth_request("https://bypass.example.com/", headers=bad).status == 200
    r = client.auth_request("https://dev.example.com/", headers=bad)
    assert r.status == 401 and r.headers["www-authenticate"], r


def test_proxy_authorization_is_ignored_by_default(authelia, client):
    configure(authelia, [{"domain": "one.example.com", "policy": "one_factor"}])
    authelia.add_user("john", "pw-john")
    r = client.auth_request("https://one.example.com/",
                            headers={"Proxy-Authorization": basic("john", "pw-john")})
    assert r.status == 401 and "location" in r.headers and "www-authenticate" not in r.headers


def test_bearer_is_skipped_when_only_basic_is_allowed(authelia, client, john):
    r = client.auth_request("https://web01.example.com/", john,
                            headers={"Authorization": "Bearer authelia_at_xyz"})
    assert r.status == 200 and r.headers["remote-user"] == "john", r


# --- s.4: rule matching ---------------------------------------------------------------

@pytest.fixture
def users(authelia, client):
    authelia.configure({"session": BASE_SESSION})
    authelia.add_user("john", "pw-john", groups=["dev", "ssh"])
    authelia.add_user("jane", "pw-jane", groups=["Admins"])
    return lambda name: client.login(name, f"pw-{name}")


def check(authelia, client, rules, url, cookie, default_policy=None, method="GET", xff=None):
    configure(authelia, rules, default_policy)
    r = client.auth_request(url, cookie, method=method, xff=xff)
    return r.status, decision(authelia)["rule"]


@pytest.mark.parametrize("domain,host,matches", [
    ("web01.example.com", "web01.example.com", True),
    ("Web01.Example.com", "WEB01.example.COM", True),
    ("web01.example.com", "web02.example.com", False),
    ("*.ssh.example.com", "web01.ssh.example.com", True),
    ("*.ssh.example.com", "a.b.ssh.example.com", True),
    ("*.ssh.example.com", "ssh.example.com", False),   # *.x does not match x
    ("*.ssh.example.com", "xssh.example.com", False),  # no dot before the suffix
    ("{user}.example.com", "john.example.com", True),
    ("{user}.example.com", "JOHN.example.com", True),
    ("{user}.example.com", "jane.example.com", False),
    ("{group}.example.com", "dev.example.com", True),
    ("{group}.example.com", "ops.example.com", False),
])
def test_domain(authelia, client, users, domain, host, matches):
    cookie = users("john")
    status, rule = check(authelia, client, [{"domain": domain, "policy": "one_factor"}],
                         f"https://{host}/", cookie)
    assert (rule == 1) == matches and status == (200 if matches else 403)


@pytest.mark.parametrize("pattern,host,user,matches", [
    (r"^db[0-9]+\.ssh\.example\.com$", "db01.ssh.example.com", "john", True),
    (r"^db[0-9]+\.ssh\.example\.com$", "dbx.ssh.example.com", "john", False),
    (r"db", "web-db.example.com", "john", True),                        # unanchored
    (r"^(?P<User>\w+)\.home\.example\.com$", "john.home.example.com", "john", True),
    (r"^(?P<User>\w+)\.home\.example\.com$", "jane.home.example.com", "john", False),
    (r"^(?<Group>\w+)\.team\.example\.com$", "ssh.team.example.com", "john", True),
    (r"^(?P<Group>\w+)\.team\.example\.com$", "ops.team.example.com", "john", False),
])
def test_domain_regex(authelia, client, users, pattern, host, user, matches):
    status, rule = check(authelia, client, [{"domain_regex": pattern, "policy": "one_factor"}],
                         f"https://{host}/", users(user))
    assert (rule == 1) == matches


@pytest.mark.parametrize("url,path", [
    ("https://h.example.com/pam/sshd", "/pam/sshd"),
    ("https://h.example.com/pam/../sudo?x=1", "/sudo?x=1"),
    ("https://h.example.com", "."),
    ("https://h.example.com/", "/"),
    ("https://h.example.com/?a=b", "/?a=b"),
    ("https://h.example.com/pam/sshd/", "/pam/sshd/"),
    ("https://h.example.com/pam//./sshd/?q", "/pam/sshd/?q"),
    ("https://h.example.com/pam/%2e%2e/sudo", "/sudo"),     # decoded before cleaning
    ("https://h.example.com/a/../../b", "/b"),
    ("https://h.example.com?x=1", ".?x=1"),
])
def test_resources_match_the_cleaned_path(authelia, client, users, url, path):
    cookie = users("john")
    status, rule = check(authelia, client, [{"domain": "h.example.com",
                                             "resources": ["^" + re.escape(path) + "$"],
                                             "policy": "one_factor"}], url, cookie)
    assert decision(authelia)["path"] == path
    assert (status, rule) == (200, 1)


def test_resources_are_regexes_against_the_path_and_query(authelia, client, users):
    rules = [{"domain": "h.example.com", "resources": ["^/pam/(sshd|sudo)$"],
              "policy": "one_factor"}]
    cookie = users("john")
    assert check(authelia, client, rules, "https://h.example.com/pam/sudo", cookie)[1] == 1
    assert check(authelia, client, rules, "https://h.example.com/pam/su", cookie)[1] is None
    assert check(authelia, client, rules, "https://h.example.com/pam/sshd?x", cookie)[1] is None


def test_methods(authelia, client, users):
    rules = [{"domain": "h.example.com", "methods": ["POST", "put"], "policy": "one_factor"}]
    cookie = users("john")
    assert check(authelia, client, rules, "https://h.example.com/", cookie, method="GET")[1] is None
    assert check(authelia, client, rules, "https://h.example.com/", cookie, method="PUT")[1] == 1


def test_query_criterion(authelia, client, users):
    rules = [{"domain": "h.example.com", "policy": "one_factor", "query": [
        [{"key": "mode", "value": "ssh"}, {"key": "debug", "operator": "absent"}],
        [{"key": "v", "operator": "pattern", "value": "^[0-9]+$"}]]}]
    cookie = users("john")
    for q, rule in [("mode=ssh", 1), ("mode=ssh&debug", None), ("v=12", 1), ("v=1a", None),
                    ("mode=sudo", None)]:
        assert check(authelia, client, rules, f"https://h.example.com/?{q}", cookie)[1] == rule, q


@pytest.mark.parametrize("subject,user,matches", [
    ("user:john", "john", True),
    ("user:John", "john", False),                          # case-sensitive
    ("group:dev", "john", True),
    ("group:Dev", "john", False),                          # case-sensitive
    ("group:admins", "jane", False),                       # jane is in "Admins"
    (["group:ops", "user:john"], "john", True),            # outer list: OR
    ([["group:dev", "group:ssh"]], "john", True),          # inner list: AND
    ([["group:dev", "group:ops"]], "john", False),
    ([["group:dev", "group:ops"], "user:jane"], "jane", True),
    ("oauth2:client:pam", "john", False),
])
def test_subject(authelia, client, users, subject, user, matches):
    rules = [{"domain": "h.example.com", "subject": subject, "policy": "one_factor"}]
    status, rule = check(authelia, client, rules, "https://h.example.com/", users(user))
    assert (rule == 1) == matches and status == (200 if matches else 403)


def test_anonymous_subject_matches_every_subject_criterion(authelia, client, users):
    rules = [{"domain": "h.example.com", "subject": "user:jane", "policy": "one_factor"},
             {"domain": "h.example.com", "policy": "bypass"}]
    # anonymous: the first rule matches whatever its subject says, so no bypass
    assert check(authelia, client, rules, "https://h.example.com/", None) == (401, 1)
    # john: the first rule is not his, the bypass is
    assert check(authelia, client, rules, "https://h.example.com/", users("john")) == (200, 2)
    # deny with a subject turns into U for the anonymous subject; 403 for the user
    rules = [{"domain": "h.example.com", "subject": "user:john", "policy": "deny"}]
    assert check(authelia, client, rules, "https://h.example.com/", None) == (401, 1)
    assert check(authelia, client, rules, "https://h.example.com/", users("john")) == (403, 1)


def test_first_match_and_default_policy(authelia, client, users):
    cookie = users("john")
    rules = [{"domain": "h.example.com", "policy": "deny"},
             {"domain": "h.example.com", "policy": "one_factor"}]
    assert check(authelia, client, rules, "https://h.example.com/", cookie) == (403, 1)
    assert check(authelia, client, [], "https://h.example.com/", cookie) == (403, None)
    assert check(authelia, client, [], "https://h.example.com/", cookie,
                 default_policy="one_factor") == (200, None)
    assert check(authelia, client, [], "https://h.example.com/", cookie,
                 default_policy="two_factor") == (401, None)


@pytest.mark.parametrize("bad", [
    {"rules": [{"domain": "h.example.com", "subject": "user:john", "policy": "bypass"}]},
    {"rules": [{"domain_regex": r"^(?P<User>\w+)\.example\.com$", "policy": "bypass"}]},
    {"rules": [{"domain": "{user}.example.com", "policy": "bypass"}]},
    {"rules": [{"policy": "one_factor"}]},
    {"rules": [{"domain": "h.example.com", "policy": "2fa"}]},
    {"rules": [{"domain": "h.example.com", "networks": ["office"], "policy": "deny"}]},
    {"rules": [{"domain": "h.example.com", "methods": ["FETCH"], "policy": "deny"}]},
    {"rules": [{"domains": "h.example.com", "policy": "deny"}]},
    {"default_policy": "allow"},
])
def test_configuration_errors_are_refused(authelia, bad):
    with pytest.raises(ValueError):
        authelia.configure({"access_control": bad})


# --- s.5: the subject IP ----------------------------------------------------------------

@pytest.mark.parametrize("xff,ip", [
    ("192.0.2.7", "192.0.2.7"),
    ("::ffff:192.0.2.7", "::ffff:c000:207"),
    ("2001:db8::1", "2001:db8::1"),
    (" 192.0.2.7 , 10.0.0.1", "192.0.2.7"),     # first entry, trimmed
    ("10.0.0.1, 192.0.2.7", "10.0.0.1"),
    ("[2001:db8::1]", "127.0.0.1"),              # rejected: the peer is used
    ("fe80::1%eth0", "127.0.0.1"),
    ("192.0.2.7:5555", "127.0.0.1"),
    ("ssh-client.example.com", "127.0.0.1"),
    ("192.0.2.07", "127.0.0.1"),
    ("unknown, 192.0.2.7", "127.0.0.1"),         # only the first entry counts
    ("", "127.0.0.1"),
    (None, "127.0.0.1"),
])
def test_subject_ip_from_x_forwarded_for(authelia, client, users, xff, ip):
    configure(authelia, [{"domain": "h.example.com", "policy": "one_factor"}])
    client.auth_request("https://h.example.com/", users("john"), xff=xff)
    assert decision(authelia)["ip"] == ip


@pytest.mark.parametrize("xff,rule", [
    ("192.0.2.7", 1),
    ("::ffff:192.0.2.7", 1),                     # IPv4-mapped matches IPv4 CIDRs
    ("192.0.3.1", 3),
    ("2001:db8::5", 2),                          # the named network
    ("2001:db9::5", 3),
    ("[2001:db8::5]", 3),                        # rejected: the peer 127.0.0.1
    (None, 3),
])
def test_networks(authelia, client, users, xff, rule):
    configure(authelia, [
        {"domain": "h.example.com", "networks": ["192.0.2.0/24"], "policy": "one_factor"},
        {"domain": "h.example.com", "networks": ["v6lab"], "policy": "one_factor"},
        {"domain": "h.example.com", "policy": "two_factor"}],
        definitions={"network": {"v6lab": ["2001:db8::/32"]}})
    client.auth_request("https://h.example.com/", users("john"), xff=xff)
    assert decision(authelia)["rule"] == rule


def test_configure_keeps_the_sections_it_is_not_given(authelia, client, users):
    authelia.configure({"access_control": {"rules": [
        {"domain": "h.example.com", "networks": "lab", "policy": "one_factor"}]},
        "definitions": {"network": {"lab": ["192.0.2.0/24"]}}})
    authelia.configure({"definitions": {"network": {"lab": ["198.51.100.0/24"]}}})
    cookie = users("john")
    client.auth_request("https://h.example.com/", cookie, xff="198.51.100.1")
    assert decision(authelia)["rule"] == 1
    authelia.configure({"session": BASE_SESSION})
    client.auth_request("https://h.example.com/", cookie, xff="198.51.100.1")
    assert decision(authelia)["rule"] == 1


def test_networks_in_the_4_38_form_and_single_addresses(authelia, client, users):
    authelia.configure({"session": BASE_SESSION, "access_control": {
        "networks": [{"name": "office", "networks": ["192.0.2.0/24", "198.51.100.9"]}],
        "rules": [{"domain": "h.example.com", "networks": "office", "policy": "one_factor"}]}})
    cookie = users("john")
    for xff, rule in [("198.51.100.9", 1), ("198.51.100.10", None), ("192.0.2.200", 1)]:
        client.auth_request("https://h.example.com/", cookie, xff=xff)
        assert decision(authelia)["rule"] == rule, xff


def test_network_rules_apply_to_the_first_factor_hint(authelia, client):
    """/api/firstfactor with targetURL: two_factor gives no data, anything else
    (deny included) a redirect to a safe target."""
    configure(authelia, [
        {"domain": "h.example.com", "networks": ["192.0.2.0/24"], "policy": "one_factor"},
        {"domain": "h.example.com", "policy": "two_factor"},
        {"domain": "deny.example.com", "policy": "deny"}])
    authelia.add_user("john", "pw-john")
    for xff, target, data in [("192.0.2.1", "https://h.example.com/pam/sshd",
                               {"redirect": "https://h.example.com/pam/sshd"}),
                              ("10.0.0.1", "https://h.example.com/pam/sshd", None),
                              ("10.0.0.1", "https://deny.example.com/",
                               {"redirect": "https://deny.example.com/"}),
                              ("10.0.0.1", "https://h.example.net/", None)]:
        assert client.login("john", "pw-john", xff=xff, targetURL=target, requestMethod="GET")
        assert json.loads(client.last.body).get("data") == data, (xff, target)
    client.login("john", "pw-john", targetURL="https://h.example.com/%zz")
    assert client.last.status == 200 and json.loads(client.last.body)["status"] == "KO"


# --- s.7: the operator example ----------------------------------------------------------

EXAMPLE = """
session:
  cookies:
    - domain: 'example.com'                       # pseudo-hosts must live under this domain
      authelia_url: 'https://auth.example.com'
access_control:
  default_policy: 'deny'
  rules:
    # ... web application rules ...
    - domain: 'bastion.ssh.example.com'           # admins from the office LAN: password only
      resources: ['^/pam/sshd$']
      networks: ['192.0.2.0/24']                  # matched against the XFF the module sent (PAM_RHOST)
      subject: ['group:admins']
      policy: 'one_factor'
    - domain: '*.ssh.example.com'                 # admins elsewhere, any host, ssh or sudo: 2FA
      resources: ['^/pam/(sshd|sudo)$']
      subject: ['group:admins']
      policy: 'two_factor'
    - domain_regex: '^db[0-9]+\\.ssh\\.example\\.com$'  # members of both dba AND ssh, ssh only
      resources: ['^/pam/sshd$']
      subject: [['group:dba', 'group:ssh']]
      policy: 'two_factor'
    - domain: '*.ssh.example.com'                 # catch-all: nothing else on SSH pseudo-hosts
      policy: 'deny'
"""

OFFICE, HOME = "192.0.2.10", "198.51.100.7"


@pytest.fixture
def example(authelia, client):
    authelia.configure(yaml.safe_load(EXAMPLE))
    for name, groups in [("alice", ["admins"]), ("dave", ["dba", "ssh"]), ("erin", ["dba"]),
                         ("bob", [])]:
        authelia.add_user(name, f"pw-{name}", totp=True, groups=groups)
    return client


@pytest.mark.parametrize("user,level,url,xff,status,rule", [
    # admins from the office LAN: one factor on the bastion, by ssh only
    ("alice", 1, "https://bastion.ssh.example.com/pam/sshd", OFFICE, 200, 1),
    ("alice", 1, "https://bastion.ssh.example.com/pam/sudo", OFFICE, 401, 2),
    ("alice", 2, "https://bastion.ssh.example.com/pam/sudo", OFFICE, 200, 2),
    # admins elsewhere: two factors
    ("alice", 1, "https://bastion.ssh.example.com/pam/sshd", HOME, 401, 2),
    ("alice", 2, "https://bastion.ssh.example.com/pam/sshd", HOME, 200, 2),
    ("alice", 1, "https://web01.ssh.example.com/pam/sshd", OFFICE, 401, 2),
    ("alice", 2, "https://web01.ssh.example.com/pam/su", OFFICE, 403, 4),
    # dba AND ssh, ssh only
    ("dave", 1, "https://db01.ssh.example.com/pam/sshd", HOME, 401, 3),
    ("dave", 2, "https://db01.ssh.example.com/pam/sshd", HOME, 200, 3),
    ("dave", 2, "https://db01.ssh.example.com/pam/sudo", HOME, 403, 4),
    ("dave", 2, "https://web01.ssh.example.com/pam/sshd", HOME, 403, 4),
    ("erin", 2, "https://db01.ssh.example.com/pam/sshd", HOME, 403, 4),   # dba alone
    # everybody else: the catch-all deny
    ("bob", 2, "https://web01.ssh.example.com/pam/sshd", OFFICE, 403, 4),
    ("bob", 1, "https://bastion.ssh.example.com/pam/sshd", OFFICE, 403, 4),
    # an anonymous question reveals nothing about a user: the first rule matches, U
    (None, 0, "https://web01.ssh.example.com/pam/sshd", HOME, 401, 2),
    # *.ssh.example.com does not cover ssh.example.com: default_policy
    ("alice", 2, "https://ssh.example.com/pam/sshd", HOME, 403, None),
])
def test_operator_example(authelia, example, user, level, url, xff, status, rule):
    cookie = None
    if user:
        cookie = (example.login2 if level == 2 else example.login)(user, f"pw-{user}")
    r = example.auth_request(url, cookie, xff=xff)
    assert r.status == status, r
    assert decision(authelia)["rule"] == rule
    if status == 200:
        assert r.headers["remote-user"] == user


def test_example_group_removed_between_the_two_checks(authelia, example):
    """The sketch's two checks (after 1FA, after 2FA) with refresh_interval always:
    the second one sees a group removed in between."""
    authelia.configure({"authentication_backend": {"refresh_interval": "always"}})
    cookie = example.login("alice", "pw-alice")
    assert example.auth_request("https://web01.ssh.example.com/pam/sshd", cookie,
                                xff=HOME).status == 401  # two_factor: go on to TOTP
    cookie = example.totp(cookie, authelia.totp("alice"))
    authelia.set_groups("alice", [])
    r = example.auth_request("https://web01.ssh.example.com/pam/sshd", cookie, xff=HOME)
    assert_plain(r, 403, "403 Forbidden")


# --- what the double records ---------------------------------------------------------

def test_every_authz_request_is_recorded_with_its_headers(authelia, client, users):
    configure(authelia, [{"domain": "h.example.com", "policy": "one_factor"}])
    cookie = users("john")
    client.auth_request("https://h.example.com/pam/sshd", cookie, xff="192.0.2.1",
                        headers={"Session-Username": "john", "User-Agent": "pam_authelia/test"})
    client.forward_auth("h.example.com", "/x", cookie)
    client.request("GET", "/api/authz/auth-request")  # a 400 is recorded too
    authelia.inject("/api/authz/auth-request", status=502, body=b"Bad Gateway",
                    content_type="text/plain", times=1)
    assert client.auth_request("https://h.example.com/pam/sshd", cookie).status == 502
    recs = authelia.authz_requests()
    assert [r["authz"]["endpoint"] for r in recs] == \
        ["auth-request", "forward-auth", "auth-request", "auth-request"]
    assert recs[3]["authz"] == {"endpoint": "auth-request", "implementation": "AuthRequest",
                                "injected": True, "status": 502}
    h = recs[0]["headers"]
    assert h["x-original-url"] == "https://h.example.com/pam/sshd"
    assert h["x-original-method"] == "GET" and h["x-forwarded-for"] == "192.0.2.1"
    assert h["session-username"] == "john" and h["cookie"] == f"authelia_session={cookie}"
    assert recs[0]["authz"]["status"] == 200 and recs[2]["authz"]["status"] == 400
    assert "authorization" not in h


# --- the engine's Go emulations, table-driven ---------------------------------------------

@pytest.mark.parametrize("text,ok", [
    ("192.0.2.7", True), ("::ffff:192.0.2.7", True), ("2001:db8::1", True), ("::1", True),
    ("[2001:db8::1]", False), ("fe80::1%eth0", False), ("192.0.2.7:5555", False),
    ("host.example.com", False), ("192.0.2.007", False), ("1.2.3", False), ("", False),
])
def test_parse_ip(text, ok):
    assert (acl.parse_ip(text) is not None) == ok


@pytest.mark.parametrize("path,clean", [
    ("", "."), ("/", "/"), ("//", "/"), ("/a/b/../c", "/a/c"), ("/../a", "/a"), ("a/../..", ".."),
    ("/a//b/./c/", "/a/b/c"), ("/a/b/..", "/a"),
])
def test_go_path_clean(path, clean):
    assert acl.go_path_clean(path) == clean
