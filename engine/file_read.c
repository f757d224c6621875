/*
 * file_read.c -- reading a small whole file from a descriptor (see
 * file_read.h).
 */
#include "file_read.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

char *file_read_fd(int fd, size_t max, size_t *len)
{
	struct stat st;
	char *buf;
	size_t have = 0;
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
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	*len = have;
	return buf;
fail:
	saved = errno;
	free(buf);
	errno = saved;
	return NULL;
}
