"""The Debian package libpam-authelia, end to end: built from the tree with
dpkg-buildpackage (make deb), checked by lintian, installed with dpkg into an
overlay of this very system (an overlayfs over / in the test run's private
mount namespace, entered with chroot, so the host's files and dpkg database
never change), used by a real sshd through nothing but the installed files
(module by name, helper at its default path), checked with the installed
doctor, then purged with nothing of it left but the system account, which
Debian policy says stays.  Also: `make install` as root creates the same
account, idempotently, and the manual pages render without warnings."""
import hashlib
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD, ROOT
from sshd_harness import free_port, login

MULTIARCH = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                           text=True).stdout.strip()
MODULE = f"/lib/{MULTIARCH}/security/pam_authelia.so"
ACCOUNT = "_pam_authelia"


def digest(*paths):
    h = hashlib.sha256()
    for p in paths:
        p = Path(p)
        for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
            if f.is_file() and not f.is_symlink():
                h.update(str(f).encode() + f.read_bytes())
    return h.hexdigest()


class Overlay:
    """/ seen through an overlayfs whose writable layer is a tmpfs: whatever is
    done inside (dpkg, useradd, make install) lands in that layer only."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.layer = tmp / "layer"
        self.root = tmp / "root"
        self.mounts = []
        self.layer.mkdir()
        self.root.mkdir()
        self._mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", self.layer)
        (self.layer / "upper").mkdir()
        (self.layer / "work").mkdir()
        self._mount("-t", "overlay", "overlay", "-o",
                    f"lowerdir=/,upperdir={self.layer}/upper,workdir={self.layer}/work",
                    self.root)
        self._mount("-t", "proc", "proc", self.root / "proc")
        self._mount("--rbind", "/dev", self.root / "dev")  # with the test run's /dev/log
        self._mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", self.root / "run")
        self._mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", self.root / "tmp")
        (self.root / "run/sshd").mkdir(mode=0o755)

    def _mount(self, *args):
        subprocess.run(["mount", *map(str, args)], check=True)
        self.mounts.append(str(args[-1]))

    def run(self, *cmd, check=True):
        r = subprocess.run(["chroot", str(self.root), *map(str, cmd)], capture_output=True,
                           text=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                           "DEBIAN_FRONTEND": "noninteractive", "LANG": "C"})
        if check:
            assert r.returncode == 0, f"{cmd}: {r.stdout}\n{r.stderr}"
        return r

    def path(self, p):
        return self.root / str(p).lstrip("/")

    def close(self):
        subprocess.run(["umount", "-R", str(self.root)], check=False)
        subprocess.run(["umount", str(self.layer)], check=False)


@pytest.fixture
def overlay(tmp_path):
    tmp_path.chmod(0o755)
    o = Overlay(tmp_path)
    yield o
    o.close()


@pytest.fixture(scope="module")
def deb():
    started = time.monotonic()
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "deb"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    path = ROOT / r.stdout.strip().splitlines()[-1]
    print(f"package built in {time.monotonic() - started:.1f} s: {path.name}")
    return path


def test_the_package_builds_outside_the_trees_parent_and_passes_lintian(deb):
    assert deb.parent == BUILD / "deb"
    assert not list(ROOT.parent.glob("libpam-authelia_*")), "output beside the source tree"
    r = subprocess.run(["lintian", "--pedantic", "--display-info", str(next(
        deb.parent.glob("libpam-authelia_*.changes")))], capture_output=True, text=True)
    tags = [l for l in r.stdout.splitlines() if re.match(r"^[EWIPX]: ", l)]
    print("\n".join(tags) or "lintian: no tags")
    assert not [t for t in tags if t.startswith("E: ")], tags
    assert not [t for t in tags if t.startswith("W: ")], tags  # no warning is left unexplained
    contents = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True,
                              text=True).stdout
    for path in [MODULE, "/usr/bin/pam_authelia", "/usr/share/man/man8/pam_authelia.8.gz",
                 "/usr/share/man/man1/pam_authelia.1.gz",
                 "/usr/share/doc/libpam-authelia/README.md.gz",
                 "/usr/share/doc/libpam-authelia/examples/pam.d/sshd-1fa2fa",
                 "/usr/share/doc/libpam-authelia/examples/pam.d/sudo",
                 "/usr/share/doc/libpam-authelia/examples/sshd_config.d/pam_authelia.conf"]:
        assert f" .{path}\n" in contents, path
    assert "etc/" not in contents  # no conffile: /etc/pam.d and sshd_config are the admin's


def test_install_log_in_through_sshd_and_purge(deb, overlay, authelia, certs, syslog):
    o = overlay
    host_state = digest("/var/lib/dpkg/status", "/etc/passwd", "/etc/group", "/etc/pam.d",
                        "/etc/ssh/sshd_config")
    assert subprocess.run(["dpkg", "-s", "libpam-authelia"], capture_output=True).returncode != 0
    host_had = host_account()
    admin_files = digest(o.path("/etc/pam.d"), o.path("/etc/ssh/sshd_config"))
    (o.path("/tmp") / deb.name).write_bytes(deb.read_bytes())

    started = time.monotonic()
    o.run("dpkg", "-i", f"/tmp/{deb.name}")
    print(f"dpkg -i took {time.monotonic() - started:.1f} s")
    files = [l for l in o.run("dpkg", "-L", "libpam-authelia").stdout.splitlines()
             if l and o.path(l).is_file()]
    assert MODULE in files and "/usr/bin/pam_authelia" in files
    assert os.path.dirname(MODULE) == os.path.dirname(
        o.run("dpkg", "-S", "pam_unix.so").stdout.split(": ")[-1].split()[0])
    # the package never touches the admin's PAM stacks or sshd_config
    assert digest(o.path("/etc/pam.d"), o.path("/etc/ssh/sshd_config")) == admin_files
    # the helper's system account: group of its own, no home, no shell
    pw = o.run("getent", "passwd", ACCOUNT).stdout.strip().split(":")
    gr = o.run("getent", "group", ACCOUNT).stdout.strip().split(":")
    assert pw[3] == gr[2] and int(pw[2]) < 1000
    assert pw[5] == "/nonexistent" and pw[6] in ("/usr/sbin/nologin", "/sbin/nologin")
    assert not o.path("/nonexistent").exists()
    assert o.run("man", "-w", "8", "pam_authelia").stdout.strip().endswith("pam_authelia.8.gz")

    # sshd inside, with nothing but the installed files
    authelia.add_user("john", "pw-john", totp=True)
    (o.path("/etc/ssl/pam-authelia-test-ca.pem")).write_bytes((certs / "ca.pem").read_bytes())
    o.path("/etc/ssl/pam-authelia-test-ca.pem").chmod(0o644)
    o.run("useradd", "-M", "-d", "/tmp", "-s", "/bin/sh", "john")
    port = free_port()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(o.path("/tmp/hostkey"))], check=True)
    o.path("/tmp/sshd_config").write_text(f"""ListenAddress 127.0.0.1
