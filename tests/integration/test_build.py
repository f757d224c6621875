"""The build's promises that are not about a login: `make install` and the
helper run by hand with flags."""
import os
import stat
import subprocess

from conftest import HELPER, ROOT


def _pam_unix_dir():
    """The guide's recipe: the directory find(1) reports for pam_unix.so."""
    found = subprocess.run(["find", "/lib", "/usr/lib", "/lib64", "/usr/lib64", "-name",
                            "pam_unix.so", "-print", "-quit"], capture_output=True, text=True)
    assert found.stdout, "no pam_unix.so on this system"
    return os.path.dirname(found.stdout.strip())


def test_install_honours_destdir_and_finds_the_pam_directory(tmp_path):
    subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"DESTDIR={tmp_path}"],
                   check=True, capture_output=True)
    helper = tmp_path / "usr/bin/pam_authelia"
    module = tmp_path / _pam_unix_dir().lstrip("/") / "pam_authelia.so"
    assert stat.S_IMODE(helper.stat().st_mode) == 0o755
    assert stat.S_IMODE(module.stat().st_mode) == 0o644


def test_install_honours_prefix_and_pamdir(tmp_path):
    subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"DESTDIR={tmp_path}",
                    "PREFIX=/usr/local", "PAMDIR=/opt/security"], check=True, capture_output=True)
    assert (tmp_path / "usr/local/bin/pam_authelia").is_file()
    assert (tmp_path / "opt/security/pam_authelia.so").is_file()


def _run(*args):
    return subprocess.run([str(HELPER), *args], capture_output=True, text=True, env={})


def test_check_prints_the_effective_configuration():
    r = _run("--check", "--url", "https://auth.example.com/", "--auth-level=2FA",
             "--method-priority", "totp,user", "--debug")
    assert r.returncode == 0, r.stderr
    *lines, sandbox = r.stdout.splitlines()
    # --check ends by applying the login's sandbox to itself (run as root here).
    assert sandbox.startswith("sandbox: uid=") and "groups=none seccomp=on landlock=" in sandbox
    assert "uid=0" not in sandbox, sandbox
    assert lines == [
        "configuration OK",
        "url=https://auth.example.com",
        "auth-level=2FA",
        "cookie-name=authelia_session",
        "ca-cert=(system store)",
        "timeout=60",
        "method-priority=totp,user",
        "oauth2-client-id=(none)",
        "oauth2-scope=openid authelia.pam",
    ]


def test_check_reports_a_sandbox_that_cannot_be_applied(tmp_path):
    """No unprivileged user: --check says what every login would log."""
    passwd = tmp_path / "passwd"
    passwd.write_text("".join(l for l in open("/etc/passwd")
                              if l.split(":")[0] not in ("nobody", "_pam_authelia")))
    r = subprocess.run(["unshare", "--mount", "sh", "-c",
                        f"mount --bind {passwd} /etc/passwd && exec {HELPER} --check "
                        "--url https://a"], capture_output=True, text=True, env={})
    assert r.returncode == 1
    assert "pam_authelia: cannot drop root: neither user _pam_authelia nor nobody" in r.stderr


def test_check_reports_errors_in_the_guides_words():
    r = _run("--check", "--url", "http://auth.example.com")
    assert r.returncode == 1
    assert r.stderr == 'pam_authelia: URL scheme must be https, got "http"\n'
    r = _run("--check", "--url", "https://a", "--ca-cert", "/nonexistent.pem")
    assert r.returncode == 1
    assert "failed to read CA certificate /nonexistent.pem" in r.stderr
    r = _run("--check", "--colour", "blue")
    assert r.returncode == 1 and 'unknown option "colour"' in r.stderr


def test_secrets_are_refused_on_the_command_line():
    for arg in (["--oauth2-client-secret", "s3cret"], ["--oauth2-client-secret=s3cret"]):
        r = _run("--check", "--url", "https://a", *arg)
        assert r.returncode == 2
        assert "s3cret" not in r.stderr and "not accepted on the command line" in r.stderr


def test_usage_and_version():
    assert _run("--version").stdout.startswith("pam_authelia ")
    assert _run("--url", "https://a").returncode == 2  # flags without --check
    assert _run("--help").returncode == 0


def test_make_demo_runs_every_flow_and_stops_cleanly():
    """The newcomer's main command, start to stop: every flow's transcript,
    the hand-login instructions, make demo-totp, and make demo-stop leaving
    nothing behind (no sshd, no /run/sshd it created, no state files)."""
    import signal
    import time
    had_run_sshd = os.path.isdir("/run/sshd")
    demo = subprocess.Popen(["make", "-s", "-C", str(ROOT), "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out = ""
    deadline = time.monotonic() + 120
    try:
        while "Stop with Ctrl-C here" not in out:
            assert time.monotonic() < deadline, out
            line = demo.stdout.readline()
            assert line, out
            out += line
        assert out.count("--> logged in") == 4, out
        assert out.count("--> refused") == 1, out
        for needle in ["TOTP Code: ", "Duo Push sent, approve on your device", "Approve on your device",
                       "\u2588", 'device identity verified: claim "authelia.pam.username"',
                       "ssh -p "]:
            assert needle in out, needle
        totp = subprocess.run(["make", "-s", "-C", str(ROOT), "demo-totp"],
                              capture_output=True, text=True)
        assert totp.stdout.strip().isdigit() and len(totp.stdout.strip()) == 6
        subprocess.run(["make", "-s", "-C", str(ROOT), "demo-stop"], check=True)
        rest, _ = demo.communicate(timeout=30)
        assert "stopped; nothing on the host was changed" in rest
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    assert os.path.isdir("/run/sshd") == had_run_sshd
    assert not (ROOT / "build" / "demo" / "demo.pid").exists()


def test_example_stacks_put_pam_unix_as_requisite_before_a_2fa_line():
    """README and pam_authelia(8): with auth-level=2FA behind pam_unix, pam_unix
    is `requisite`, so a wrong local password never reaches Authelia (where it
    counts toward a regulation ban of the user).  The packaged examples too."""
    checked = 0
    for example in sorted((ROOT / "examples/pam.d").iterdir()):
        controls = []  # the controls of the auth pam_unix lines above
        for line in example.read_text().splitlines():
            words = line.split()
            if len(words) < 3 or words[0] != "auth":
                continue
            if words[2] == "pam_unix.so":
                controls.append(words[1])
            elif words[2] == "pam_authelia.so" and "auth-level=2FA" in words:
                assert controls and all(c == "requisite" for c in controls), \
                    f"{example.name}: {line}"
                checked += 1
    assert checked >= 2  # sshd-2fa and sudo


def _deps(step):
    out = subprocess.run([str(ROOT / "tools/deps.sh"), "--list", step], capture_output=True,
                         text=True, check=True)
    return set(out.stdout.split())


def test_build_dependencies_match_debian_control():
    """tools/deps.sh build and debian/control's Build-Depends name the same
    libraries and tools (the compiler and make aside, which build-essential
    brings); the tests' packages are in neither."""
    text = (ROOT / "debian/control").read_text()
    field = text.split("Build-Depends:", 1)[1].split("\nStandards-Version", 1)[0]
    control = {alt.split()[0] for dep in field.split(",") for alt in dep.split("|") if alt.strip()}
    build, test = _deps("build"), _deps("test")
    assert build - {"gcc", "make", "libc6-dev", "pkg-config"} <= control, control
    assert "pkg-config" in control and "debhelper-compat" in control
    assert not (test & control), test & control
    assert not (test & build), test & build
    assert {"libcmocka-dev", "python3-pytest", "valgrind"} <= test
