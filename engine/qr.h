/*
 * qr.h -- a QR code for the terminal: libqrencode's module matrix drawn two
 * rows per line with Unicode half blocks (U+2580, U+2584, U+2588) inside a
 * quiet zone.  Light modules are drawn as blocks, as `qrencode -t UTF8` does,
 * so the code reads right on the dark background most terminals have.
 */
#ifndef PAM_AUTHELIA_QR_H
#define PAM_AUTHELIA_QR_H

#include <stddef.h>

#define QR_QUIET_ZONE 2

/* Renders text; a heap string of lines joined by '\n' (no final newline), or
 * NULL when the text cannot be encoded. */
char *qr_render(const char *text);

#endif
