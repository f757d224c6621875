"""pam_authelia --check, the doctor: each check met with a broken
configuration of its own (a PAM file, an sshd_config, the Authelia test
double scripted to misbehave), the exit status 0 / 1 / 2, and the one line
per finding with its fix.  The doctor runs as root, as an operator runs it."""
import os
import socket
import subprocess

import pytest

from conftest import HELPER, SHIM
from test_sandbox import expected_identity, proc_status

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def doctor(*args):
    r = subprocess.run([str(HELPER), "--check", *map(str, args)], capture_output=True,
                       text=True, env={}, timeout=60)
    lines = r.stdout.splitlines()
    assert r.stderr == "", r.stderr
    assert lines[-1].startswith("summary: "), lines
    for line in lines[:-1]:
        assert line[:5] in ("OK   ", "WARN ", "FAIL "), line
        if not line.startswith("OK"):
            assert "; fix: " in line, line
    return r.returncode, lines[:-1]


def has(lines, level, *needles):
    return any(l.startswith(level) and all(n in l for n in needles) for l in lines)


@pytest.fixture
def pam_dir(tmp_path):
    d = tmp_path / "pam.d"
    d.mkdir()
    return d


def line(authelia, certs, extra="", control="required", module=SHIM):
    return (f"auth {control} {module} binary={HELPER} url={authelia.url} "
            f"ca-cert={certs / 'ca.pem'} {extra}").rstrip() + "\n"


def service(pam_dir, text, name="pamtest"):
    f = pam_dir / name
    f.write_text(text)
    return f


# --- all well, and the exit status -------------------------------------------

def test_a_good_configuration_is_all_ok(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs, "auth-level=1FA+2FA") +
                "account required pam_permit.so\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 0, lines
    assert lines[0] == f"OK   {f} loads pam_authelia.so"
    assert has(lines, "OK", f"{f}:1: options valid (url={authelia.url} auth-level=1FA+2FA "
               "timeout=60)")
    assert has(lines, "OK", f"helper {HELPER} is a root-owned executable")
    assert has(lines, "OK", "every failure of pam_authelia.so fails the login", "`required`")
    assert has(lines, "OK", "Authelia reachable (/api/health status 200")
    assert has(lines, "OK", f"TLS certificate of localhost:{authelia.port} verified with "
               f"{certs / 'ca.pem'}")
    assert has(lines, "OK", "Authelia's clock is within 10 s of ours")
    assert not any(l.startswith(("WARN", "FAIL")) for l in lines)


def test_a_file_without_the_module_fails(pam_dir):
    f = service(pam_dir, "auth required pam_unix.so\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", f"{f} loads pam_authelia.so nowhere", "fix: add an `auth required")


def test_an_unreadable_pam_file_fails(tmp_path):
    rc, lines = doctor("--pam-file", tmp_path / "missing")
    assert rc == 2 and has(lines, "FAIL", "cannot read PAM file")


# --- includes ------------------------------------------------------------------

@pytest.mark.parametrize("how", ["auth include common-x", "auth substack common-x",
                                 "@include common-x"])
def test_includes_are_followed(pam_dir, authelia, certs, how):
    service(pam_dir, "# the shared part\n" + line(authelia, certs), "common-x")
    f = service(pam_dir, f"{how}\naccount required pam_permit.so\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 0, lines
    assert has(lines, "OK", f"{pam_dir / 'common-x'}:2: options valid")


def test_a_missing_include_fails(pam_dir, authelia, certs):
    f = service(pam_dir, "@include common-nothere\n" + line(authelia, certs))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", f"{f}:1: included file", "common-nothere: No such file")


def test_an_include_loop_is_reported_not_followed_forever(pam_dir, authelia, certs):
    service(pam_dir, "@include loop-b\n" + line(authelia, certs), "loop-a")
    service(pam_dir, "@include loop-a\n", "loop-b")
    rc, lines = doctor("--pam-file", pam_dir / "loop-a")
    assert rc == 2 and has(lines, "FAIL", "nested deeper than 16 (a loop?)")


def test_continued_lines_and_bracketed_controls_are_read(pam_dir, authelia, certs):
    f = service(pam_dir, "auth [success=ok default=die] \\\n  " + line(authelia, certs)[14:])
    rc, lines = doctor("--pam-file", f)
    assert rc == 0, lines
    assert has(lines, "OK", "`[success=ok default=die]`")


def test_a_syntax_error_fails(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs) + "auth [success=ok bogus=die] pam_unix.so\n"
                "auth mandatory pam_unix.so\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", f"{f}:2:", 'unknown return value "bogus"')
    assert has(lines, "FAIL", f"{f}:3:", 'unknown control flag "mandatory"')


