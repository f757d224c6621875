"""A local attacker against the real su and sudo (issue 8, defect 2).

The stack is the README's fallback: `auth requisite pam_unix.so`, then
pam_authelia at auth-level=2FA with `[success=done authinfo_unavail=ignore
default=die]`.  The attacker, mallory, knows the Unix password (john's for
su, their own for sudo) but not the TOTP code.  At the TOTP prompt they try
what a user can do to a process their setuid caller started: SIGSTOP, SIGTERM
or SIGKILL it, Ctrl-Z, Ctrl-C.  Before the fix the helper ran with mallory's
real uid in the terminal's process group: a stopped helper was killed by the
shim's backstop as PAM_AUTHINFO_UNAVAIL, the stack ignored it, and pam_unix's
success made mallory john (or root).  Each test asserts the outcome of the
whole stack: no command ran as the target user.
"""
import os
import signal
import time

import pexpect
import pytest

from conftest import HELPER, SHIM
from setuid_harness import USERS, SetuidCallers, kill_as, proc_state, shell
from sshd_harness import helper_pids, wait_for_helper

TIMEOUT = 3  # pam_authelia's timeout; the shim's backstop is 1 s later


@pytest.fixture(scope="module")
def callers(tmp_path_factory):
    d = tmp_path_factory.mktemp("setuid")
    d.chmod(0o755)
    c = SetuidCallers(d)
    c.start()
    yield c
    c.stop()


@pytest.fixture
def fallback(callers, authelia, certs):
    for user, (_, password) in USERS.items():
        authelia.add_user(user, password, totp=True)
    callers.configure(
        "auth requisite pam_unix.so nodelay\n"
        f"auth [success=done authinfo_unavail=ignore default=die] {SHIM} binary={HELPER} "
        f"url={authelia.url} ca-cert={certs / 'ca.pem'} debug auth-level=2FA "
        f"timeout={TIMEOUT}\n")
    return callers


def start_escalation(program, sh=None):
    """mallory's shell (sh, or a new one) runs su or sudo as far as the TOTP
    prompt; returns the shell, the target user and the helper's pid."""
    sh = sh or shell("mallory")
    if program == "su":
        sh.sendline("su john -c 'echo ESCALATED-$(id -un)'")
        sh.expect_exact("Password: ")
        sh.sendline(USERS["john"][1])
        target = "john"
    else:
        sh.sendline("sudo sh -c 'echo ESCALATED-$(id -un)'")
        sh.expect(["password for mallory: ", "Password: "])
        sh.sendline(USERS["mallory"][1])
        target = "root"
    sh.expect_exact("TOTP Code: ")
    return sh, target, wait_for_helper(HELPER)


def assert_no_escalation(sh, target, syslog):
    """The stack refused: back at mallory's prompt, nothing ran as target."""
    sh.expect_exact("$ ", timeout=TIMEOUT + 10)
    assert f"ESCALATED-{target}" not in sh.before, sh.before
    sh.sendline("echo DONE-$(id -un)")
    sh.expect_exact("DONE-mallory")
    sh.close(force=True)
    assert not any("authentication succeeded" in t for t in syslog.texts())


@pytest.mark.parametrize("program", ["su", "sudo"])
@pytest.mark.parametrize("signame", ["SIGSTOP", "SIGTERM", "SIGKILL"])
def test_the_invoking_user_cannot_signal_the_helper(fallback, syslog, program, signame):
    sh, target, helper = start_escalation(program)
    assert kill_as("mallory", helper, getattr(signal, signame)) == "EPERM"
    assert proc_state(helper) in ("S", "R")
    # No TOTP code: the attacker waits past timeout and the shim's backstop,
    # then presses Enter (su and sudo wait at the terminal for an answer).
    time.sleep(TIMEOUT + 2)
    sh.sendline("")
    assert_no_escalation(sh, target, syslog)
    assert f"timed out after {TIMEOUT} s waiting for the user (state totp_prompt)" \
        in syslog.texts()
    assert helper_pids(HELPER) == []


@pytest.mark.parametrize("program", ["su", "sudo"])
def test_ctrl_z_does_not_reach_the_helper(fallback, syslog, program):
    """Ctrl-Z sends SIGTSTP to the terminal's foreground process group, which
    was the helper's too: it stopped, and the shim's backstop made that
    PAM_AUTHINFO_UNAVAIL.  sudo stops itself on Ctrl-Z (then `fg`); su's
    conversation ignores it."""
    sh, target, helper = start_escalation(program)
    sh.send("\x1a")
    suspended = sh.expect([r"Stopped", pexpect.TIMEOUT], timeout=1.5) == 0
    assert proc_state(helper) in ("S", "R")  # in a session of its own, not the job
    time.sleep(TIMEOUT + 2)  # past timeout and the shim's backstop
    if suspended:
        sh.sendline("fg")
        time.sleep(0.5)
    sh.sendline("")
    assert_no_escalation(sh, target, syslog)
    assert f"timed out after {TIMEOUT} s waiting for the user (state totp_prompt)" \
        in syslog.texts()


@pytest.mark.parametrize("program", ["su", "sudo"])
def test_ctrl_c_does_not_reach_the_helper(fallback, syslog, program):
    sh, target, helper = start_escalation(program)
    sh.send("\x03")
    assert_no_escalation(sh, target, syslog)
    assert not any("stopped by signal Interrupt" in t for t in syslog.texts())


def scheduling(pid):
    """(policy, nice, allowed CPUs) of every thread of pid, from /proc."""
    out = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            cpus = next(l.split(":", 1)[1].strip() for l in f
                        if l.startswith("Cpus_allowed_list:"))
        # stat after the name: field 19 (nice) is [16], field 41 (policy) is [38]
        out.add((int(fields[38]), int(fields[16]), cpus))
    return out


@pytest.mark.parametrize("program", ["su", "sudo"])
def test_the_invoking_user_cannot_starve_the_helper(fallback, syslog, program):
    """mallory runs su or sudo at SCHED_IDLE, nice 19 and on one CPU (with a
    CPU hog beside it, the root helper would miss its requests' deadlines:
    "unreachable", PAM_AUTHINFO_UNAVAIL, which the stack ignores).  The helper
    inherits all three from its setuid caller and resets them as root: its
    /proc shows SCHED_OTHER, nice 0 and every CPU this machine lets it use."""
    sh = shell("mallory")
    sh.sendline("exec chrt --idle 0 nice -n 19 taskset -c 0 bash --norc --noprofile -i")
    sh.expect_exact("$ ")
    sh.sendline("echo SCHED-$(chrt -p $$ | head -1 | awk '{print $NF}')-$(nice)")
    sh.expect_exact("SCHED-SCHED_IDLE-19")  # the shell is starved as it asked
    sh, target, helper = start_escalation(program, sh)
    everything = os.sched_getaffinity(0)
    want = {(0, 0, cpu_list(everything))}  # SCHED_OTHER is policy 0
    assert scheduling(helper) == want, scheduling(helper)
    sh.send("\x03")
    assert_no_escalation(sh, target, syslog)


def cpu_list(cpus):
    """{0, 1, 2, 5} as /proc writes it: "0-2,5"."""
    runs, start, prev = [], None, None
    for c in sorted(cpus) + [None]:
        if start is None:
            start = prev = c
        elif c is not None and c == prev + 1:
            prev = c
        else:
            runs.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = c
    return ",".join(runs)
