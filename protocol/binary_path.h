/*
 * binary_path.h -- the rule for the helper binary (and for ca-cert, below): what the module
 * enforces before it starts the helper, and what `pam_authelia --check` reports.  The path is
 * resolved one name at a time; every directory a name is looked up in (symlinks followed, from "/"
 * down) must be owned by root and writable by root only, as OpenSSH's safe_path() checks; the file
 * must be a regular executable owned by root (or the effective user) and writable by its owner
 * only.  The module usually runs as root: a helper others can replace, or a
 * symlink others can point at /bin/sh, would be a root shell.  libc only.
 */
#ifndef PAM_AUTHELIA_BINARY_PATH_H
#define PAM_AUTHELIA_BINARY_PATH_H

#include <stddef.h>

/*
 * Checks path and returns an O_PATH descriptor of the file (CLOEXEC) to
 * execute with fexecve, so that nothing swapped in at the path after the check
 * runs instead; or -1 with err set ("helper binary PATH: directory D must be
 * owned by root and writable by its owner only").
 */
int binary_path_open(const char *path, char *err, size_t errlen);

/*
 * The same rule for a file the helper trusts (ca-cert, its trust anchor:
 * whoever can change it, or swap a directory on its path, can make the helper
 * trust their CA and forge PAM_SUCCESS): every directory as above, and a
 * regular file owned by root (or the effective user) and writable by its
 * owner only.  Returns a read-only descriptor (CLOEXEC) of the checked file,
 * or -1 with err set ("failed to read CA certificate PATH: ...; fix: ...").
 */
int trusted_file_open(const char *path, char *err, size_t errlen);

#endif
