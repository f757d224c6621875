/*
 * stand_in_wrapper.c -- the executable front of the scripted stand-in helper
 * (tests/integration/stand_in_helper.py).  The shim executes its helper from a
 * descriptor it opened and checked (fexecve), which cannot run a "#!" script,
 * so the tests install a copy of this program under the helper's name with a
 * side file "<argv[0]>.scenario" holding three lines: the scenario, the record
 * path and the stand-in script.  It records exactly what the shim's execve
 * gave it (argv, environment, signal masks) and then runs the script:
 *
 *   RECORD.cmdline   /proc/self/cmdline
 *   RECORD.environ   /proc/self/environ
 *   RECORD.signals   the SigIgn and SigBlk lines of /proc/self/status
 *
 * The scenario "fast-result:NAME" runs no script: it reads the set-up frames
 * up to "G" and answers the result NAME at once, so that a test measures the
 * module's own costs rather than Python's start-up.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (in < 0 || out < 0)
		exit(126);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			exit(126);
	close(in);
	close(out);
}

static void copy_signal_lines(const char *to)
{
	char line[256];
	FILE *in = fopen("/proc/self/status", "re");
	FILE *out = fopen(to, "we");

	if (in == NULL || out == NULL)
		exit(126);
	while (fgets(line, sizeof(line), in) != NULL)
		if (strncmp(line, "SigIgn:", 7) == 0 || strncmp(line, "SigBlk:", 7) == 0)
			fputs(line, out);
	fclose(in);
	fclose(out);
}

static void read_line(FILE *f, char *buf, size_t len)
{
	if (fgets(buf, (int)len, f) == NULL)
		exit(126);
	buf[strcspn(buf, "\n")] = '\0';
}

static int read_exact(void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(0, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The frame: kind, a 4-byte big-endian length, the payload. */
static int fast_result(const char *result)
{
	unsigned char head[5], frame[5 + 64];
	char payload[65536];
	size_t len = strlen(result), n;

	do {
		if (read_exact(head, sizeof(head)) != 0)
			return 125;
		n = (size_t)head[1] << 24 | (size_t)head[2] << 16 | (size_t)head[3] << 8 | head[4];
		if (n > sizeof(payload) || read_exact(payload, n) != 0)
			return 125;
	} while (head[0] != 'G');
	if (len > 64)
		return 125;
	frame[0] = 'r';
	frame[1] = frame[2] = frame[3] = 0;
	frame[4] = (unsigned char)len;
	memcpy(frame + 5, result, len);
	return write(1, frame, 5 + len) == (ssize_t)(5 + len) ? 0 : 125;
}

int main(int argc, char **argv)
{
	char side[4096], scenario[256], record[4096], script[4096], path[4200];
	FILE *f;

	if (argc < 1 || snprintf(side, sizeof(side), "%s.scenario", argv[0]) >= (int)sizeof(side))
		return 126;
	f = fopen(side, "re");
	if (f == NULL)
		return 126;
	read_line(f, scenario, sizeof(scenario));
	read_line(f, record, sizeof(record));
	read_line(f, script, sizeof(script));
	fclose(f);
	snprintf(path, sizeof(path), "%s.cmdline", record);
	copy_file("/proc/self/cmdline", path);
	snprintf(path, sizeof(path), "%s.environ", record);
	copy_file("/proc/self/environ", path);
	snprintf(path, sizeof(path), "%s.signals", record);
	copy_signal_lines(path);
	if (strncmp(scenario, "fast-result:", 12) == 0)
		return fast_result(scenario + 12);
	execl("/usr/bin/python3", "/usr/bin/python3", script, scenario, record, (char *)NULL);
	return 127;
}
