/*
 * channel.c -- framing over bufferevents for the shim channel (see channel.h).
 */
#include "channel.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>

struct channel {
	struct bufferevent *in, *out;
	struct channel_callbacks cb;
	void *arg;
	int reported;	  /* a problem was reported: nothing more is read */
	int stopped;	  /* no more frames wanted */
	int write_failed; /* the output side is gone */
};

static void channel_report(struct channel *channel, enum channel_problem problem, const char *why)
{
	if (problem == CHANNEL_IO_ERROR)
		channel->write_failed = 1; /* a dead channel takes no result either */
	if (channel->reported)
		return;
	channel->reported = 1;
	bufferevent_disable(channel->in, EV_READ);
	channel->cb.problem(problem, why, channel->arg);
}

static void channel_read_callback(struct bufferevent *bev, void *arg)
{
	struct channel *channel = arg;
	struct evbuffer *input = bufferevent_get_input(bev);

	while (!channel->reported && !channel->stopped) {
		size_t have = evbuffer_get_length(input), need = FRAME_HEADER_SIZE;
		unsigned char *data;
		struct frame frame;
		const char *why = NULL;
		enum frame_parse_status st;

		if (have < need)
			return;
		data = evbuffer_pullup(input, FRAME_HEADER_SIZE);
		st = frame_parse(data, FRAME_HEADER_SIZE, &frame, &need, &why);
		if (st == FRAME_PARSE_INCOMPLETE && have >= need) {
			data = evbuffer_pullup(input, (ssize_t)need);
			st = frame_parse(data, need, &frame, &need, &why);
		}
		if (st == FRAME_PARSE_MALFORMED) {
			channel_report(channel, CHANNEL_MALFORMED, why);
			return;
		}
		if (st == FRAME_PARSE_INCOMPLETE)
			return;
		channel->cb.frame(&frame, channel->arg);
		/* Replies and tokens pass through here: wipe before releasing. */
		explicit_bzero(data, need);
		evbuffer_drain(input, need);
	}
}

static void channel_read_event_callback(struct bufferevent *bev, short what, void *arg)
{
	struct channel *channel = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF) {
		if (evbuffer_get_length(bufferevent_get_input(channel->in)) > 0)
			channel_report(channel, CHANNEL_MALFORMED,
				       "channel closed in the middle of a frame");
		else
			channel_report(channel, CHANNEL_EOF, "channel closed");
	} else if (what & BEV_EVENT_ERROR) {
		channel_report(channel, CHANNEL_IO_ERROR, "read error on the channel");
	}
}

static void channel_write_callback(struct bufferevent *bev, void *arg)
{
	struct channel *channel = arg;

	(void)bev;
	if (channel->cb.drained != NULL)
		channel->cb.drained(channel->arg);
}

static void channel_write_event_callback(struct bufferevent *bev, short what, void *arg)
{
	struct channel *channel = arg;

	(void)bev;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		channel_report(channel, CHANNEL_IO_ERROR, "write error on the channel");
}

struct channel *channel_new(struct event_base *base, int in_fd, int out_fd,
			    const struct channel_callbacks *callbacks, void *arg)
{
	struct channel *channel = calloc(1, sizeof(*channel));

	if (channel == NULL)
		return NULL;
	evutil_make_socket_nonblocking(in_fd);
	evutil_make_socket_nonblocking(out_fd);
	channel->cb = *callbacks;
	channel->arg = arg;
	channel->in = bufferevent_socket_new(base, in_fd, 0);
	channel->out = bufferevent_socket_new(base, out_fd, 0);
	if (channel->in == NULL || channel->out == NULL) {
		channel_free(channel);
		return NULL;
	}
	bufferevent_setcb(channel->in, channel_read_callback, NULL, channel_read_event_callback,
			  channel);
	bufferevent_setcb(channel->out, NULL, channel_write_callback, channel_write_event_callback,
			  channel);
	/* Never buffer more than one frame beyond the one being parsed. */
	bufferevent_setwatermark(channel->in, EV_READ, 0, FRAME_MAX_SIZE);
	bufferevent_enable(channel->in, EV_READ);
	bufferevent_disable(channel->out, EV_READ);
	bufferevent_enable(channel->out, EV_WRITE);
	return channel;
}

void channel_free(struct channel *channel)
{
	if (channel == NULL)
		return;
	if (channel->in != NULL)
		bufferevent_free(channel->in);
	if (channel->out != NULL)
		bufferevent_free(channel->out);
	free(channel);
}

int channel_send(struct channel *channel, enum frame_type type, const char *payload, size_t len)
{
	unsigned char hdr[FRAME_HEADER_SIZE];

	if (channel->write_failed || frame_encode_header(hdr, type, len) != 0)
		return -1;
	if (bufferevent_write(channel->out, hdr, sizeof(hdr)) != 0 ||
	    (len > 0 && bufferevent_write(channel->out, payload, len) != 0))
		return -1;
	return 0;
}

int channel_send_text(struct channel *channel, enum frame_type type, const char *text)
{
	return channel_send(channel, type, text, strlen(text));
}

void channel_stop_reading(struct channel *channel)
{
	channel->stopped = 1;
	bufferevent_disable(channel->in, EV_READ);
}

int channel_pending_output(const struct channel *channel)
{
	return evbuffer_get_length(bufferevent_get_output(channel->out)) > 0;
}
