/*
 * shown.c -- texts that are not ours, made safe to show (see shown.h).
 */
#include "shown.h"

const char *text_shown_n(const char *text, size_t len, char out[TEXT_SHOWN_SIZE])
{
	size_t n = 0;

	for (; n < len && text[n] != '\0' && n < TEXT_SHOWN_MAX; n++) {
		unsigned char c = (unsigned char)text[n];
		out[n] = (c >= 0x20 && c < 0x7f && c != '"' && c != '=') ? (char)c : '?';
	}
	/* Read before out[n] is written: out may be text. */
	if (n < len && text[n] != '\0')
		out[n++] = '.', out[n++] = '.', out[n++] = '.';
	out[n] = '\0';
	return out;
}
