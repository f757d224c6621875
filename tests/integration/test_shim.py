"""The shim (pam_authelia.so) in a real PAM transaction, against the scripted
stand-in helper: PAM codes, the helper's process environment, the
conversation relay, and every way a helper can misbehave."""
import json
import os
import socket
import stat

import pytest

from conftest import HELPER, SAFE_DIR, install_helper, make_safe_dir, wait_gone

RESULTS = {
    "success": "PAM_SUCCESS",
    "auth_err": "PAM_AUTH_ERR",
    "authinfo_unavail": "PAM_AUTHINFO_UNAVAIL",
    "service_err": "PAM_SERVICE_ERR",
    "conv_err": "PAM_CONV_ERR",
    "abort": "PAM_ABORT",
}


@pytest.mark.parametrize("result,pam_code", sorted(RESULTS.items()))
def test_every_result_maps_to_its_pam_code(login, stand_in, result, pam_code):
    binary, _ = stand_in(f"result:{result}")
    name, ms = login(f"binary={binary} url=https://auth.example.com").result()
    assert name == pam_code


def test_helper_gets_a_fixed_environment_no_secrets_and_only_its_descriptors(
        login, stand_in, tmp_path):
    binary, record = stand_in("result:success")
    secret = "S3CRET-client-secret-value"
    l = login(f"binary={binary} url=https://auth.example.com oauth2-client-id=pam "
              f"oauth2-client-secret={secret} auth-level=2FA",
              authtok="local-password-123", extra_fd=True, hostile_signals=True)
    # SIGCHLD was SIG_DFL while the shim waited (or the helper would have been
    # reaped behind its back), and is the application's again afterwards.
    assert l._line(10) == "SIGCHLD ignored"
    assert l.result()[0] == "PAM_SUCCESS"
    cmdline = open(f"{record}.cmdline", "rb").read().split(b"\0")[:-1]
    # argv is the binary path alone.
    assert cmdline == [str(binary).encode()]
    assert open(f"{record}.environ", "rb").read() == b"PATH=/usr/bin:/bin\0"
    signals = dict(line.split(":\t") for line in open(f"{record}.signals").read().split("\n") if line)
    assert int(signals["SigBlk"], 16) == 0
    # No standard signal stays ignored (SIG_IGN survives execve); 32 and 33 are
    # glibc's own and cannot be changed through sigaction().
    assert int(signals["SigIgn"], 16) & 0x7fffffff == 0
    rec = json.load(open(record))
    fds = {int(fd): target for fd, target in rec["fds"].items()}
    # 0 and 1: the channel; 2: /dev/null; nothing else (python's own listing fd aside)
    assert fds[0].startswith("socket:") and fds[0] == fds[1]
    assert fds[2] == "/dev/null"
    # (nor the descriptor the shim executed the binary from)
    assert not [fd for fd, t in fds.items() if fd > 2 and not t.startswith("/proc/")]
    # The secrets travel over the channel only.
    setup = rec["setup"]
    assert ["O", f"oauth2-client-secret={secret}"] in setup
    assert ["A", "local-password-123"] in setup


@pytest.mark.skipif(bool(os.environ.get("PAM_AUTHELIA_APP_PREFIX")),
                    reason="under valgrind, pam_start_confdir fails for a setuid-like caller")
def test_helper_of_a_setuid_caller_is_out_of_the_callers_reach(login, stand_in):
    """Under su or sudo the caller's real uid is the invoking user's, who may
    signal any process whose real or saved uid is theirs, and its process group
    is the terminal's (Ctrl-C, Ctrl-Z).  The helper of a root caller runs with
    root's real, effective and saved ids, no supplementary groups, and in a
    session of its own."""
    binary, record = stand_in("result:success")
    l = login(f"binary={binary} url=https://a.example", setuid_caller=(42424, 42424))
    assert l.result()[0] == "PAM_SUCCESS"
    rec = json.load(open(record))
    assert rec["uids"].split() == ["0", "0", "0", "0"]
    assert rec["gids"].split() == ["0", "0", "0", "0"]
    assert rec["groups"].split() == []
    assert rec["sid"] == rec["pid"] == rec["pgid"]  # a session (and group) of its own


