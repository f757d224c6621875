/*
 * file_read.c -- reading a small whole file from a descriptor (see
 * file_read.h).
 */
#include "file_read.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t file_read_full(int fd, void *buf, size_t len)
{
	size_t have = 0;

	while (have < len) {
		ssize_t n = read(fd, (char *)buf + have, len - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		have += (size_t)n;
	}
	return (ssize_t)have;
}

char *file_read_fd(int fd, size_t max, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t got;
	int saved;

	if (fstat(fd, &st) != 0)
		return NULL;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return NULL;
	/* What fstat saw: a file that grows meanwhile is read up to that size. */
	got = file_read_full(fd, buf, (size_t)st.st_size);
	if (got < 0) {
		saved = errno;
		free(buf);
		errno = saved;
		return NULL;
	}
	buf[got] = '\0';
	*len = (size_t)got;
	return buf;
}
