/*
 * secret_file.c -- the checks and the read behind oauth2-client-secret-file
 * (see secret_file.h).  The path is opened with openat2(RESOLVE_NO_SYMLINKS)
 * where the kernel has it (5.6+), so no component may be a symbolic link;
 * older kernels get O_NOFOLLOW, which covers the last component.  The checks
 * are made on the open descriptor (fstat), not on the name, so the file
 * cannot be swapped between check and read.
 */
#include "secret_file.h"
#include "file_read.h"
#include "secure_alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int secret_file_open(const char *path);

/* O_NONBLOCK: a FIFO put in the file's place must not hang the login. */
#define SECRET_FILE_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW)

static int secret_file_open(const char *path)
{
	struct open_how how = {
	    .flags = SECRET_FILE_FLAGS,
	    .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	if (fd < 0 && (errno == ENOSYS || errno == E2BIG))
		fd = open(path, SECRET_FILE_FLAGS);
	return (int)fd;
}

char *secret_file_read(const char *path, char err[SECRET_FILE_ERROR_SIZE])
{
	char buf[SECRET_FILE_MAX + 2];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	char *secret = NULL;
	int fd;

	if (path[0] != '/') {
		snprintf(err, SECRET_FILE_ERROR_SIZE,
			 "oauth2-client-secret-file %s: give an absolute path", path);
		return NULL;
	}
	fd = secret_file_open(path);
	if (fd < 0) {
		if (errno == ELOOP)
			snprintf(err, SECRET_FILE_ERROR_SIZE,
				 "oauth2-client-secret-file %s: the path contains a symbolic link; "
				 "name the file itself",
				 path);
		else
			snprintf(err, SECRET_FILE_ERROR_SIZE,
				 "oauth2-client-secret-file %s: cannot open it: %s", path,
				 strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, SECRET_FILE_ERROR_SIZE, "oauth2-client-secret-file %s: %s", path,
			 strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, SECRET_FILE_ERROR_SIZE,
			 "oauth2-client-secret-file %s is not a regular file", path);
	} else if (st.st_uid != 0) {
		snprintf(err, SECRET_FILE_ERROR_SIZE,
			 "oauth2-client-secret-file %s is owned by uid %u, not root; fix: chown "
			 "root:root %s",
			 path, (unsigned)st.st_uid, path);
	} else if ((st.st_mode & 077) != 0) {
		snprintf(err, SECRET_FILE_ERROR_SIZE,
			 "oauth2-client-secret-file %s can be read or changed by group or others "
			 "(mode %04o); fix: chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
	} else if (st.st_size > SECRET_FILE_MAX) {
		snprintf(err, SECRET_FILE_ERROR_SIZE,
			 "oauth2-client-secret-file %s is larger than %d bytes; it must hold the "
			 "client secret alone",
			 path, SECRET_FILE_MAX);
	} else {
		/* Read up to one byte past the limit: the file may grow after fstat. */
		n = file_read_full(fd, buf, sizeof(buf));
		len = n < 0 ? (size_t)-1 : (size_t)n;
		if (n < 0) {
			snprintf(err, SECRET_FILE_ERROR_SIZE,
				 "oauth2-client-secret-file %s: cannot read it: %s", path,
				 strerror(errno));
		} else if (len > SECRET_FILE_MAX) {
			snprintf(err, SECRET_FILE_ERROR_SIZE,
				 "oauth2-client-secret-file %s is larger than %d bytes; it must "
				 "hold the client secret alone",
				 path, SECRET_FILE_MAX);
		} else {
			if (len > 0 && buf[len - 1] == '\n')
				len--;
			if (len > 0 && buf[len - 1] == '\r')
				len--;
			if (len == 0)
				snprintf(err, SECRET_FILE_ERROR_SIZE,
					 "oauth2-client-secret-file %s is empty; write the client "
					 "secret into it",
					 path);
			else if (memchr(buf, '\0', len) != NULL || memchr(buf, '\n', len) != NULL)
				snprintf(err, SECRET_FILE_ERROR_SIZE,
					 "oauth2-client-secret-file %s holds more than one line or "
					 "a NUL byte; it must hold the client secret alone",
					 path);
			else if ((secret = secret_dup(buf, len)) == NULL)
				snprintf(err, SECRET_FILE_ERROR_SIZE, "out of memory");
		}
	}
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return secret;
}
