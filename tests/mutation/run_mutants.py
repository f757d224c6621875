#!/usr/bin/python3
"""run_mutants.py -- proves each security control is load-bearing.

For every entry of catalogue.py: copy the tree once into a scratch directory,
build once, run every named test on the unmutated build (each must pass, or a
"kill" would prove nothing), then per mutant: replace the snippet (it must
occur exactly once, or the catalogue has rotted: fail loudly), rebuild
incrementally, run the entry's one test with a timeout, put the file back.

    killed       the test failed (or timed out) with the control weakened: good
    SURVIVED     the test passed without the control: a gap
    build error  the mutant does not compile: fix the entry
    no test      the test selected nothing

Usage: run_mutants.py [--only id1,id2] [--keep] [--list]
(make mutants MUTANTS=id1,id2).  Exit status 0 only when every mutant run
was killed.  Needs root, as the integration tests do.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from catalogue import MUTANTS  # noqa: E402

HELPER_TARGETS = ["build/pam_authelia", "build/pam_authelia.so", "build/tests/pam_test_app",
                  "build/tests/pam_set_authtok.so", "build/tests/stand_in_wrapper",
                  "build/tests/double_free"]
# Built again only for the suites that run it (it recompiles engine/sandbox.c).
SELFTEST_SUITES = ("test_sandbox.py", "test_audit.py")
UNIT_TIMEOUT = 60
PYTEST_TIMEOUT = 150


class Test:
    """'unit test_x test_name' or 'tests/integration/f.py::test_name [-k expr]'."""

    def __init__(self, spec):
        self.spec = spec
        if spec.startswith("unit "):
            _, self.binary, self.name = spec.split()
            self.kind = "unit"
        else:
            node, _, self.k = spec.partition(" -k ")
            self.file, _, self.name = node.partition("::")
            self.kind = "pytest"
            if not self.name:
                raise ValueError(f"{spec}: name a test (file::test_name)")

    def targets(self):
        if self.kind == "unit":
            return [f"build/tests/{self.binary}"]
        if Path(self.file).name in SELFTEST_SUITES:
            return HELPER_TARGETS + ["build/tests/pam_authelia_selftest"]
        return HELPER_TARGETS

    def command(self, scratch):
        if self.kind == "unit":
            return [str(scratch / "build/tests" / self.binary)], {"UNIT_TEST_FILTER": self.name}
        cmd = ["tests/run_integration.sh", "-x", "-p", "no:warnings", f"{self.file}::{self.name}"]
        if self.k:
            cmd += ["-k", self.k]
        return cmd, {}

    def timeout(self):
        return UNIT_TIMEOUT if self.kind == "unit" else PYTEST_TIMEOUT


def run(cmd, cwd, env_extra=None, timeout=None):
    """(returncode or None on timeout, output, seconds); the whole process group
    goes on timeout."""
    env = dict(os.environ, **(env_extra or {}))
    start = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = None
    return rc, out.decode(errors="replace"), time.monotonic() - start


def copy_tree(scratch):
    """The tree's files (git's list, untracked ones included), without build/."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True)
    if listed.returncode != 0:  # not a git checkout
        shutil.copytree(ROOT, scratch, symlinks=True, dirs_exist_ok=True,
                        ignore=lambda d, names: {"build", ".git"} & set(names)
                        if Path(d) == ROOT else set())
        return
    files = listed.stdout.split(b"\0")
    for f in files:
        if not f:
            continue
        src, dst = ROOT / f.decode(), scratch / f.decode()
        if not src.is_file():
            continue  # deleted in the work tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def make(scratch, targets):
    return run(["make", "-s", "-j2", "DEPS=true", *targets], scratch, timeout=900)


def edits(m):
    """[(file, find, replace)]: the entry's own, then its `more` pairs (a pair edits
    the entry's file, a triple names another)."""
    out = [(m["file"], m["find"], m["replace"])]
    for e in m.get("more", []):
        out.append(e if len(e) == 3 else (m["file"], *e))
    return out


def check_snippets(mutants, tree):
    bad = []
    for m in mutants:
        for file, find, _ in edits(m):
            path = tree / file
            if not path.exists():
                bad.append(f'{m["id"]}: no file {file}')
                continue
            n = path.read_text().count(find)
            if n != 1:
                bad.append(f'{m["id"]}: a snippet occurs {n} times in {file} (must be once): '
                           f'{find!r}')
    return bad


def mutate(scratch, m):
    """Applies the mutant; returns {path: original text} to put back."""
    originals = {}
    for file, find, replace in edits(m):
        path = scratch / file
        originals.setdefault(path, path.read_text())
        path.write_text(path.read_text().replace(find, replace, 1))
    return originals


def pytest_selected(test, name, classname):
    """Does the entry select this junit test case (pytest's own -k matcher)?"""
    from _pytest.mark.expression import Expression
    base = name.split("[", 1)[0]
    if base != test.name or not classname.endswith(Path(test.file).stem):
        return False
    if not test.k:
        return True
    words = [name.lower(), Path(test.file).stem.lower()]
    return Expression.compile(test.k).evaluate(lambda s: any(s.lower() in w for w in words))


