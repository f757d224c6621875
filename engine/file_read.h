/*
 * file_read.h -- the whole of a small regular file, from a descriptor opened
 * (and checked) by the caller: ca-cert's PEM (engine/tls.c) and /etc/passwd
 * (engine/sandbox.c), both read as root before the sandbox; and the one read
 * loop under it, shared with the secret file (engine/secret_file.c) and the
 * doctor's pipes.
 */
#ifndef PAM_AUTHELIA_FILE_READ_H
#define PAM_AUTHELIA_FILE_READ_H

#include <stddef.h>
#include <sys/types.h>

/* Reads fd until len bytes or end of file, EINTR retried: the count (less
 * than len only at end of file), or -1 with errno. */
ssize_t file_read_full(int fd, void *buf, size_t len);

/* The contents of the regular file fd (at most max bytes), NUL-terminated,
 * length in *len; NULL with errno set (EINVAL: not a regular file, EFBIG: over
 * max).  fd stays open.  Not for secrets: the buffer is not wiped. */
char *file_read_fd(int fd, size_t max, size_t *len);

#endif