def test_setup_frames_in_order(login, stand_in):
    binary, record = stand_in("result:success")
    l = login(f"binary={binary} url=https://auth.example.com debug", user="alice")
    assert l.result()[0] == "PAM_SUCCESS"
    setup = json.load(open(record))["setup"]
    assert setup == [
        ["H", "pam_authelia/1"],
        ["O", f"binary={binary}"],
        ["O", "url=https://auth.example.com"],
        ["O", "debug"],
        ["S", "pamtest"],
        ["U", "alice"],
        ["G", ""],
    ]


def test_authtok_is_forwarded_only_for_auth_level_2fa(login, stand_in):
    binary, record = stand_in("result:success")
    login(f"binary={binary} url=https://a.example auth-level=1FA+2FA", authtok="pw").result()
    assert not [f for f in json.load(open(record))["setup"] if f[0] == "A"]


@pytest.mark.parametrize("family,rhost", [
    (socket.AF_INET, "127.0.0.1"),
    (socket.AF_INET, "::ffff:127.0.0.1"),
    (socket.AF_INET6, "::1"),
])
def test_client_socket_is_found_and_inherited_as_fd_3(login, stand_in, family, rhost):
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    listener.listen(1)
    binary, record = stand_in("result:success")
    l = login(f"binary={binary} url=https://a.example", rhost=rhost,
              connect=listener.getsockname()[1])
    conn, _ = listener.accept()
    assert l.result()[0] == "PAM_SUCCESS"
    rec = json.load(open(record))
    assert ["W", "3"] in rec["setup"] and ["R", rhost] in rec["setup"]
    assert rec["fds"]["3"].startswith("socket:")
    conn.close()
    listener.close()


def test_no_rhost_means_no_client_watch(login, stand_in):
    binary, record = stand_in("result:success")
    login(f"binary={binary} url=https://a.example").result()
    rec = json.load(open(record))
    assert not [f for f in rec["setup"] if f[0] in "WR"]
    assert "3" not in rec["fds"] or rec["fds"]["3"].startswith("/proc/")


def test_rhost_without_a_matching_socket_means_no_watch(login, stand_in):
    binary, record = stand_in("result:success")
    login(f"binary={binary} url=https://a.example", rhost="192.0.2.7").result()
    assert not [f for f in json.load(open(record))["setup"] if f[0] == "W"]


def test_every_message_style_is_relayed(login, stand_in):
    binary, record = stand_in("conversation")
    l = login(f"binary={binary} url=https://a.example")
    assert l.conv() == ("info", "an info line")
    assert l.conv() == ("error", "an error line")
    assert l.conv() == ("echo_off", "Password: ")
    l.answer("hunter2")
    assert l.conv() == ("echo_on", "Line one\nline two \u2580\u2584\u2588\nApprove, then press Enter.")
    l.answer("")
    assert l.result()[0] == "PAM_SUCCESS"
    assert json.load(open(record))["answers"] == [["P", "hunter2"], ["P", ""]]


def test_failed_conversation_is_reported_to_the_helper(login, stand_in):
    binary, record = stand_in("prompt-then-result")
    l = login(f"binary={binary} url=https://a.example")
    assert l.conv() == ("echo_off", "Password: ")
    l.close_stdin()
    assert l.result()[0] == "PAM_AUTH_ERR"
    assert json.load(open(record))["answers"] == [["C", ""]]


