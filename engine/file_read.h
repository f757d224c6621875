/*
 * file_read.h -- the whole of a small regular file, from a descriptor opened
 * (and checked) by the caller: ca-cert's PEM (engine/tls.c) and /etc/passwd
 * (engine/sandbox.c), both read as root before the sandbox.
 */
#ifndef PAM_AUTHELIA_FILE_READ_H
#define PAM_AUTHELIA_FILE_READ_H

#include <stddef.h>

/* The contents of the regular file fd (at most max bytes), NUL-terminated,
 * length in *len; NULL with errno set (EINVAL: not a regular file, EFBIG: over
 * max).  fd stays open.  Not for secrets: the buffer is not wiped. */
char *file_read_fd(int fd, size_t max, size_t *len);

#endif
