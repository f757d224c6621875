/*
 * log.c -- syslog output for the helper (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static bool log_debug_on;
static bool log_to_stderr;
static log_sink log_test_sink;

void log_open(bool also_stderr)
{
	log_to_stderr = also_stderr;
	openlog("pam_authelia", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

const char *log_shown(const char *text, char out[LOG_SHOWN_SIZE])
{
	return text_shown(text, out);
}

void log_set_debug(bool debug)
{
	log_debug_on = debug;
}

bool log_debug_enabled(void)
{
	return log_debug_on;
}

void log_set_sink(log_sink sink)
{
	log_test_sink = sink;
}

static void log_write(int priority, const char *fmt, va_list ap) LOG_FORMAT(2, 0);

static void log_write(int priority, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_test_sink != NULL) {
		log_test_sink(priority, line);
		return;
	}
	syslog(priority, "%s", line);
	if (log_to_stderr)
		fprintf(stderr, "pam_authelia: %s\n", line);
}

#define LOG_FUNCTION(name, priority)          \
	void name(const char *fmt, ...)       \
	{                                     \
		va_list ap;                   \
		va_start(ap, fmt);            \
		log_write(priority, fmt, ap); \
		va_end(ap);                   \
	}

LOG_FUNCTION(log_error, LOG_ERR)
LOG_FUNCTION(log_warning, LOG_WARNING)
LOG_FUNCTION(log_notice, LOG_NOTICE)
LOG_FUNCTION(log_info, LOG_INFO)

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_write(LOG_DEBUG, fmt, ap);
	va_end(ap);
}