@pytest.mark.parametrize("scenario", ["hang", "hang-ignoring-sigterm"])
def test_hung_helper_is_killed_after_timeout(login, stand_in, syslog, scenario):
    """A helper still running past timeout is refused, never "Authelia
    unavailable": one stopped (SIGSTOP, Ctrl-Z) or timed by the user would
    otherwise pick the [authinfo_unavail=ignore] fallback."""
    binary, _ = stand_in(scenario)
    l = login(f"binary={binary} url=https://a.example timeout=1")
    helper = l.wait_helper()
    name, ms = l.result()
    assert name == "PAM_AUTH_ERR"
    assert 1000 <= ms < 3000  # the check: within timeout + 2 s
    assert wait_gone(helper, 0.5) is not None
    assert any("helper still running past timeout; killed it" in t for t in syslog.shim_texts())


def test_helper_that_does_not_exit_after_its_result(login, stand_in, syslog):
    """A result is final only once the helper has exited: one that hangs on is
    killed after a short grace, and even a "success" becomes PAM_SERVICE_ERR."""
    binary, _ = stand_in("success-then-hang")
    l = login(f"binary={binary} url=https://a.example timeout=30")
    helper = l.wait_helper()
    name, ms = l.result()
    assert name == "PAM_SERVICE_ERR"
    assert ms < 3000
    assert wait_gone(helper, 1.0) is not None
    assert "helper did not exit after its result; killed it" in syslog.shim_texts()


@pytest.mark.parametrize("scenario,log_line", [
    ("crash", "killed by signal 11"),
    ("exit-without-result", "exited without a result"),
    ("success-then-exit-3", "exited with status 3"),
    ("flood-info", "helper sent more messages than a login needs"),
    ("flood-garbage", "malformed frame from helper"),
    ("oversized-frame", "malformed frame from helper: frame larger than 64 KiB"),
    ("unknown-result", "helper sent an unknown result"),
    ("frame-after-result", "helper sent a frame after its result"),
    ("half-frame-then-exit", "helper closed the channel in the middle of a frame"),
    ("shim-frame-type", "helper sent an unexpected reply frame"),
])
def test_misbehaving_helper_fails_closed(login, stand_in, syslog, scenario, log_line):
    binary, _ = stand_in(scenario)
    l = login(f"binary={binary} url=https://a.example timeout=30")
    convs = 0
    name = None
    while True:
        line = l._line(10)
        if line.startswith("RESULT "):
            name, ms = line.split(" ")[1:]
            break
        convs += 1
    assert name == "PAM_SERVICE_ERR"
    assert int(ms) < 10000  # decided at once, not by the backstop
    assert convs <= 64
    assert any(log_line in t for t in syslog.shim_texts()), syslog.shim_texts()


def test_missing_helper_binary(login, syslog, tmp_path):
    name, _ = login("binary=/nonexistent/pam_authelia url=https://a.example").result()
    assert name == "PAM_SERVICE_ERR"
    assert "helper binary /nonexistent/pam_authelia: No such file or directory" in syslog.shim_texts()


def test_helper_writable_by_others_is_refused(login, stand_in, syslog):
    binary, record = stand_in("result:success")
    binary.chmod(0o777)
    name, _ = login(f"binary={binary} url=https://a.example").result()
    assert name == "PAM_SERVICE_ERR"
    assert not os.path.exists(record)
    assert any("must be owned by root and writable by its owner only" in t
               for t in syslog.shim_texts())


def _unsafe_dir(how):
    """A directory others could write, made the way `how` says."""
    d = make_safe_dir(SAFE_DIR)
    if how == "world-writable":
        d.chmod(0o777)
    elif how == "sticky-world-writable":  # like /tmp
        d.chmod(0o1777)
    elif how == "group-writable":
        d.chmod(0o775)
    elif how == "owned-by-a-user":
        os.chown(d, 42424, 42424)
    return d


@pytest.mark.parametrize("how", ["world-writable", "sticky-world-writable", "group-writable",
                                 "owned-by-a-user"])
