/*
 * pam_test_app.c -- a small PAM application for the integration tests.  It
 * runs one pam_authenticate() against a private PAM configuration directory
 * (pam_start_confdir: the host's /etc/pam.d is never touched) and makes the
 * conversation scriptable:
 *
 *   every message is printed on stdout as   CONV <style> <escaped text>
 *   every prompt's answer is read from stdin, one line per prompt;
 *   EOF on stdin makes the conversation fail (PAM_CONV_ERR);
 *   the result is printed as                RESULT <PAM_NAME> <elapsed ms>
 *
 * Options:
 *   --rhost ADDR        set PAM_RHOST
 *   --connect PORT      open a TCP connection to ADDR:PORT first, so this
 *                       process holds a socket whose peer is PAM_RHOST (as
 *                       sshd's PAM process does)
 *   --open-extra-fd     keep a descriptor open without CLOEXEC, as sshd does,
 *                       to check that the helper does not inherit it
 *   --hostile-signals   ignore SIGTERM, SIGPIPE and SIGCHLD and block SIGTERM and
 *                       SIGUSR1 first; after pam_authenticate, report whether
 *                       SIGCHLD is still ignored (the shim must restore it)
 *   --timing            before each CONV line and the RESULT line, and after
 *                       each answer is read, print  T conv|answer|result <us>
 *                       (microseconds since pam_authenticate was called)
 *   --rusage            after RESULT, print  RUSAGE <user us> <system us> <max RSS KiB>
 *                       of the children reaped (the helper: the shim reaps it)
 */
#include <signal.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int timing;
static struct timespec started;

static void print_time(const char *what)
{
	struct timespec now;

	if (!timing)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	printf("T %s %ld\n", what,
	       (long)((now.tv_sec - started.tv_sec) * 1000000 +
		      (now.tv_nsec - started.tv_nsec) / 1000));
}

static const char *style_name(int style)
{
	switch (style) {
	case PAM_PROMPT_ECHO_OFF:
		return "echo_off";
	case PAM_PROMPT_ECHO_ON:
		return "echo_on";
	case PAM_TEXT_INFO:
		return "info";
	case PAM_ERROR_MSG:
		return "error";
	default:
		return "unknown";
	}
}

static void print_escaped(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\\')
			fputs("\\\\", stdout);
		else if (*p < 0x20)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
}

static int conversation(int n, const struct pam_message **msgs, struct pam_response **resp,
			void *appdata)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	(void)appdata;
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		print_time("conv");
		printf("CONV %s ", style_name(msgs[i]->msg_style));
		print_escaped(msgs[i]->msg);
		putchar('\n');
		fflush(stdout);
		if (msgs[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msgs[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			char line[4096];
			if (fgets(line, sizeof(line), stdin) == NULL) {
				free(r);
				return PAM_CONV_ERR;
			}
			line[strcspn(line, "\n")] = '\0';
			r[i].resp = strdup(line);
			print_time("answer");
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static const char *pam_name(int rc)
{
	static const struct {
		int rc;
		const char *name;
	} names[] = {
	    {PAM_SUCCESS, "PAM_SUCCESS"},
	    {PAM_AUTH_ERR, "PAM_AUTH_ERR"},
	    {PAM_AUTHINFO_UNAVAIL, "PAM_AUTHINFO_UNAVAIL"},
	    {PAM_SERVICE_ERR, "PAM_SERVICE_ERR"},
	    {PAM_CONV_ERR, "PAM_CONV_ERR"},
	    {PAM_ABORT, "PAM_ABORT"},
	    {PAM_USER_UNKNOWN, "PAM_USER_UNKNOWN"},
	    {PAM_BUF_ERR, "PAM_BUF_ERR"},
	    {PAM_SYSTEM_ERR, "PAM_SYSTEM_ERR"},
	};
	static char other[32];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rc == rc)
			return names[i].name;
	snprintf(other, sizeof(other), "PAM_%d", rc);
	return other;
}

static int connect_to(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in6);
	} else {
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0)
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	struct pam_conv conv = {conversation, NULL};
	pam_handle_t *pamh = NULL;
	const char *rhost = NULL, *connect_addr = NULL;
	int port = 0, rc, i, hostile = 0, rusage = 0;
	struct timespec t0, t1;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--rhost") == 0 && i + 1 < argc)
			rhost = argv[++i];
		else if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--open-extra-fd") == 0)
			open("/dev/null", O_RDONLY);
		else if (strcmp(argv[i], "--hostile-signals") == 0)
			hostile = 1;
		else if (strcmp(argv[i], "--timing") == 0)
			timing = 1;
		else if (strcmp(argv[i], "--rusage") == 0)
			rusage = 1;
		else
			break;
	}
	if (argc - i != 3) {
		fprintf(stderr, "usage: pam_test_app [--rhost A] [--connect PORT] "
				"[--open-extra-fd] [--hostile-signals] [--timing] [--rusage] "
				"CONFDIR SERVICE USER\n");
		return 2;
	}
	connect_addr = rhost ? rhost : "127.0.0.1";
	if (port > 0 && connect_to(connect_addr, port) < 0) {
		perror("connect");
		return 2;
	}
	rc = pam_start_confdir(argv[i + 1], argv[i + 2], &conv, argv[i], &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_start_confdir: %d\n", rc);
		return 2;
	}
	if (rhost)
		pam_set_item(pamh, PAM_RHOST, rhost);
	if (hostile) {
		sigset_t set;
		signal(SIGTERM, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGCHLD, SIG_IGN);
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	printf("PID %d\n", (int)getpid());
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	started = t0;
	rc = pam_authenticate(pamh, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_time("result");
	if (hostile) {
		struct sigaction sa;
		sigaction(SIGCHLD, NULL, &sa);
		printf("SIGCHLD %s\n", sa.sa_handler == SIG_IGN ? "ignored" : "not-ignored");
	}
	printf("RESULT %s %ld\n", pam_name(rc),
	       (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	if (rusage) {
		struct rusage ru;
		getrusage(RUSAGE_CHILDREN, &ru);
		printf("RUSAGE %ld %ld %ld\n",
		       (long)(ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec),
		       (long)(ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec), ru.ru_maxrss);
	}
	fflush(stdout);
	pam_end(pamh, rc);
	return 0;
}
