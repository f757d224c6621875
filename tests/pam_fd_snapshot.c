/*
 * pam_fd_snapshot.c -- a test PAM module that lists the calling process's
 * open descriptors: one line "TAG PID fd=target fd=target ..." appended to
 * the file named by file=, tagged by tag=; a socket connected to a named
 * Unix socket shows that name too ("socket:[123]>/dev/log": glibc's
 * syslog(3) connection, which pam_syslog opens once and keeps).  It returns
 * PAM_IGNORE, so an
 * `optional` line of it before and after the module under test shows, in
 * sshd's own PAM process, whatever that module left open.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <security/pam_modules.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *tag = "-", *file = NULL;
	char line[8192], target[PATH_MAX], path[64];
	size_t used;
	DIR *dir;
	struct dirent *de;
	int fd;

	(void)pamh;
	(void)flags;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "tag=", 4) == 0)
			tag = argv[i] + 4;
		else if (strncmp(argv[i], "file=", 5) == 0)
			file = argv[i] + 5;
	}
	if (file == NULL || (dir = opendir("/proc/self/fd")) == NULL)
		return PAM_IGNORE;
	used = (size_t)snprintf(line, sizeof(line), "%s %d", tag, (int)getpid());
	while ((de = readdir(dir)) != NULL && used < sizeof(line) - 1) {
		ssize_t n;

		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(dir))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", atoi(de->d_name));
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=%s", de->d_name,
					 target);
		if (strncmp(target, "socket:", 7) == 0 && used < sizeof(line)) {
			struct sockaddr_un peer;
			socklen_t len = sizeof(peer);

			memset(&peer, 0, sizeof(peer));
			if (getpeername(atoi(de->d_name), (struct sockaddr *)&peer, &len) == 0 &&
			    peer.sun_family == AF_UNIX && peer.sun_path[0] != '\0')
				used += (size_t)snprintf(line + used, sizeof(line) - used,
							 ">%.100s", peer.sun_path);
		}
	}
	closedir(dir);
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (used < sizeof(line) - 1)
			line[used++] = '\n';
		(void)!write(fd, line, used);
		close(fd);
	}
	return PAM_IGNORE;
}

int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}
