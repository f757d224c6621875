"""oauth2-client-secret-file: the device-flow client secret read from a
root-only file instead of the world-readable PAM file.  Every refusal (not a
regular file, not root's, readable by group or others, a symbolic link
anywhere in the path, too large, empty, not absolute, beside
oauth2-client-secret) ends the login with PAM_SERVICE_ERR and one line naming
the file and the fix, before any request; the secret itself reaches no log,
argv or environment.  oauth2-client-secret= still works and warns once per
login."""
import os
import subprocess

import pytest

from conftest import HELPER

SECRET = "s3cret-client"  # the double's pam-authelia client


def device_args(authelia, certs, extra):
    return (f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} "
            f"method-priority=device_authorization,user oauth2-client-id=pam-authelia "
            f"{extra}").strip()


@pytest.fixture
def secret_dir(tmp_path):
    d = tmp_path / "secrets"
    d.mkdir(mode=0o755)
    return d


def write_secret(path, text=SECRET + "\n", mode=0o600, uid=0):
    path.write_text(text)
    os.chown(path, uid, 0)
    path.chmod(mode)
    return path


def approve(login, authelia, certs, extra):
    authelia.oidc.interval = 1
    l = login(device_args(authelia, certs, extra))
    style, _ = l.conv()
    assert style == "echo_on"
    l.answer("")
    return l.result()[0]


def test_secret_from_a_root_only_file_logs_in(login, authelia, certs, syslog, secret_dir):
    f = write_secret(secret_dir / "secret")
    assert approve(login, authelia, certs, f"oauth2-client-secret-file={f}") == "PAM_SUCCESS"
    forms = [r["body"] for r in authelia.requests if r["path"] == "/api/oidc/device-authorization"]
    assert forms and b"client_secret=" + SECRET.encode() in forms[0]
    # the trailing newline was dropped: Authelia would refuse "s3cret-client\n"
    assert b"%0A" not in forms[0]
    assert not any(SECRET in t for t in syslog.texts() + syslog.shim_texts())
    assert not any("oauth2-client-secret=" in t for t in syslog.texts())  # no warning


def test_crlf_and_no_newline_are_accepted(login, authelia, certs, secret_dir):
    for text in (SECRET + "\r\n", SECRET):
        f = write_secret(secret_dir / "secret", text)
        authelia.reset()
        authelia.url = f"https://localhost:{authelia.port}"
        assert approve(login, authelia, certs,
                       f"oauth2-client-secret-file={f}") == "PAM_SUCCESS", repr(text)


def test_basic_auth_with_a_secret_file(login, authelia, certs, secret_dir):
    authelia.oidc.clients["pam-authelia"].auth_method = "client_secret_basic"
    f = write_secret(secret_dir / "secret")
    assert approve(login, authelia, certs, f"oauth2-client-secret-file={f} "
                   "oauth2-client-auth-method=client_secret_basic") == "PAM_SUCCESS"


def refused(login, authelia, certs, syslog, path, message):
    l = login(device_args(authelia, certs, f"oauth2-client-secret-file={path}"))
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert syslog.wait_for(message), syslog.texts()
    texts = syslog.texts()
    assert authelia.requests == [], "a refused secret file must stop the login before any request"
    assert not any(SECRET in t for t in texts)


@pytest.mark.parametrize("mode,shown", [(0o640, "0640"), (0o604, "0604"), (0o620, "0620"),
                                        (0o644, "0644")])
def test_group_or_world_access_is_refused(login, authelia, certs, syslog, secret_dir, mode, shown):
    f = write_secret(secret_dir / "secret", mode=mode)
    refused(login, authelia, certs, syslog, f,
            f"oauth2-client-secret-file {f} can be read or changed by group or others "
            f"(mode {shown}); fix: chmod 600 {f}")


def test_a_file_not_owned_by_root_is_refused(login, authelia, certs, syslog, secret_dir):
    f = write_secret(secret_dir / "secret", uid=42000)
    refused(login, authelia, certs, syslog, f,
            f"oauth2-client-secret-file {f} is owned by uid 42000, not root; "
            f"fix: chown root:root {f}")


