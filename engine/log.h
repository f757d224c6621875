/*
 * log.h -- the helper's log: syslog with ident "pam_authelia", facility
 * authpriv, so `journalctl -t pam_authelia` finds every line.  Debug lines are
 * written only with the `debug` option.  Nothing secret is ever passed here.
 */
#ifndef PAM_AUTHELIA_LOG_H
#define PAM_AUTHELIA_LOG_H

#include <stdbool.h>

#include "../protocol/shown.h"

#define LOG_FORMAT(a, b) __attribute__((format(printf, a, b)))

void log_open(bool also_stderr);
void log_set_debug(bool debug);
bool log_debug_enabled(void);
void log_error(const char *fmt, ...) LOG_FORMAT(1, 2);
void log_warning(const char *fmt, ...) LOG_FORMAT(1, 2);
void log_notice(const char *fmt, ...) LOG_FORMAT(1, 2);
void log_info(const char *fmt, ...) LOG_FORMAT(1, 2);
void log_debug(const char *fmt, ...) LOG_FORMAT(1, 2);

/* What a log line may show of a text that is not ours (a user name, rhost,
 * service or server string): text_shown (protocol/shown.h): printable ASCII
 * with '"', '=' and anything else as '?', at most LOG_SHOWN_MAX bytes, "..."
 * after a cut; so a user name can neither end a quoted value nor forge a
 * key=value pair (the audit line's reason quotes these texts).  Returns out. */
#define LOG_SHOWN_MAX  TEXT_SHOWN_MAX
#define LOG_SHOWN_SIZE TEXT_SHOWN_SIZE
const char *log_shown(const char *text, char out[LOG_SHOWN_SIZE]);

/* Unit tests capture lines here instead of syslog. */
typedef void (*log_sink)(int priority, const char *line);
void log_set_sink(log_sink sink);

#endif