def baseline(scratch, tests):
    """Every named test passes on the unmutated build: {spec: problem or None}."""
    problems = {}
    for t in [t for t in tests if t.kind == "unit"]:
        cmd, env = t.command(scratch)
        rc, out, _ = run(cmd, scratch, env, t.timeout())
        if rc != 0 or f"[       OK ] {t.name}" not in out:
            problems[t.spec] = "fails (or does not run) unmutated:\n" + out[-2000:]
    by_file = {}
    for t in [t for t in tests if t.kind == "pytest"]:
        by_file.setdefault(t.file, []).append(t)
    for file, group in by_file.items():
        junit = scratch / "build" / f"mutants-baseline-{Path(file).stem}.xml"
        expr = " or ".join(f"({t.name} and ({t.k}))" if t.k else f"({t.name})" for t in group)
        nodes = sorted({f"{file}::{t.name}" for t in group})
        rc, out, _ = run(["tests/run_integration.sh", "-p", "no:warnings", f"--junitxml={junit}",
                          *nodes, "-k", expr], scratch, timeout=PYTEST_TIMEOUT * len(group))
        cases = []
        if junit.exists():
            for tc in ET.parse(junit).getroot().iter("testcase"):
                state = ("failed" if tc.find("failure") is not None or tc.find("error") is not None
                         else "skipped" if tc.find("skipped") is not None else "passed")
                cases.append((tc.get("name"), tc.get("classname", ""), state))
        for t in group:
            mine = [c for c in cases if pytest_selected(t, c[0], c[1])]
            if not mine:
                problems[t.spec] = "selects no test"
            elif any(s != "passed" for _, _, s in mine):
                problems[t.spec] = "unmutated: " + ", ".join(f"{n} {s}" for n, _, s in mine
                                                             if s != "passed")
        if rc not in (0, 1) and not cases:
            for t in group:
                problems.setdefault(t.spec, "pytest did not run:\n" + out[-2000:])
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=os.environ.get("MUTANTS", ""),
                    help="comma-separated ids (default: all)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree")
    ap.add_argument("--list", action="store_true", help="print the catalogue and exit")
    opts = ap.parse_args()

    ids = [m["id"] for m in MUTANTS]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        sys.exit(f"mutants: duplicate ids {sorted(dupes)}")
    chosen = MUTANTS
    if opts.only:
        wanted = [i.strip() for i in opts.only.split(",") if i.strip()]
        unknown = [i for i in wanted if i not in ids]
        if unknown:
            sys.exit(f"mutants: unknown ids {unknown}")
        chosen = [m for m in MUTANTS if m["id"] in wanted]
    if opts.list:
        for m in chosen:
            print(f'{m["id"]:28} {m["control"]:50} {m["file"]:28} {m["test"]}')
        return 0
    bad = check_snippets(chosen, ROOT)
    if bad:
        print("mutants: the catalogue has rotted:\n  " + "\n  ".join(bad), file=sys.stderr)
        return 2
    tests = {}
    for m in chosen:
        tests.setdefault(m["test"], Test(m["test"]))

    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="pam_authelia_mutants."))
    os.chmod(scratch, 0o755)
    os.environ["PAM_AUTHELIA_TEST_CERTS"] = str(scratch / "build" / "test-certs")
    try:
        copy_tree(scratch)
        targets = sorted({tg for t in tests.values() for tg in t.targets()})
        print(f"mutants: {len(chosen)} mutants, {len(tests)} tests; building {scratch} once",
              flush=True)
        rc, out, secs = make(scratch, ["all", *targets, *HELPER_TARGETS,
                                       "build/tests/pam_authelia_selftest"])
        if rc != 0:
            print(out[-4000:])
            print("mutants: the unmutated tree does not build", file=sys.stderr)
            return 2
        print(f"mutants: built in {secs:.0f} s; running the {len(tests)} tests unmutated",
              flush=True)
        problems = baseline(scratch, tests.values())
        if problems:
            for spec, why in problems.items():
                print(f"mutants: {spec}: {why}", file=sys.stderr)
            print("mutants: every named test must pass on the unmutated tree", file=sys.stderr)
            return 2
        print(f"mutants: baseline passed at {time.monotonic() - started:.0f} s", flush=True)

        # What each test printed, to see that a kill was for the right reason.
        logs = ROOT / "build" / "mutants"
        logs.mkdir(parents=True, exist_ok=True)
        rows = []
        for m in chosen:
            t = tests[m["test"]]
            t0 = time.monotonic()
            originals = mutate(scratch, m)
            try:
                rc, out, _ = make(scratch, t.targets())
                if rc != 0:
                    outcome, detail = "build error", out[-1500:]
                else:
                    cmd, env = t.command(scratch)
                    rc, out, _ = run(cmd, scratch, env, t.timeout())
                    if rc is None:
                        outcome, detail = "killed", "(timed out)"
                    elif t.kind == "pytest" and rc == 5:
                        outcome, detail = "no test", out[-1500:]
                    elif t.kind == "pytest" and rc not in (0, 1):
                        outcome, detail = "test error", out[-1500:]
                    else:
                        outcome, detail = ("SURVIVED", out[-1500:]) if rc == 0 else ("killed", "")
            finally:
                for path, text in originals.items():
                    path.write_text(text)
            secs = time.monotonic() - t0
            rows.append((m, outcome, secs))
            (logs / f'{m["id"]}.log').write_text(f"{outcome}\n{out}")
            print(f'  {m["id"]:28} {outcome:11} {secs:5.1f} s', flush=True)
            if outcome != "killed" and detail:
                print("    " + detail.replace("\n", "\n    "), flush=True)

        total = time.monotonic() - started
        print()
        print(f'{"id":28} {"control":44} {"file":26} {"test":60} {"outcome":11} {"s":>5}')
        for m, outcome, secs in rows:
            print(f'{m["id"]:28} {m["control"][:44]:44} {m["file"]:26} {m["test"][:60]:60} '
                  f'{outcome:11} {secs:5.1f}')
        killed = sum(1 for _, o, _ in rows if o == "killed")
        print(f"\nmutants: {killed} passed, {len(rows) - killed} failed "
              f"({killed} of {len(rows)} killed) in {total:.0f} s")
        return 0 if killed == len(rows) else 1
    finally:
        if opts.keep:
            print(f"mutants: scratch tree kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
