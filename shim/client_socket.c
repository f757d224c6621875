/*
 * client_socket.c -- finds the remote client's TCP socket among the PAM
 * process's descriptors, so the helper can watch it for hang-up.  sshd runs
 * pam_sm_authenticate in a process that holds the client socket (fd 4 with
 * CLOEXEC on OpenSSH 9.2) and sets PAM_RHOST to the client's address; the
 * socket whose peer address equals PAM_RHOST is the one to watch.
 */
#include "shim.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct ip_address {
	int family;
	unsigned char bytes[16];
};

/* Parses an IPv4, IPv6 or v4-mapped IPv6 literal; v4-mapped becomes IPv4. */
static int parse_ip(const char *text, struct ip_address *ip)
{
	struct in6_addr v6;

	if (inet_pton(AF_INET, text, ip->bytes) == 1) {
		ip->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &v6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&v6)) {
		ip->family = AF_INET;
		memcpy(ip->bytes, &v6.s6_addr[12], 4);
	} else {
		ip->family = AF_INET6;
		memcpy(ip->bytes, v6.s6_addr, 16);
	}
	return 0;
}

static int peer_ip(int fd, struct ip_address *ip)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		ip->family = AF_INET;
		memcpy(ip->bytes, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		return 0;
	}
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			ip->family = AF_INET;
			memcpy(ip->bytes, &a->s6_addr[12], 4);
		} else {
			ip->family = AF_INET6;
			memcpy(ip->bytes, a->s6_addr, 16);
		}
		return 0;
	}
	return -1;
}

static int is_stream_socket(int fd)
{
	struct stat st;
	int type = 0;
	socklen_t len = sizeof(type);

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* Returns the lowest fd whose peer is rhost, or -1. */
int client_socket_find(const char *rhost)
{
	struct ip_address want, got;
	DIR *dir;
	struct dirent *de;
	int found = -1;

	if (rhost == NULL || parse_ip(rhost, &want) != 0)
		return -1;
	dir = opendir("/proc/self/fd");
	if (dir == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (end == de->d_name || *end != '\0' || fd < 0 || fd == dirfd(dir))
			continue;
		if (found >= 0 && fd > found)
			continue;
		if (!is_stream_socket((int)fd) || peer_ip((int)fd, &got) != 0)
			continue;
		if (got.family == want.family &&
		    memcmp(got.bytes, want.bytes, want.family == AF_INET ? 4 : 16) == 0)
			found = (int)fd;
	}
	closedir(dir);
	return found;
}