Port {port}
HostKey /tmp/hostkey
PidFile /tmp/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
PermitRootLogin no
UseDNS no
LoginGraceTime 120
ForceCommand echo LOGIN-OK user=$(id -un)
""")
    pam = o.path("/etc/pam.d/sshd")
    common = (f"auth required pam_authelia.so url={authelia.url} ca-cert=/etc/ssl/pam-authelia-test-ca.pem debug")

    def configure(args):
        pam.write_text(f"{common} {args}\naccount required pam_permit.so\n"
                       "session required pam_permit.so\n")
    configure("auth-level=1FA")
    log = open(o.tmp / "sshd.log", "wb")
    sshd = subprocess.Popen(["chroot", str(o.root), "/usr/sbin/sshd", "-D", "-e", "-f",
                             "/tmp/sshd_config"], stderr=log, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while b"Server listening" not in (o.tmp / "sshd.log").read_bytes():
            assert sshd.poll() is None and time.monotonic() < deadline, \
                (o.tmp / "sshd.log").read_text()
            time.sleep(0.05)
        # 1FA
        ok, out, seen = login(port, "john", lambda p: "pw-john")
        assert ok and out == "LOGIN-OK user=john", (o.tmp / "sshd.log").read_text()
        assert seen[0][1] == ["Password: "]
        ok, _, _ = login(port, "john", lambda p: "wrong")
        assert not ok
        # 1FA+2FA with TOTP
        configure("auth-level=1FA+2FA")
        ok, out, seen = login(port, "john", lambda p: "pw-john" if p.endswith("Password: ")
                              else authelia.totp("john"))
        assert ok and out == "LOGIN-OK user=john", (o.tmp / "sshd.log").read_text()
        assert any("TOTP Code: " in p for _, prompts in seen for p in prompts)
        assert "selected \"totp\" (from priority entry \"user\")" in syslog.texts()
        sshd_log = (o.tmp / "sshd.log").read_text()
        assert sshd_log.count("Accepted keyboard-interactive/pam for john") == 2
        # the installed doctor agrees with what just worked
        r = o.run("pam_authelia", "--check", "--pam-file", "/etc/pam.d/sshd", "--sshd-config",
                  "/tmp/sshd_config", check=False)
        assert r.returncode == 0, r.stdout
        assert f"OK   /etc/pam.d/sshd:1: helper /usr/bin/pam_authelia is a root-owned " \
               "executable" in r.stdout
    finally:
        sshd.terminate()
        sshd.wait(10)
        o.path("/etc/ssl/pam-authelia-test-ca.pem").unlink()  # the test's, not the package's

    # purge: nothing of the package is left but the account
    started = time.monotonic()
    o.run("dpkg", "--purge", "libpam-authelia")
    print(f"dpkg --purge took {time.monotonic() - started:.1f} s")
    r = o.run("dpkg", "-L", "libpam-authelia", check=False)
    assert r.returncode != 0 and "is not installed" in r.stderr
    left = [f for f in files if o.path(f).exists() or o.path(f).is_symlink()]
    assert left == []
    assert not o.path("/usr/share/doc/libpam-authelia").exists()
    leftovers = [str(p) for p in (o.layer / "upper").rglob("*") if "authelia" in p.name]
    assert leftovers == [], leftovers
    assert o.run("getent", "passwd", ACCOUNT, check=False).returncode == 0  # policy: it stays
    # and the host never saw any of it
    assert digest("/var/lib/dpkg/status", "/etc/passwd", "/etc/group", "/etc/pam.d",
                  "/etc/ssh/sshd_config") == host_state
    assert host_account() == host_had


def host_account():
    return subprocess.run(["getent", "passwd", ACCOUNT], capture_output=True).stdout


def test_make_install_as_root_creates_the_account_once(overlay):
    o = overlay
    assert o.run("getent", "passwd", ACCOUNT, check=False).returncode != 0 or \
        pytest.skip("this host already has the account")
    inside = o.path(ROOT)
    if not inside.is_dir():  # a tree under /tmp or /run, which the overlay gives fresh tmpfs
        inside.mkdir(parents=True)
        o._mount("--bind", ROOT, inside)
    first = o.run("make", "-s", "-C", ROOT, "install")
    assert f"created the system account {ACCOUNT}" in first.stdout
    pw = o.run("getent", "passwd", ACCOUNT).stdout.strip().split(":")
    assert pw[5] == "/nonexistent" and pw[6].endswith("nologin")
    assert o.run("getent", "group", ACCOUNT).stdout.strip().split(":")[2] == pw[3]
    second = o.run("make", "-s", "-C", ROOT, "install")
    assert "created" not in second.stdout
    assert o.run("getent", "passwd", ACCOUNT).stdout.strip().split(":") == pw
    assert o.path("/usr/bin/pam_authelia").is_file()
    assert o.path("/usr/share/man/man8/pam_authelia.8").is_file()


def test_make_install_with_destdir_leaves_accounts_alone(tmp_path):
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"DESTDIR={tmp_path}"],
                       capture_output=True, text=True, check=True)
    assert f"note: DESTDIR install: the system account {ACCOUNT} was not created" in r.stdout
    assert (tmp_path / "usr/share/man/man1/pam_authelia.1").is_file()


# --- the manual pages --------------------------------------------------------------

@pytest.mark.parametrize("page", ["pam_authelia.8", "pam_authelia.1"])
def test_manual_pages_render_without_warnings(page):
    subprocess.run(["make", "-s", "-C", str(ROOT), "man"], check=True)
    r = subprocess.run(["man", "--warnings", "-l", str(BUILD / "man" / page)],
                       capture_output=True, text=True,
                       env={"MANROFFSEQ": "", "MANWIDTH": "80", "PATH": "/usr/bin:/bin",
                            "LANG": "C.UTF-8"})
    assert r.returncode == 0
    assert r.stderr == "", r.stderr
    assert "SEE ALSO" in r.stdout


def test_every_option_is_in_the_module_page():
    table = (ROOT / "protocol/options.c").read_text()
    names = re.findall(r'\.name = "([a-z0-9-]+)"', table)
    assert len(names) >= 14
    source = (ROOT / "man/pam_authelia.8.scd").read_text()
    for name in names:
        assert f"*{name}" in source, name