def test_helper_below_a_directory_others_can_write_is_refused(login, stand_in, syslog, how):
    """Whoever can write a directory above the helper can swap the helper."""
    binary, record = stand_in("result:success")
    unsafe = _unsafe_dir(how)
    inner = unsafe / "bin"
    inner.mkdir(mode=0o755)
    moved = install_helper(binary, inner)
    (inner / f"{moved.name}.scenario").write_text(open(f"{binary}.scenario").read())
    name, _ = login(f"binary={moved} url=https://a.example").result()
    assert name == "PAM_SERVICE_ERR"
    assert not os.path.exists(record)
    assert (f"helper binary {moved}: directory {unsafe} must be owned by root and writable "
            "by its owner only") in syslog.shim_texts()


def test_helper_in_tmp_is_refused(login, syslog, tmp_path):
    binary = install_helper(HELPER, tmp_path)
    name, _ = login(f"binary={binary} url=https://a.example").result()
    assert name == "PAM_SERVICE_ERR"
    assert any("directory /tmp must be owned by root" in t for t in syslog.shim_texts())


def test_symlink_in_a_directory_others_can_write_cannot_pick_the_program(login, syslog,
                                                                        tmp_path):
    """The attack: binary= names a symlink where others can write it; pointed at
    /bin/sh (root's file, in root's directories), the shim would run a shell as
    root reading the set-up frames, the remote user name among them.  Every
    directory the path leads through is checked, not only the resolved one."""
    unsafe = _unsafe_dir("world-writable")
    link = unsafe / "pam_authelia"
    link.symlink_to("/bin/sh")
    marker = tmp_path / "pwned"
    name, _ = login(f"binary={link} url=https://a.example",
                    user=f"x\ntouch {marker}\n").result()
    assert name == "PAM_SERVICE_ERR"
    assert f"helper binary {link}: directory {unsafe} must be owned by root and writable by " \
           "its owner only" in syslog.shim_texts()
    assert not marker.exists()


def test_symlinks_in_root_directories_are_followed(login, stand_in):
    binary, record = stand_in("result:success")
    links = make_safe_dir(SAFE_DIR)
    (links / "relative").symlink_to(os.path.relpath(binary, links))
    (links / "absolute").symlink_to(links / "relative")
    (links / "absolute.scenario").write_text(open(f"{binary}.scenario").read())
    name, _ = login(f"binary={links}/absolute url=https://a.example").result()
    assert name == "PAM_SUCCESS"
    assert os.path.exists(record)


@pytest.mark.parametrize("args,message", [
    ("url=https://a.example colour=blue", 'unknown option "colour"'),
    ("url", 'option "url" needs a value: url=...'),
    ("url=https://a.example debug=yes", 'option "debug" takes no value'),
    ("url=", 'option "url" has an empty value'),
    ("url=https://a url=https://b", 'option "url" is given more than once'),
    ("url=https://a timeout=0", 'invalid timeout "0": must be a whole number of seconds from 1 to 86400'),
    ("url=https://a binary=pam_authelia", "binary must be an absolute path"),
    ("url=https://a oauth2-client-secrte=TOPSECRET", 'unknown option "oauth2-client-secrte"'),
])
def test_bad_options_stop_before_any_helper_runs(login, syslog, args, message):
    l = login(f"{args} binary={HELPER}" if "binary=" not in args else args)
    name, ms = l.result()
    assert name == "PAM_SERVICE_ERR"
    texts = syslog.shim_texts()
    assert any(message in t for t in texts), texts
    assert not any("TOPSECRET" in t for t in texts + syslog.texts())
    assert syslog.texts() == []  # the helper never ran


@pytest.mark.skipif(bool(os.environ.get("PAM_AUTHELIA_APP_PREFIX")), reason="timing under valgrind")
def test_prompt_reaping_adds_no_fixed_delay(login, stand_in):
    """The reference shim waits for its helper in 100 ms steps; ours is woken by
    the helper's exit.  The stand-in answers from C (no Python start-up), so a
    login costs a few ms even on two loaded CPUs, and one 100 ms step shows."""
    binary, _ = stand_in("fast-result:success")
    times = [login(f"binary={binary} url=https://a.example").result()[1] for _ in range(5)]
    assert min(times) < 100, times
