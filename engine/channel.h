/*
 * channel.h -- the helper's end of the shim channel: two bufferevents (fd 0
 * for reading, fd 1 for writing; the same socketpair end when the shim starts
 * us) carrying frames (protocol/frame.h).  Frames are handed over complete; a
 * malformed or oversized frame stops reading and is reported once.
 */
#ifndef PAM_AUTHELIA_CHANNEL_H
#define PAM_AUTHELIA_CHANNEL_H

#include <event2/event.h>

#include "../protocol/frame.h"

enum channel_problem {
	CHANNEL_EOF,	   /* the shim closed its end */
	CHANNEL_MALFORMED, /* a frame broke the protocol */
	CHANNEL_IO_ERROR,  /* reading or writing failed */
};

struct channel_callbacks {
	void (*frame)(const struct frame *frame, void *arg);
	void (*problem)(enum channel_problem problem, const char *why, void *arg);
	void (*drained)(void *arg); /* everything queued has been written */
};

struct channel;

struct channel *channel_new(struct event_base *base, int in_fd, int out_fd,
			    const struct channel_callbacks *callbacks, void *arg);
void channel_free(struct channel *channel);
/* Queues one frame; -1 if it cannot be encoded or the channel failed. */
int channel_send(struct channel *channel, enum frame_type type, const char *payload, size_t len);
int channel_send_text(struct channel *channel, enum frame_type type, const char *text);
void channel_stop_reading(struct channel *channel);
int channel_pending_output(const struct channel *channel);

#endif
