/*
 * bare_client.c -- the floor the benchmark measures the helper against: a
 * plain OpenSSL 3 client doing the least one login's connection does, one
 * TLS 1.3 handshake (verified against a CA file, host name checked, SNI) and
 * one HTTP/1.1 request, with blocking sockets and OpenSSL's defaults.
 *
 * usage: bare_client HOST PORT CA_FILE PATH      (exit 0 on a 200 answer)
 *        bare_client --measure N HOST PORT CA_FILE PATH
 *            runs the client N times, each forked from this small process (a
 *            child spawned by a big one, Python, would count the parent's
 *            pages in its peak RSS), and prints "<user+system us> <peak RSS KiB>"
 *            per run from wait4
 */
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int measure(int runs, char **args)
{
	for (int i = 0; i < runs; i++) {
		struct rusage ru;
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			execv("/proc/self/exe", args);
			_exit(127);
		}
		if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || status != 0)
			return 1;
		printf("%ld %ld\n",
		       (long)((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
			      ru.ru_utime.tv_usec + ru.ru_stime.tv_usec),
		       ru.ru_maxrss);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char request[512], answer[4096];
	SSL_CTX *ctx;
	SSL *ssl;
	size_t have = 0;
	int fd, n, ok;

	if (argc == 7 && strcmp(argv[1], "--measure") == 0) {
		int runs = atoi(argv[2]);

		argv[2] = argv[0];
		return measure(runs, argv + 2);
	}
	if (argc != 5) {
		fprintf(stderr, "usage: bare_client HOST PORT CA_FILE PATH\n");
		return 2;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || !SSL_CTX_load_verify_file(ctx, argv[3]))
		return 1;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
		return 1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		return 1;
	freeaddrinfo(ai);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, argv[1]);
	SSL_set1_host(ssl, argv[1]);
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	n = snprintf(request, sizeof(request),
		     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", argv[4],
		     argv[1], argv[2]);
	if (SSL_write(ssl, request, n) != n)
		return 1;
	while (have < sizeof(answer) - 1 &&
	       (n = SSL_read(ssl, answer + have, (int)(sizeof(answer) - 1 - have))) > 0)
		have += (size_t)n;
	answer[have] = '\0';
	ok = strncmp(answer, "HTTP/1.1 200 ", 13) == 0;
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return ok ? 0 : 1;
}
