/*
 * frame.h -- the framed protocol spoken between the shim (pam_authelia.so) and
 * the helper (pam_authelia) over one AF_UNIX socketpair.
 *
 * Every frame is a 1-byte type, a 4-byte big-endian payload length and the
 * payload.  Payloads are text without NUL bytes (they become C strings for
 * pam_conv); multi-line text needs no escaping because it is length-prefixed.
 * A frame larger than FRAME_MAX_PAYLOAD, of an unknown type or holding a NUL
 * is malformed, and a malformed frame ends the login (fail closed).
 *
 * This file is shared by the shim, the helper and the fuzz targets, so it uses
 * libc only (and libpam's header for the codes' values).
 */
#ifndef PAM_AUTHELIA_FRAME_H
#define PAM_AUTHELIA_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define PROTOCOL_VERSION  "pam_authelia/1"
#define FRAME_HEADER_SIZE 5
#define FRAME_MAX_PAYLOAD (64 * 1024)
#define FRAME_MAX_SIZE	  (FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD)

/* Bounds on the PAM items, checked by the shim before it starts the helper
 * (each must fit a frame).  A user name or password longer than what goes to
 * Authelia is the user's choice: PAM_AUTH_ERR (the helper refuses them too,
 * engine/session.h); a service or PAM_RHOST beyond them is the application's:
 * PAM_SERVICE_ERR. */
#define PROTOCOL_MAX_USER     256
#define PROTOCOL_MAX_PASSWORD 1024
#define PROTOCOL_MAX_SERVICE  256
#define PROTOCOL_MAX_RHOST    1024

enum frame_type {
	/* shim -> helper, in this order during set-up */
	FRAME_HELLO = 'H',    /* PROTOCOL_VERSION; must be the first frame */
	FRAME_OPTION = 'O',   /* one module argument verbatim: "url=https://a", "debug" */
	FRAME_SERVICE = 'S',  /* PAM_SERVICE, for log lines */
	FRAME_USER = 'U',     /* PAM_USER */
	FRAME_RHOST = 'R',    /* PAM_RHOST, when the application set one */
	FRAME_AUTHTOK = 'A',  /* PAM_AUTHTOK (secret); sent only for auth-level=2FA */
	FRAME_WATCH_FD = 'W', /* decimal fd number of the inherited client socket */
	FRAME_START = 'G',    /* set-up complete: start the login */
	/* shim -> helper, during the login */
	FRAME_REPLY = 'P',	/* the user's answer to the pending prompt (may be secret) */
	FRAME_CONV_ERROR = 'C', /* pam_conv failed; payload empty */
	/* helper -> shim */
	FRAME_PROMPT_ECHO_OFF = 'p',
	FRAME_PROMPT_ECHO_ON = 'e', /* may hold several lines (a QR code) */
	FRAME_INFO = 'i',
	FRAME_ERROR = 'x',
	FRAME_RESULT = 'r', /* the outcome, as a result name (see below); last frame */
};

struct frame {
	enum frame_type type;
	const char *payload; /* points into the parsed buffer; not NUL-terminated */
	size_t len;
};

enum frame_parse_status {
	FRAME_PARSE_OK,		/* *frame and *consumed are set */
	FRAME_PARSE_INCOMPLETE, /* need *consumed bytes in all (at least) */
	FRAME_PARSE_MALFORMED,	/* *why says what is wrong; the stream is unusable */
};

/*
 * Parses the frame at the start of buf.  A header is validated as soon as it
 * is complete, so an oversized or unknown frame is refused before its payload
 * is buffered.
 */
enum frame_parse_status frame_parse(const void *buf, size_t len, struct frame *frame,
				    size_t *consumed, const char **why);

/* Fills hdr for a frame of the given type and payload length; -1 if invalid. */
int frame_encode_header(unsigned char hdr[FRAME_HEADER_SIZE], int type, size_t len);

int frame_type_is_known(int type);
const char *frame_type_name(int type);

/*
 * The outcome of a login as it crosses the process boundary.  Names, not PAM
 * numbers, travel in FRAME_RESULT, because PAM implementations number their
 * codes differently.
 */
enum auth_result {
	RESULT_SUCCESS,
	RESULT_AUTH_ERR,	 /* credentials or second factor refused */
	RESULT_AUTHINFO_UNAVAIL, /* Authelia unreachable, TLS failure, server timeout */
	RESULT_SERVICE_ERR,	 /* bad configuration, internal error */
	RESULT_CONV_ERR,	 /* the conversation with the user failed */
	RESULT_ABORT,		 /* the client went away or the helper was told to stop */
};

const char *auth_result_name(enum auth_result result);
/* The PAM code the module returns for a result (an unknown one: PAM_SERVICE_ERR). */
int auth_result_pam_code(enum auth_result result);
/* Returns 0 and sets *result when name (len bytes) is a result name. */
int auth_result_from_name(const char *name, size_t len, enum auth_result *result);

#endif