# --- each line's options, as a login validates them --------------------------

@pytest.mark.parametrize("extra,message", [
    ("auth-level=3FA", 'invalid auth level "3FA": must be 1FA, 2FA, or 1FA+2FA'),
    ("colour=blue", 'unknown option "colour"'),
    ("timeout=0", 'invalid timeout "0"'),
    ("method-priority=device_authorization",
     "--method-priority includes device_authorization but --oauth2-client-id is not set"),
    ("oauth2-scope=openid", "--oauth2-scope must include authelia.pam"),
])
def test_bad_options_fail_with_the_logins_message(pam_dir, authelia, certs, extra, message):
    f = service(pam_dir, line(authelia, certs, extra))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", f"{f}:1: {message}", "fix: correct the option")


def test_a_url_that_is_not_https_fails(pam_dir, certs):
    f = service(pam_dir, f"auth required {SHIM} binary={HELPER} url=http://localhost\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", 'URL scheme must be https, got "http"')


def test_an_unreadable_ca_cert_fails(pam_dir, authelia, certs):
    f = service(pam_dir, f"auth required {SHIM} binary={HELPER} url={authelia.url} "
                f"ca-cert={certs / 'nope.pem'}\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", f"failed to read CA certificate {certs / 'nope.pem'}",
               "fix: ca-cert= must name")


def test_a_ca_cert_others_can_change_fails(pam_dir, authelia, certs, tmp_path):
    """The trust anchor gets the helper binary's rule: a CA file below a
    directory others can write (here /tmp), or one others can change, is
    what every login would refuse."""
    import shutil
    ca = tmp_path / "ca.pem"
    shutil.copy(certs / "ca.pem", ca)
    ca.chmod(0o644)
    f = service(pam_dir, f"auth required {SHIM} binary={HELPER} url={authelia.url} "
                f"ca-cert={ca}\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", f"{f}:1: failed to read CA certificate {ca}: directory /tmp must "
               "be owned by root and writable by its owner only; fix: move the file below "
               "directories only root can write (such as /etc/ssl/certs)"), lines


def test_a_relative_binary_fails(pam_dir, authelia, certs):
    f = service(pam_dir, f"auth required {SHIM} url={authelia.url} binary=pam_authelia\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", "binary must be an absolute path")


