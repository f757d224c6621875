"""The connection's own controls, against a server of the test's own (an
Authelia double whose TLS context the test changes): the server name goes out
by SNI, a server that offers nothing above TLS 1.1 is refused before any
request, and an answer's headers are capped.  (Chain and host-name
verification: test_flows.py's test_untrusted_certificates; the body's cap and
redirects: its test_bad_server_answers.)"""
import ssl
import warnings

import pytest

from conftest import HELPER


@pytest.fixture
def tls_server(certs):
    from authelia_double import AutheliaDouble
    servers = []

    def make():
        d = AutheliaDouble(certs / "server.pem", certs / "server.key")
        d.add_user("john", "pw-john")
        d.url = f"https://localhost:{d.port}"
        servers.append(d)
        return d
    yield make
    for d in servers:
        d.close()


def one_factor(login, d, certs, password="pw-john"):
    l = login(f"binary={HELPER} url={d.url} ca-cert={certs / 'ca.pem'} auth-level=1FA")
    assert l.conv() == ("echo_off", "Password: ")
    l.answer(password)
    return l


def test_the_host_name_goes_out_by_sni(login, certs, tls_server):
    """A server with one certificate per name (a reverse proxy in front of
    Authelia) picks it by SNI: every connection names url's host."""
    d = tls_server()
    names = []
    d.ctx.sni_callback = lambda sock, name, ctx: names.append(name)
    assert one_factor(login, d, certs).result()[0] == "PAM_SUCCESS"
    assert names and set(names) == {"localhost"}, names


def test_a_server_without_tls_1_2_is_refused(login, certs, syslog, tls_server):
    d = tls_server()
    with warnings.catch_warnings():  # deprecated: what the test is about
        warnings.simplefilter("ignore", DeprecationWarning)
        d.ctx.minimum_version = ssl.TLSVersion.TLSv1
        d.ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    d.ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    l = one_factor(login, d, certs)
    assert l.result()[0] == "PAM_AUTHINFO_UNAVAIL"
    assert d.handshakes == 0 and d.failed_handshakes >= 1
    assert not [r for r in d.requests if r["path"] == "/api/firstfactor"]
    assert any("TLS" in t or "protocol" in t for t in syslog.texts()), syslog.texts()


def test_headers_over_16_kib_are_refused(login, certs, syslog, tls_server):
    """An answer whose headers pass 16 KiB ends the login (the body has its own
    64 KiB cap: test_flows.py's test_bad_server_answers); a usable answer
    behind them is never read."""
    d = tls_server()
    d.inject("/api/firstfactor", status=200, body=b'{"status":"OK"}',
             headers={"X-Padding": "a" * 20000})
    l = one_factor(login, d, certs)
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert any("first factor" in t and "invalid HTTP response" in t for t in syslog.texts()), \
        syslog.texts()
    assert [r["path"] for r in d.requests] == ["/api/firstfactor"]
