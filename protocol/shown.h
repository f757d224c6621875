/*
 * shown.h -- what a log line or an error message may show of a text that is
 * not ours (a user name, rhost, service, option or server string): printable
 * ASCII, with '"', '=' and anything else as '?', at most TEXT_SHOWN_MAX bytes
 * and "..." after a cut: it can neither end a quoted value nor forge a
 * key=value pair of the audit line.  One function for the shim and the
 * helper.  libc only.
 */
#ifndef PAM_AUTHELIA_SHOWN_H
#define PAM_AUTHELIA_SHOWN_H

#include <stddef.h>
#include <stdint.h>

#define TEXT_SHOWN_MAX	64
#define TEXT_SHOWN_SIZE (TEXT_SHOWN_MAX + 4)

/* The first len bytes of text (or up to its NUL, whichever comes first) as
 * they may be shown; returns out.  out may be text itself. */
const char *text_shown_n(const char *text, size_t len, char out[TEXT_SHOWN_SIZE]);

/* The same for a NUL-terminated text. */
static inline const char *text_shown(const char *text, char out[TEXT_SHOWN_SIZE])
{
	return text_shown_n(text, SIZE_MAX, out);
}

#endif
