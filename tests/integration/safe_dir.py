"""A place the shim accepts a helper from, for the tests, the benchmark and the
demo.  The shim runs only a helper whose every directory up to "/" is owned by
root and writable by root alone (OpenSSH's safe_path rule): not a build tree
under /tmp (CI may clone the repository there), not pytest's tmp_path."""
import shutil
import tempfile
from pathlib import Path


def make_safe_dir(parent="/run"):
    """A new root-owned 0755 directory under parent (root's own, outside /tmp);
    None when it cannot be made (not root).  The caller removes it."""
    try:
        d = Path(tempfile.mkdtemp(prefix="pam_authelia-test.", dir=parent))
    except OSError:
        return None
    d.chmod(0o755)
    return d


def install_helper(src, directory, name=None):
    """A copy of the executable src in directory, mode 0755: what the shim runs."""
    dst = Path(directory) / (name or Path(src).name)
    shutil.copy(src, dst)
    dst.chmod(0o755)
    return dst
