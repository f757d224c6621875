"""The smaller holes of issue 8, through the real shim and the real helper in
real PAM transactions: what the helper sends as X-Forwarded-For, the bounds on
the user name and the password, PAM items in log lines, ca-cert, and the
helper's process state (working directory, umask, resource limits, no core
dump holding secrets)."""
import os
import resource
import signal
import time

import pytest

from conftest import HELPER, wait_gone

UNDER_ASAN = "PAM_AUTHELIA_HELPER" in os.environ  # make check's integration-asan suite
SKIP_UNDER_ASAN = pytest.mark.skipif(UNDER_ASAN, reason="ASan handles SIGSEGV itself")


def args(authelia, certs, extra=""):
    return f"binary={HELPER} url={authelia.url} ca-cert={certs / 'ca.pem'} debug {extra}".strip()


# --- X-Forwarded-For -------------------------------------------------------------

@pytest.mark.parametrize("rhost,forwarded", [
    ("192.0.2.7", "192.0.2.7"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("[2001:DB8::7]", "2001:db8::7"),
    ("fe80::7%eth0", "fe80::7"),
    # sshd with UseDNS yes: a host name, which Authelia ignores, counting every
    # client against the host's own address (one ban for all): send nothing.
    ("client.example.com", None),
    ("192.0.2.7, 10.0.0.1", None),
])
def test_x_forwarded_for_is_a_canonical_ip_literal(login, authelia, certs, rhost, forwarded):
    authelia.add_user("john", "pw-john")
    l = login(args(authelia, certs, "auth-level=1FA"), rhost=rhost)
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("pw-john")
    assert l.result()[0] == "PAM_SUCCESS"
    assert authelia.requests
    for r in authelia.requests:
        assert r["headers"].get("x-forwarded-for") == forwarded, r["path"]


# --- bounds on what the user controls ---------------------------------------------

def test_overlong_user_name_is_refused_before_any_request(login, authelia, certs, syslog):
    """A proxy in front of Authelia may drop a connection over a huge body,
    which would read as "Authelia unavailable": user names over 256 bytes never
    leave the host."""
    authelia.add_user("a" * 256, "pw")
    l = login(args(authelia, certs, "auth-level=1FA"), user="a" * 256)
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("pw")
    assert l.result()[0] == "PAM_SUCCESS"
    authelia.reset()
    syslog.clear()
    l = login(args(authelia, certs, "auth-level=1FA"), user="a" * 257)
    assert l.result()[0] == "PAM_AUTH_ERR"  # no prompt either
    assert authelia.requests == []
    # the module refuses it before it starts the helper
    assert any(t.endswith("(257 bytes) is longer than 256 bytes; refused before any request")
               for t in syslog.shim_texts()), syslog.shim_texts()
    assert syslog.texts() == []


@pytest.mark.parametrize("item", ["user", "rhost"])
def test_a_pam_item_larger_than_its_bound_is_refused_at_once(login, authelia, certs, syslog,
                                                             item):
    """An SSH client chooses the user name: 70000 bytes do not fit one frame
    (64 KiB).  The helper used to wait out its 5 s set-up timer and end with
    PAM_SERVICE_ERR and a misleading line; the module now refuses before it
    starts a helper, with the code the helper's own rule gives (a user name
    is the user's choice; PAM_RHOST the application's).  PAM_AUTHTOK: see
    test_overlong_password_is_refused_before_any_request."""
    if item == "user":
        l = login(args(authelia, certs, "auth-level=1FA"), user="a" * 70000)
        want = ("PAM_AUTH_ERR", "(70000 bytes) is longer than 256 bytes; refused before any "
                                "request")
    else:
        l = login(args(authelia, certs, "auth-level=1FA"), rhost="a" * 2000)
        want = ("PAM_SERVICE_ERR", "PAM_RHOST of 2000 bytes is longer than 1024 bytes")
    assert l.result()[0] == want[0]
    assert any(want[1] in t for t in syslog.shim_texts()), syslog.shim_texts()
    assert syslog.texts() == []  # no helper ran
    assert authelia.requests == []


@pytest.mark.parametrize("level", ["1FA", "2FA"])
def test_overlong_password_is_refused_before_any_request(login, authelia, certs, syslog, level):
    authelia.add_user("john", "p" * 1024, totp=True)
    if level == "1FA":
        l = login(args(authelia, certs, "auth-level=1FA"))
        assert l.conv() == ("echo_off", "Password: ")
        l.answer("p" * 1024)
        assert l.result()[0] == "PAM_SUCCESS"
        l = login(args(authelia, certs, "auth-level=1FA"))
        l.conv()
        l.answer("p" * 1025)
    else:  # PAM_AUTHTOK from the module above
        l = login(args(authelia, certs, "auth-level=2FA"), authtok="p" * 1025)
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert any(t.endswith('password for user "john" is longer than 1024 bytes; refused before '
                          'any request') for t in syslog.texts() + syslog.shim_texts())
    assert len([p for p in authelia.paths() if p == "/api/firstfactor"]) == (level == "1FA")


# --- log lines -----------------------------------------------------------------------

def test_pam_items_are_sanitised_in_every_log_line(login, authelia, certs, syslog):
    """The user name (sshd's client chooses it), rhost and service are shown
    as printable ASCII: no terminal escapes, no forged lines."""
    user = 'john\x1b[2J"\nsshd[1]: Accepted password for root'
    l = login(args(authelia, certs, "auth-level=1FA"), user=user, rhost="evil\r\nhost")
    l.conv()
    l.answer("")
    assert l.result()[0] == "PAM_AUTH_ERR"
    texts = syslog.texts()
    shown = 'john?[2J??sshd[1]: Accepted password for root'
    assert f'login for user "{shown}" service=pamtest rhost=evil??host auth-level=1FA ' \
           'timeout=60 client-watch=off' in texts, texts
    assert any(t.endswith(f'empty password for user "{shown}"') for t in texts), texts
    for t in texts:
        assert all(0x20 <= ord(c) < 0x7f for c in t), repr(t)


# --- configuration -------------------------------------------------------------------

def test_ca_cert_must_be_an_absolute_path(login, authelia, certs, syslog):
    """The helper runs in "/"; a relative ca-cert would have been read from the
    application's working directory, which under sudo is the user's."""
    l = login(f"binary={HELPER} url={authelia.url} ca-cert=ca.pem")
    assert l.result()[0] == "PAM_SERVICE_ERR"
    assert any(t.endswith('ca-cert must be an absolute path, got "ca.pem"')
               for t in syslog.texts()), syslog.texts()


@pytest.mark.parametrize("how", ["directory others can write", "file others can write",
                                 "file of another user", "symlink where others can write"])
def test_a_ca_cert_others_can_change_is_refused(login, authelia, certs, syslog, how):
    """ca-cert is the trust anchor: whoever can change the file, or a directory
    on its path, can make the helper trust their CA, answer in Authelia's
    place and forge PAM_SUCCESS.  It gets the helper binary's rule (OpenSSH's
    safe_path): refused before any prompt and any request, with the fix."""
    import shutil
    from conftest import SAFE_DIR
    from safe_dir import make_safe_dir
    evil = certs / "ca.pem"  # the "attacker's" CA: the one the double's certificate has
    safe = make_safe_dir(SAFE_DIR)  # removed with SAFE_DIR
    open_dir = safe / "open"
    open_dir.mkdir()
    open_dir.chmod(0o1777)
    if how == "directory others can write":
        path = open_dir / "ca.pem"
        shutil.copy(evil, path)
        path.chmod(0o644)
        want = (f"failed to read CA certificate {path}: directory {open_dir} must be owned by "
                f"root and writable by its owner only; fix: move the file below directories "
                f"only root can write (such as /etc/ssl/certs)")
    elif how == "symlink where others can write":
        target = safe / "real.pem"
        shutil.copy(evil, target)
        target.chmod(0o644)
        path = open_dir / "link.pem"
        path.symlink_to(target)
        want = f"failed to read CA certificate {path}: directory {open_dir} must be owned"
    else:
        path = safe / "ca.pem"
        shutil.copy(evil, path)
        path.chmod(0o664 if how == "file others can write" else 0o644)
        if how == "file of another user":
            os.chown(path, 65534, 65534)
        want = (f"failed to read CA certificate {path}: it must be owned by root and "
                f"writable by its owner only")
    l = login(f"binary={HELPER} url={authelia.url} ca-cert={path} auth-level=1FA")
    assert l.result()[0] == "PAM_SERVICE_ERR"  # before any prompt: result() reads no CONV
    assert authelia.paths() == [] and authelia.handshakes == 0
    texts = syslog.texts()
    assert any(t.startswith(want) and "; fix: " in t for t in texts), texts


# --- the helper's process ---------------------------------------------------------------

def _limits(pid):
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        for line in f.readlines()[1:]:
            name, soft, hard = line[:26].strip(), line[26:47].strip(), line[47:68].strip()
            out[name] = (soft, hard)
    return out


def test_helper_process_state(login, tmp_path):
    """Whatever the caller left (under su or sudo: the invoking user): the
    helper works in "/", with umask 077, no core file, and the descriptors,
    memory and CPU time it relies on."""
    def hostile_caller():
        os.chdir(tmp_path)
        os.umask(0)
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
        # Soft limits only: raising a hard limit needs CAP_SYS_RESOURCE, which
        # root may lack (containers); the helper then goes up to the hard one.
        unlimited = resource.RLIM_INFINITY
        resource.setrlimit(resource.RLIMIT_NOFILE, (20, 4096))
        resource.setrlimit(resource.RLIMIT_CPU, (30, unlimited))
        if not UNDER_ASAN:  # ASan maps terabytes of shadow memory
            resource.setrlimit(resource.RLIMIT_AS, (1 << 31, unlimited))
            resource.setrlimit(resource.RLIMIT_DATA, (1 << 30, unlimited))
    l = login(f"binary={HELPER} url=https://127.0.0.1:1", preexec=hostile_caller)
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    assert os.readlink(f"/proc/{helper}/cwd") == "/"
    status = open(f"/proc/{helper}/status").read()
    assert "\nUmask:\t0077\n" in status
    limits = _limits(helper)
    assert limits["Max core file size"] == ("0", "0")
    # The caller's 20 is not what the helper runs with: once it has what it
    # needs open, the sandbox (engine/sandbox.c) sets its own tight limit, the
    # same soft and hard, counted from the descriptors a login uses.
    soft, hard = limits["Max open files"]
    assert soft == hard and int(soft) != 20, limits["Max open files"]
    for name in ("Max cpu time", "Max address space", "Max data size"):
        assert limits[name][0] == "unlimited", name
    l.answer("x")
    l.result()


def test_a_tiny_stack_limit_left_by_the_caller_is_raised(login, authelia, certs, syslog):
    """Under su the invoking user's `ulimit -s 64` reaches the root helper: with
    a 64 KiB stack it crashed (PAM_SERVICE_ERR) while parsing the server's
    answers.  The helper raises the soft stack limit to 8 MiB (up to the hard
    limit) as it does the others, and the login goes through."""
    from test_flows import args

    def tiny_stack():
        resource.setrlimit(resource.RLIMIT_STACK, (64 * 1024, resource.RLIM_INFINITY))
    authelia.add_user("john", "pw-john", totp=True, method="totp")
    l = login(args(authelia, certs, "auth-level=1FA+2FA"), preexec=tiny_stack)
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    soft = _limits(helper)["Max stack size"][0]
    assert soft == "unlimited" or int(soft) >= 8 << 20, soft
    l.answer("pw-john")
    assert l.conv() == ("echo_on", "TOTP Code: "), syslog.texts()
    l.answer(authelia.totp("john"))
    assert l.result()[0] == "PAM_SUCCESS", syslog.texts()


@pytest.fixture
def core_pattern():
    """Sets the kernel's core_pattern for the test and restores it after (it is
    machine-wide: kept as short as the test)."""
    path = "/proc/sys/kernel/core_pattern"
    saved = open(path).read()

    def set_pattern(pattern):
        with open(path, "w") as f:
            f.write(pattern)
    try:
        yield set_pattern
    finally:
        set_pattern(saved)


def _crash_control(tmp_path):
    """A dumpable process allowed to dump core, sent SIGSEGV: shows the core
    pattern in force does write cores (so the helper's absence of one means
    something)."""
    def allow_core():
        os.chdir(tmp_path)
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    import subprocess
    p = subprocess.Popen(["/usr/bin/sleep", "60"], preexec_fn=allow_core)
    time.sleep(0.2)
    os.kill(p.pid, signal.SIGSEGV)
    p.wait(10)
    return p.pid


def _wait_for(path, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > 0:
            time.sleep(0.2)  # a pipe reader may still be writing
            return True
        time.sleep(0.02)
    return False


def _crash_helper_at_the_totp_prompt(login, authelia, certs, tmp_path):
    """A login as far as the TOTP prompt (the password typed, the session
    cookie in memory), then SIGSEGV to the helper, from a caller that allows
    unlimited core files."""
    def allow_core():
        os.chdir(tmp_path)
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    authelia.add_user("john", "PASSWORD-in-memory-7f3a", totp=True)
    l = login(args(authelia, certs), preexec=allow_core)
    helper = l.wait_helper()
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("PASSWORD-in-memory-7f3a")
    assert l.conv() == ("echo_on", "TOTP Code: ")
    os.kill(helper, signal.SIGSEGV)
    assert wait_gone(helper, 5.0) is not None
    l.answer("")
    assert l.result()[0] == "PAM_SERVICE_ERR"
    return helper


@SKIP_UNDER_ASAN
def test_a_crashed_helper_writes_no_core(login, authelia, certs, syslog, tmp_path, core_pattern):
    """The helper is not dumpable and its RLIMIT_CORE is 0: a crash never
    writes its memory (password, TOTP code, client secret, cookie) anywhere.
    Once with a core file pattern, which either control stops, and once with a
    pipe pattern (systemd-coredump, apport), which ignores RLIMIT_CORE: only
    the process being non-dumpable stops that."""
    cores = tmp_path / "cores"
    cores.mkdir(mode=0o755)
    catcher = tmp_path / "catch-core"
    catcher.write_text(f"#!/bin/sh\ncat > {cores}/piped.$1\n")
    catcher.chmod(0o755)
    for pattern, name in ((f"{cores}/core.%p", "core.{}"), (f"|{catcher} %p", "piped.{}")):
        core_pattern(pattern)
        control = _crash_control(tmp_path)
        assert _wait_for(cores / name.format(control)), f"no control core with {pattern}"
        helper = _crash_helper_at_the_totp_prompt(login, authelia, certs, tmp_path)
        time.sleep(0.5)
        assert not (cores / name.format(helper)).exists(), pattern
        assert sorted(p.name for p in cores.iterdir()) == [name.format(control)], pattern
        (cores / name.format(control)).unlink()
        authelia.reset()
    assert any("killed by signal 11" in t for t in syslog.shim_texts())