def test_a_symbolic_link_is_refused(login, authelia, certs, syslog, secret_dir):
    target = write_secret(secret_dir / "real")
    link = secret_dir / "link"
    link.symlink_to(target)
    refused(login, authelia, certs, syslog, link,
            f"oauth2-client-secret-file {link}: the path contains a symbolic link")


def test_a_symbolic_link_in_a_directory_of_the_path_is_refused(login, authelia, certs, syslog,
                                                               secret_dir):
    write_secret(secret_dir / "real")
    (secret_dir.parent / "via").symlink_to(secret_dir)
    path = secret_dir.parent / "via" / "real"
    refused(login, authelia, certs, syslog, path,
            f"oauth2-client-secret-file {path}: the path contains a symbolic link")


def test_a_directory_and_a_fifo_are_refused(login, authelia, certs, syslog, secret_dir):
    d = secret_dir / "dir"
    d.mkdir(mode=0o700)
    refused(login, authelia, certs, syslog, d,
            f"oauth2-client-secret-file {d} is not a regular file")
    fifo = secret_dir / "fifo"
    os.mkfifo(fifo, 0o600)
    # O_NONBLOCK: opening a FIFO nobody writes to must not hang the login
    refused(login, authelia, certs, syslog, fifo,
            f"oauth2-client-secret-file {fifo} is not a regular file")


def test_a_large_file_is_refused(login, authelia, certs, syslog, secret_dir):
    f = write_secret(secret_dir / "secret", "x" * 4097)
    refused(login, authelia, certs, syslog, f,
            f"oauth2-client-secret-file {f} is larger than 4096 bytes")


def test_an_empty_file_and_a_second_line_are_refused(login, authelia, certs, syslog, secret_dir):
    f = write_secret(secret_dir / "secret", "\n")
    refused(login, authelia, certs, syslog, f, f"oauth2-client-secret-file {f} is empty")
    f = write_secret(secret_dir / "secret", SECRET + "\nsecond\n")
    refused(login, authelia, certs, syslog, f,
            f"oauth2-client-secret-file {f} holds more than one line or a NUL byte")


def test_a_missing_file_and_a_relative_path_are_refused(login, authelia, certs, syslog,
                                                        secret_dir):
    missing = secret_dir / "missing"
    refused(login, authelia, certs, syslog, missing,
            f"oauth2-client-secret-file {missing}: cannot open it: No such file or directory")
    refused(login, authelia, certs, syslog, "secret",
            "oauth2-client-secret-file secret: give an absolute path")


def test_both_forms_together_are_refused(login, authelia, certs, syslog, secret_dir):
    f = write_secret(secret_dir / "secret")
    l = login(device_args(authelia, certs,
                          f"oauth2-client-secret-file={f} oauth2-client-secret={SECRET}"))
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert syslog.wait_for("oauth2-client-secret and oauth2-client-secret-file are mutually "
                           "exclusive: keep oauth2-client-secret-file"), syslog.texts()


def test_inline_secret_still_works_and_warns_once(login, authelia, certs, syslog):
    assert approve(login, authelia, certs, f"oauth2-client-secret={SECRET}") == "PAM_SUCCESS"
    warnings = [t for t in syslog.texts() if "oauth2-client-secret= is readable" in t]
    assert warnings == ["oauth2-client-secret= is readable by every local user in the PAM file; "
                        "move the secret to a root-only file (chmod 600) and use "
                        "oauth2-client-secret-file= instead"]
    with syslog.lock:
        line = next(l for l in syslog.lines if "oauth2-client-secret= is readable" in l["text"])
    assert line["priority"] & 7 == 4  # LOG_WARNING


def test_the_file_is_accepted_on_the_command_line(secret_dir):
    """A path is no secret: --check --oauth2-client-secret-file works by hand."""
    f = write_secret(secret_dir / "secret")
    r = subprocess.run([str(HELPER), "--check", "--url", "https://a", "--oauth2-client-id", "c",
                        "--oauth2-client-secret-file", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    f.chmod(0o644)
    r = subprocess.run([str(HELPER), "--check", "--url", "https://a", "--oauth2-client-id", "c",
                        "--oauth2-client-secret-file", str(f)], capture_output=True, text=True)
    assert r.returncode == 1 and "fix: chmod 600" in r.stderr