@pytest.mark.parametrize("mode,uid,message", [
    (0o775, 0, "is writable by group or others (mode 0775)"),
    (0o755, 42000, "is owned by uid 42000, not root"),
    (0o644, 0, "is not an executable file"),
])
def test_a_helper_the_module_would_refuse_fails(pam_dir, authelia, certs, tmp_path, mode, uid,
                                                 message):
    helper = tmp_path / "helper"
    helper.write_bytes(HELPER.read_bytes())
    os.chown(helper, uid, 0)
    helper.chmod(mode)
    f = service(pam_dir, line(authelia, certs).replace(f"binary={HELPER}", f"binary={helper}"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", f"helper {helper} {message}")


def test_a_helper_below_a_directory_others_can_write_fails(pam_dir, authelia, certs, tmp_path):
    """The module's own rule (protocol/binary_path.c): a helper under /tmp, or
    reached through a symlink there, would not run."""
    helper = tmp_path / "helper"
    helper.write_bytes(HELPER.read_bytes())
    helper.chmod(0o755)
    f = service(pam_dir, line(authelia, certs).replace(f"binary={HELPER}", f"binary={helper}"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", f"helper binary {helper}: directory /tmp must be "
                           "owned by root", "the module will not run it")


def test_a_missing_helper_fails(pam_dir, authelia, certs, tmp_path):
    f = service(pam_dir, line(authelia, certs).replace(f"binary={HELPER}",
                                                       f"binary={tmp_path / 'none'}"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", f"helper {tmp_path / 'none'}: No such file")


def test_a_module_that_is_not_installed_fails(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs, module="/nonexistent/pam_authelia.so"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", "module /nonexistent/pam_authelia.so not found")


def test_the_module_on_an_account_line_fails(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs) + f"account required {SHIM}\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", f"{f}:2: pam_authelia.so in a account stack: it only provides auth")


def test_an_inline_secret_warns(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs, "oauth2-client-id=pam-authelia "
                              "oauth2-client-secret=s3cret-client"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 1, lines
    assert has(lines, "WARN", "oauth2-client-secret= puts the client secret in a PAM file",
               "oauth2-client-secret-file=")
    assert not any("s3cret-client" in l for l in lines)


def test_secret_file_permissions(pam_dir, authelia, certs, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-client\n")
    secret.chmod(0o640)
    f = service(pam_dir, line(authelia, certs, "oauth2-client-id=pam-authelia "
                              f"oauth2-client-secret-file={secret}"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", f"oauth2-client-secret-file {secret} can be read or changed by "
               f"group or others (mode 0640); fix: chmod 600 {secret}")
    secret.chmod(0o600)
    rc, lines = doctor("--pam-file", f)
    assert rc == 0, lines
    assert has(lines, "OK", f"secret file {secret} is a root-owned regular file")


# --- control flags that weaken the login --------------------------------------

def test_sufficient_in_front_of_pam_unix_is_not_enforced(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs, control="sufficient") +
                "auth required pam_unix.so\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", "when Authelia refuses the login (PAM_AUTH_ERR",
               "succeeds through pam_unix.so", "Authelia is not enforced", "`sufficient`")


def test_sufficient_before_pam_permit_lets_anyone_in(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs, control="sufficient") +
                "auth required pam_permit.so\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", "with no other module needed")


def test_sufficient_after_pam_unix_with_nothing_after(pam_dir, authelia, certs):
    """The 2FA stack written with sufficient: a refused second factor logs in."""
    f = service(pam_dir, "auth required pam_unix.so\n" + line(authelia, certs, "auth-level=2FA",
                                                                control="sufficient"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", "Authelia is not enforced")


def test_sufficient_alone_with_nothing_after_warns(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs, control="sufficient"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 1, lines
    assert has(lines, "WARN", f"{f}:1: `sufficient` ignores some failures of pam_authelia.so "
               "and no module follows it")


def test_a_success_jump_over_the_module(pam_dir, authelia, certs):
    """Debian's common-auth pattern with pam_authelia behind the jump target."""
    f = service(pam_dir, "auth [success=2 default=ignore] pam_unix.so\n" +
                line(authelia, certs, control="[success=1 default=ignore]") +
                "auth requisite pam_deny.so\nauth required pam_permit.so\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", "Authelia is not enforced")


def test_authinfo_unavail_ignore_in_front_of_nothing_fails_open(pam_dir, authelia, certs):
    f = service(pam_dir, "auth required pam_unix.so\n" + line(
        authelia, certs, "auth-level=2FA",
        control="[success=ok authinfo_unavail=ignore default=bad]"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 1, lines
    assert has(lines, "WARN", "returns PAM_AUTHINFO_UNAVAIL", "succeeds through pam_unix.so",
               "fails open")


def test_requisite_and_the_debian_common_auth_shape_are_fine(pam_dir, authelia, certs):
    f = service(pam_dir, "auth [success=1 default=ignore] pam_unix.so\n"
                "auth requisite pam_deny.so\nauth required pam_permit.so\n" +
                line(authelia, certs, "auth-level=2FA", control="requisite"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 0, lines


def test_a_substack_keeps_done_inside_it(pam_dir, authelia, certs):
    """sufficient ends only its substack: the module after it still decides."""
    service(pam_dir, "auth sufficient pam_unix.so\n", "common-x")
    f = service(pam_dir, "auth substack common-x\n" + line(authelia, certs, "auth-level=2FA"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 0, lines


# --- sshd ------------------------------------------------------------------------

GOOD_SSHD = """UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
AuthenticationMethods keyboard-interactive
LoginGraceTime 2m
"""


@pytest.fixture
def sshd_config(tmp_path):
    key = tmp_path / "hostkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)

    def make(text):
        c = tmp_path / "sshd_config"
        c.write_text(f"HostKey {key}\n" + text)
        return c
    return make


def test_a_good_sshd(pam_dir, authelia, certs, sshd_config):
    f = service(pam_dir, line(authelia, certs), "sshd")
    rc, lines = doctor("--pam-file", f, "--sshd-config", sshd_config(GOOD_SSHD))
    assert rc == 0, lines
    for needle in ["sshd: UsePAM yes", "sshd: KbdInteractiveAuthentication yes",
                   "sshd: AuthenticationMethods keyboard-interactive",
                   "sshd: LoginGraceTime 120 s"]:
        assert has(lines, "OK", needle), needle


@pytest.mark.parametrize("old,new,level,message", [
    ("UsePAM yes\n", "UsePAM no\n", "FAIL", "sshd: UsePAM is no"),
    ("KbdInteractiveAuthentication yes\nPasswordAuthentication no\n"
     "AuthenticationMethods keyboard-interactive\n",
     "KbdInteractiveAuthentication no\nPasswordAuthentication no\nAuthenticationMethods "
     "publickey\n", "FAIL",
     "sshd: KbdInteractiveAuthentication is no"),
    ("AuthenticationMethods keyboard-interactive\n", "AuthenticationMethods publickey\n", "FAIL",
     "AuthenticationMethods publickey never uses keyboard-interactive"),
    ("AuthenticationMethods keyboard-interactive\n", "", "WARN",
     "AuthenticationMethods any: a public key alone logs in"),
    ("PasswordAuthentication no\n", "PasswordAuthentication yes\n", "WARN",
     "PasswordAuthentication yes"),
    ("LoginGraceTime 2m\n", "LoginGraceTime 30\n", "WARN",
     "LoginGraceTime 30 s is not longer than the module's timeout=60"),
])
def test_sshd_settings_that_break_the_module(pam_dir, authelia, certs, sshd_config, old, new,
                                             level, message):
    f = service(pam_dir, line(authelia, certs), "sshd")
    rc, lines = doctor("--pam-file", f, "--sshd-config", sshd_config(GOOD_SSHD.replace(old, new)))
    assert has(lines, level, message), lines
    assert rc == (2 if level == "FAIL" else 1)


@pytest.mark.parametrize("usedns,level", [("yes", "FAIL"), ("no", "OK")])
def test_usedns_with_the_access_check(pam_dir, authelia, certs, sshd_config, usedns, level):
    """The access check refuses a PAM_RHOST that is a host name."""
    f = service(pam_dir, line(authelia, certs, "authz-url=https://web01.localhost/pam/%s"),
                "sshd")
    rc, lines = doctor("--pam-file", f, "--sshd-config",
                       sshd_config(GOOD_SSHD + f"UseDNS {usedns}\n"))
    if level == "FAIL":
        assert has(lines, "FAIL", "sshd: UseDNS yes puts the client's host name in PAM_RHOST, "
                   "which the access check (authz-url) refuses", "fix: UseDNS no"), lines
        assert rc == 2
    else:
        assert has(lines, "OK", "sshd: UseDNS no"), lines


def test_usedns_without_the_access_check_is_not_reported(pam_dir, authelia, certs, sshd_config):
    f = service(pam_dir, line(authelia, certs), "sshd")
    rc, lines = doctor("--pam-file", f, "--sshd-config", sshd_config(GOOD_SSHD + "UseDNS yes\n"))
    assert rc == 0 and not any("UseDNS" in l for l in lines), lines


def test_a_long_module_timeout_against_the_default_grace_time(pam_dir, authelia, certs,
                                                             sshd_config):
    f = service(pam_dir, line(authelia, certs, "timeout=300"), "sshd")
    rc, lines = doctor("--pam-file", f, "--sshd-config",
                       sshd_config(GOOD_SSHD.replace("LoginGraceTime 2m\n", "")))
    assert rc == 1
    assert has(lines, "WARN", "LoginGraceTime 120 s is not longer than the module's timeout=300",
               "fix: LoginGraceTime 330s or more")


def test_an_sshd_config_sshd_refuses(pam_dir, authelia, certs, sshd_config):
    f = service(pam_dir, line(authelia, certs), "sshd")
    rc, lines = doctor("--pam-file", f, "--sshd-config", sshd_config("NoSuchKeyword yes\n"))
    assert rc == 2 and has(lines, "FAIL", "sshd -T -f", "fix: correct sshd_config")


def test_sshd_is_left_alone_for_other_services(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs), "sudo")
    rc, lines = doctor("--pam-file", f)
    assert not any(l[5:].startswith("sshd") for l in lines), lines


# --- Authelia over the network ---------------------------------------------------

def test_authelia_unreachable(pam_dir, certs):
    f = service(pam_dir, f"auth required {SHIM} binary={HELPER} url=https://127.0.0.1:1\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", "connection to 127.0.0.1:1 refused or unreachable",
               "fix: check url, DNS and firewalls")


def test_the_network_probe_runs_sandboxed(pam_dir, certs):
    """The doctor runs as root, but what talks to the server is a child that
    applied the login's sandbox before it connected: seen in /proc while the
    server (a listener that never answers) stalls the TLS handshake."""
    name, (uid, gid) = expected_identity()
    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(1)
    port = stall.getsockname()[1]
    f = service(pam_dir, f"auth required {SHIM} binary={HELPER} url=https://127.0.0.1:{port} "
                f"ca-cert={certs / 'ca.pem'}\n")
    doc = subprocess.Popen([str(HELPER), "--check", "--pam-file", str(f)], env={},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stall.settimeout(20)
        conn, _ = stall.accept()  # the probe connected: its sandbox is on
        with open(f"/proc/{doc.pid}/task/{doc.pid}/children") as c:
            children = [int(p) for p in c.read().split()]
        assert len(children) == 1, children
        assert proc_status(doc.pid)["Uid"].split()[0] == "0"  # the doctor itself: root
        # (not assert_confined: make check runs this suite with the ASan helper
        # too, whose sandbox leaves LeakSanitizer its process limit)
        s = proc_status(children[0])
        assert s["Uid"].split() == [str(uid)] * 4 and s["Gid"].split() == [str(gid)] * 4, s
        assert s["Groups"] == "" and int(s["CapEff"], 16) == 0 and int(s["CapPrm"], 16) == 0
        assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2", s
        conn.close()  # the handshake fails: a FAIL finding, and the doctor goes on
        out, err = doc.communicate(timeout=30)
    finally:
        stall.close()
        if doc.poll() is None:
            doc.kill()
            doc.wait()
    assert doc.returncode == 2, (out, err)
    assert f"FAIL https://127.0.0.1:{port}: " in out, out
    assert out.splitlines()[-1].startswith("summary: "), out


def test_the_probe_child_keeps_nothing_of_the_doctors(pam_dir, authelia, certs, tmp_path):
    """Root runs the doctor from a terminal, with a descriptor of its own open,
    and other services' lines hold inline client secrets (one probed before,
    one after): the probe child, stalled against a listener that never
    answers, has /dev/null on 0, its pipe to the doctor on 1 and 2, nothing of
    the terminal or the doctor's descriptors, and no other target's secret in
    its memory (wiped, not only freed)."""
    from test_memory_scan import find, snapshot
    before, after = "s3cret-Before-4c1d9e/client", "s3cret-After-77ab0f/client"
    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(1)
    port = stall.getsockname()[1]
    f = service(pam_dir, line(authelia, certs, "oauth2-client-id=pam-before "
                              f"oauth2-client-secret={before}")
                + f"auth required {SHIM} binary={HELPER} url=https://127.0.0.1:{port} "
                f"ca-cert={certs / 'ca.pem'}\n"
                + line(authelia, certs, f"oauth2-client-id=pam-after oauth2-client-secret={after}"))
    master, terminal = os.openpty()
    mine = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    doc = subprocess.Popen([str(HELPER), "--check", "--pam-file", str(f)], env={},
                           stdin=terminal, stdout=subprocess.PIPE, stderr=terminal,
                           pass_fds=[mine], text=True)
    os.close(terminal)
    doctor_stdout = os.fstat(doc.stdout.fileno()).st_ino
    try:
        stall.settimeout(20)
        conn, _ = stall.accept()  # the probe of the second line connected
        with open(f"/proc/{doc.pid}/task/{doc.pid}/children") as c:
            (child,) = [int(p) for p in c.read().split()]
        fds = {int(n): os.readlink(f"/proc/{child}/fd/{n}") for n in os.listdir(f"/proc/{child}/fd")}
        pipe = os.stat(f"/proc/{child}/fd/1").st_ino
        mem = snapshot(child)
        conn.close()
        out, _ = doc.communicate(timeout=30)
    finally:
        stall.close()
        os.close(mine)
        os.close(master)
        if doc.poll() is None:
            doc.kill()
            doc.wait()
    assert fds[0] == "/dev/null", fds
    assert fds[1] == fds[2] and fds[1].startswith("pipe:"), fds
    assert pipe != doctor_stdout  # its own pipe, not the doctor's stdout
    assert not [t for t in fds.values() if t.startswith("/dev/pts") or t == str(tmp_path)], fds
    assert not [t for t in fds.values() if t.startswith("/") and t != "/dev/null"], fds
    if "PAM_AUTHELIA_HELPER" not in os.environ:  # ASan's heap is not glibc's: the ASan run skips the scan
        assert find(mem, f"url=https://127.0.0.1:{port}".encode())  # the scan sees the heap
        assert find(mem, before.encode()) == [] and find(mem, after.encode()) == []
    # The findings came through the pipe, each once; the doctor went on.
    assert f"FAIL https://127.0.0.1:{port}: " in out, out
    assert out.count("oauth2-client-secret= puts the client secret") == 2, out
    assert out.splitlines()[-1].startswith("summary: "), out


def test_a_caller_that_ignores_sigchld(pam_dir, authelia, certs):
    """SIGCHLD ignored (inherited across execve): the kernel reaps the probe
    child and waitpid fails with ECHILD; the child's trailer alone says it
    finished, and a good configuration stays all OK."""
    import signal
    f = service(pam_dir, line(authelia, certs, "auth-level=1FA+2FA") +
                "account required pam_permit.so\n")
    r = subprocess.run([str(HELPER), "--check", "--pam-file", str(f)], capture_output=True,
                       text=True, env={}, timeout=60,
                       preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))
    assert r.returncode == 0, r.stdout
    assert "Authelia reachable (/api/health status 200" in r.stdout
    assert not [l for l in r.stdout.splitlines() if l.startswith("FAIL")], r.stdout
    assert r.stderr == "", r.stderr


def test_a_probe_that_cannot_be_sandboxed_does_not_probe(pam_dir, authelia, certs, tmp_path):
    """No unprivileged user: not probed as root, a FAIL instead."""
    passwd = tmp_path / "passwd"
    passwd.write_text("".join(l for l in open("/etc/passwd")
                              if l.split(":")[0] not in ("nobody", "_pam_authelia")))
    f = service(pam_dir, line(authelia, certs))
    r = subprocess.run(["unshare", "--mount", "sh", "-c",
                        f"mount --bind {passwd} /etc/passwd && exec {HELPER} --check "
                        f"--pam-file {f}"], capture_output=True, text=True, env={}, timeout=60)
    assert r.returncode == 2, r.stdout
    assert f"FAIL {authelia.url}: not probed: cannot drop root" in r.stdout, r.stdout
    assert authelia.requests == [] and authelia.connections == 0


def test_a_certificate_from_another_ca(pam_dir, authelia, certs):
    f = service(pam_dir, f"auth required {SHIM} binary={HELPER} url={authelia.url} "
                f"ca-cert={certs / 'other-ca.pem'}\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", "not trusted", "fix: set ca-cert= to the CA")


def test_the_system_store_does_not_know_the_test_ca(pam_dir, authelia):
    f = service(pam_dir, f"auth required {SHIM} binary={HELPER} url={authelia.url}\n")
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", "not trusted")


def test_a_health_check_that_is_not_authelias(pam_dir, authelia, certs):
    authelia.inject("/api/health", status=302, body=b"", headers={"Location": "/login"})
    f = service(pam_dir, line(authelia, certs))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", "GET /api/health answered status 302")


@pytest.mark.parametrize("offset,level,direction", [(30, "WARN", "ahead of"),
                                                    (-30, "WARN", "behind"),
                                                    (600, "FAIL", "ahead of")])
def test_clock_skew(pam_dir, authelia, certs, offset, level, direction):
    """The Date header has whole seconds: allow one either way."""
    authelia.date_offset = offset
    f = service(pam_dir, line(authelia, certs))
    rc, lines = doctor("--pam-file", f)
    shown = [f"{abs(offset) + d} s {direction} ours" for d in (-1, 0, 1)]
    assert any(has(lines, level, "Authelia's clock is", s) for s in shown), lines
    assert rc == (2 if level == "FAIL" else 1)


def test_no_date_header(pam_dir, authelia, certs):
    authelia.send_date = False
    f = service(pam_dir, line(authelia, certs))
    rc, lines = doctor("--pam-file", f)
    assert rc == 1 and has(lines, "WARN", "no readable Date header")


# --- the device flow: discovery and the client ------------------------------------

def device_line(authelia, certs, extra="oauth2-client-secret-file={secret}", secret=None):
    return line(authelia, certs, "method-priority=device_authorization,user "
                "oauth2-client-id=pam-authelia " + extra.format(secret=secret))


@pytest.fixture
def secret(tmp_path):
    f = tmp_path / "client-secret"
    f.write_text("s3cret-client\n")
    f.chmod(0o600)
    return f


def no_device_state(authelia):
    """The doctor creates nothing in Authelia: no device code was requested."""
    assert "/api/oidc/device-authorization" not in authelia.paths()
    assert authelia.oidc.devices == {}


def test_a_good_device_flow_client(pam_dir, authelia, certs, secret):
    f = service(pam_dir, device_line(authelia, certs, secret=secret))
    rc, lines = doctor("--pam-file", f)
    assert rc == 0, lines
    assert has(lines, "OK", f"OIDC discovery: issuer https://localhost:{authelia.port}")
    assert has(lines, "OK", 'the client "pam-authelia" authenticated (client_secret_post)')
    no_device_state(authelia)


def test_a_wrong_client_secret(pam_dir, authelia, certs, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-secret\n")
    wrong.chmod(0o600)
    f = service(pam_dir, device_line(authelia, certs, secret=wrong))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", 'Authelia refused the client "pam-authelia" (401 invalid_client)')
    assert not any("not-the-secret" in l for l in lines)
    no_device_state(authelia)


def test_the_wrong_client_auth_method(pam_dir, authelia, certs, secret):
    authelia.oidc.clients["pam-authelia"].auth_method = "client_secret_basic"
    f = service(pam_dir, device_line(authelia, certs, secret=secret))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", "401 invalid_client", "oauth2-client-auth-method=client_secret_post")
    f = service(pam_dir, device_line(authelia, certs, "oauth2-client-secret-file={secret} "
                                     "oauth2-client-auth-method=client_secret_basic", secret))
    rc, lines = doctor("--pam-file", f)
    assert rc == 0, lines


def test_a_client_without_the_device_grant(pam_dir, authelia, certs, secret):
    authelia.oidc.clients["pam-authelia"].grant_types = ("authorization_code",)
    f = service(pam_dir, device_line(authelia, certs, secret=secret))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", "may not use the device flow (unauthorized_client)")


def test_an_unknown_public_client(pam_dir, authelia, certs):
    f = service(pam_dir, line(authelia, certs, "method-priority=device_authorization "
                              "oauth2-client-id=nobody"))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", 'refused the client "nobody" (401')


def test_a_foreign_issuer_in_discovery(pam_dir, authelia, certs, secret):
    authelia.oidc.discovery_issuer = "https://evil.example"
    f = service(pam_dir, device_line(authelia, certs, secret=secret))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2 and has(lines, "FAIL", "discovery document:", "fix: url must be")


def test_no_oidc_at_all(pam_dir, authelia, certs, secret):
    authelia.inject("/.well-known/openid-configuration", status=404, body=b"404 Not Found",
                    content_type="text/plain; charset=utf-8")
    f = service(pam_dir, device_line(authelia, certs, secret=secret))
    rc, lines = doctor("--pam-file", f)
    assert rc == 2
    assert has(lines, "FAIL", "discovery document answered status 404",
               "configure identity_providers.oidc")


def test_the_token_endpoint_rate_limited(pam_dir, authelia, certs, secret):
    authelia.oidc.token_429_once = True
    f = service(pam_dir, device_line(authelia, certs, secret=secret))
    rc, lines = doctor("--pam-file", f)
    assert rc == 1 and has(lines, "WARN", "rate limited (429)")


def test_the_old_flag_form_still_validates_by_hand():
    r = subprocess.run([str(HELPER), "--check", "--url", "https://a", "--auth-level", "1FA"],
                       capture_output=True, text=True, env={})
    assert r.returncode == 0 and r.stdout.startswith("configuration OK\n")
