/*
 * secret_file.h -- reading oauth2-client-secret-file.  /etc/pam.d is
 * world-readable, so the device-flow client secret belongs in a file of its
 * own that only root can read.  The file is refused unless it is a regular
 * file owned by root with no group or other permission bits, reached without
 * following a symbolic link, and at most SECRET_FILE_MAX bytes.  One trailing
 * newline (LF or CRLF) is dropped.  Error messages name the file and the fix,
 * never a byte of its content.
 */
#ifndef PAM_AUTHELIA_SECRET_FILE_H
#define PAM_AUTHELIA_SECRET_FILE_H

#include <stddef.h>

#define SECRET_FILE_MAX	       4096
#define SECRET_FILE_ERROR_SIZE 256

/* Returns a secret_dup'd copy (free with secret_free), or NULL with err set. */
char *secret_file_read(const char *path, char err[SECRET_FILE_ERROR_SIZE]);

#endif
