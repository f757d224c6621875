"""The opt-in static build of the helper (make HELPER_LINK=static, built here
once with `make static-helper`): it logs in like the default build, and the
device flow's libjwt, which it opens with dlopen (engine/jwt_loader.c),
cannot go missing unnoticed: a helper that could never verify an ID token
refuses a login with oauth2-client-id before the first prompt
(PAM_SERVICE_ERR) and pam_authelia --check fails, instead of failing after
the user approved on a phone.  libjwt is made unloadable in a mount
namespace of the test's own (/dev/null bound over it)."""
import ctypes
import glob
import os
import subprocess

import pytest

from conftest import ROOT, SAFE_DIR, SHIM
from safe_dir import install_helper

STATIC = ROOT / "build" / "static" / "pam_authelia"
MS_REC, MS_PRIVATE, MS_BIND, CLONE_NEWNS = 0x4000, 0x40000, 0x1000, 0x20000


@pytest.fixture(scope="module")
def static_helper():
    subprocess.run(["make", "-s", "-C", str(ROOT), "static-helper"], check=True,
                   capture_output=True)
    needed = subprocess.run(["readelf", "-d", str(STATIC)], capture_output=True,
                            text=True, check=True).stdout
    # The build this file is about: OpenSSL linked in, libjwt not linked at all.
    assert "libcrypto" not in needed and "libjwt" not in needed, needed
    return install_helper(STATIC, SAFE_DIR, "pam_authelia-static")


def libjwt_path():
    found = [p for pattern in ("/usr/lib/*/libjwt.so.0", "/usr/lib/libjwt.so.0",
                               "/lib/*/libjwt.so.0") for p in glob.glob(pattern)]
    assert found, "no libjwt.so.0 on this system"
    return os.path.realpath(found[0])


def without_libjwt():
    """In the child before exec: a mount namespace of its own in which
    libjwt.so.0 is an empty file (dlopen: "file too short")."""
    libc = ctypes.CDLL(None, use_errno=True)
    if (libc.unshare(CLONE_NEWNS) != 0 or
            libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0 or
            libc.mount(b"/dev/null", libjwt_path().encode(), None, MS_BIND, None) != 0):
        raise OSError(ctypes.get_errno(), "cannot hide libjwt")


def line(helper, authelia, certs, extra=""):
    return (f"binary={helper} url={authelia.url} ca-cert={certs / 'ca.pem'} debug "
            f"{extra}").strip()


DEVICE = ("method-priority=device_authorization,user oauth2-client-id=pam-authelia "
          "oauth2-client-secret=s3cret-client")


def test_totp_login_with_the_static_helper(static_helper, login, authelia, certs, syslog):
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = login(line(static_helper, authelia, certs))
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("pw-john")
    assert l.conv() == ("echo_on", "TOTP Code: ")
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS"
    assert f"POST {authelia.url}/api/secondfactor/totp" in syslog.texts()


def test_device_login_with_the_static_helper_opens_libjwt(static_helper, login, authelia,
                                                          certs, syslog):
    authelia.oidc.interval = 1
    l = login(line(static_helper, authelia, certs, DEVICE))
    style, text = l.conv()
    assert style == "echo_on" and text.endswith("Approve on your device, then press Enter.")
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    assert any(t.startswith("device identity verified") for t in syslog.texts())


def test_unloadable_libjwt_refuses_before_the_first_prompt(static_helper, login, authelia,
                                                           certs, syslog):
    l = login(line(static_helper, authelia, certs, DEVICE), preexec=without_libjwt)
    assert l.result()[0] == "PAM_SERVICE_ERR"  # no conversation at all
    assert authelia.requests == []
    assert any("cannot load libjwt.so.0 (ID token verification of the device flow)" in t
               and "file too short" in t for t in syslog.texts()), syslog.texts()


def test_unloadable_libjwt_without_the_device_flow_is_no_matter(static_helper, login,
                                                                 authelia, certs):
    authelia.add_user("john", "pw-john")
    l = login(line(static_helper, authelia, certs, "auth-level=1FA"), preexec=without_libjwt)
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("pw-john")
    assert l.result()[0] == "PAM_SUCCESS"


def test_check_fails_when_libjwt_is_unloadable(static_helper, authelia, certs, tmp_path):
    pam = tmp_path / "pamtest"
    pam.write_text(f"auth required {SHIM} {line(static_helper, authelia, certs, DEVICE)}\n")
    by_hand = ["--check", "--url", authelia.url, "--oauth2-client-id", "pam-authelia"]
    for args, status in ((["--check", "--pam-file", str(pam)], 2), (by_hand, 1)):
        r = subprocess.run([str(static_helper), *args], capture_output=True, text=True, env={},
                           timeout=60, preexec_fn=without_libjwt)
        assert r.returncode == status, (r.stdout, r.stderr)
        out = r.stdout + r.stderr
        assert "cannot load libjwt.so.0 (ID token verification of the device flow)" in out, out
        if status == 2:
            assert "FAIL " in out and "fix: install libjwt0" in out, out
    # and with libjwt in place, both are content
    r = subprocess.run([str(static_helper), *by_hand], capture_output=True, text=True, env={})
    assert r.returncode == 0, r.stderr
