/*
 * script.h -- the text script the whole-login fuzz targets read
 * (fuzz_login.c, fuzz_shim.c): one operation per "~" at the start of a line,
 *
 *   ~name arg key=value ...
 *   payload bytes, any, up to the next line that starts with "~"
 *
 * so that a mutation stays inside the operation it hits, and seeds can be
 * written and read by hand.  The payload is everything after the first
 * newline (one trailing newline at the end of the input is dropped); a
 * payload cannot hold a line starting with "~".  Bytes before the first "~"
 * are a comment.
 */
#ifndef PAM_AUTHELIA_FUZZ_SCRIPT_H
#define PAM_AUTHELIA_FUZZ_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct script {
	const uint8_t *data;
	size_t size, pos;
};

struct script_op {
	const char *head; /* "name arg key=value", not NUL-terminated */
	size_t head_len;
	const uint8_t *payload;
	size_t payload_len;
};

void script_init(struct script *script, const uint8_t *data, size_t size);
/* The next operation; false at the end of the input. */
bool script_next(struct script *script, struct script_op *op);
/* The n-th word of the head (0: the name); false when there is none. */
bool script_word(const struct script_op *op, unsigned n, const char **word, size_t *len);
bool script_is(const struct script_op *op, const char *name);
/* A word "key" or "key=value" after the name: true when present, *value the
 * text after '=' (len 0 for a bare key). */
bool script_arg(const struct script_op *op, const char *key, const char **value, size_t *len);
/* key=N clamped to [min, max], or dflt when absent or not a number. */
long script_num(const struct script_op *op, const char *key, long dflt, long min, long max);
/* The first word after the name as a number (dflt when absent). */
long script_pos_num(const struct script_op *op, long dflt, long min, long max);
/* Copies a word into out (NUL-terminated, cut to size - 1). */
void script_copy(const char *word, size_t len, char *out, size_t size);

/* The descriptors this process holds (-1 when /proc cannot say): both
 * targets check that one input leaks none. */
int script_count_fds(void);

#endif
