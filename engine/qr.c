/*
 * qr.c -- QR codes in half blocks (see qr.h).
 */
#include "qr.h"

#include <qrencode.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const half_blocks[4] = {
    " ",	    /* both dark */
    "\xe2\x96\x84", /* U+2584 lower half: the lower module is light */
    "\xe2\x96\x80", /* U+2580 upper half: the upper module is light */
    "\xe2\x96\x88", /* U+2588 full block: both light */
};

/* Light (true) or dark module at (x, y) of the code with its quiet zone. */
static bool qr_light(const QRcode *code, int x, int y)
{
	int w = code->width;

	x -= QR_QUIET_ZONE;
	y -= QR_QUIET_ZONE;
	if (x < 0 || y < 0 || x >= w || y >= w)
		return true;
	return !(code->data[y * w + x] & 1);
}

char *qr_render(const char *text)
{
	QRcode *code = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	int side, lines;
	char *out, *p;

	if (code == NULL)
		return NULL;
	side = code->width + 2 * QR_QUIET_ZONE;
	lines = (side + 1) / 2;
	/* 3 bytes per character at most, plus a newline per line */
	out = malloc((size_t)lines * ((size_t)side * 3 + 1) + 1);
	if (out == NULL) {
		QRcode_free(code);
		return NULL;
	}
	p = out;
	for (int row = 0; row < lines; row++) {
		for (int x = 0; x < side; x++) {
			int upper = qr_light(code, x, 2 * row);
			int lower = 2 * row + 1 < side ? qr_light(code, x, 2 * row + 1) : 1;
			const char *glyph = half_blocks[upper * 2 + lower];
			size_t n = strlen(glyph);
			memcpy(p, glyph, n);
			p += n;
		}
		if (row + 1 < lines)
			*p++ = '\n';
	}
	*p = '\0';
	QRcode_free(code);
	return out;
}
