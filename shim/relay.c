/*
 * relay.c -- the shim's side of a login: hand the helper its set-up, then turn
 * each frame it sends into a pam_conv call and each answer into a frame, until
 * the helper reports a result and exits.  Everything is bounded: frame size,
 * the number and volume of messages pushed into the application, and time
 * (a backstop deadline a little past `timeout`, after which the helper is
 * killed).
 */
#include "shim.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <security/pam_ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>

struct relay {
	pam_handle_t *pamh;
	struct helper *helper;
	struct shim_audit *audit;
	long long deadline_ms;
	unsigned char *buf; /* FRAME_MAX_SIZE bytes from the helper */
	size_t have;
	int messages;
	size_t message_bytes;
	int have_result;
	enum auth_result result;
};

static int send_frame(struct relay *relay, int type, const char *payload, size_t len)
{
	unsigned char hdr[FRAME_HEADER_SIZE];
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
	struct iovec *v = iov;
	size_t count = len ? 2 : 1;

	if (frame_encode_header(hdr, type, len) != 0)
		return -1;
	while (count > 0) {
		struct msghdr msg = {.msg_iov = v, .msg_iovlen = count};
		/* MSG_NOSIGNAL: a dead helper must not SIGPIPE the application. */
		ssize_t n = sendmsg(relay->helper->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		size_t done;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = relay->helper->sock, .events = POLLOUT};
			long long remaining = relay->deadline_ms - monotonic_ms();
			if (remaining <= 0 || poll(&pfd, 1, (int)remaining) <= 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		for (done = (size_t)n; count > 0 && done >= v->iov_len; v++, count--)
			done -= v->iov_len;
		if (count > 0) {
			v->iov_base = (char *)v->iov_base + done;
			v->iov_len -= done;
		}
	}
	return 0;
}

static int send_text(struct relay *relay, int type, const char *text)
{
	return send_frame(relay, type, text, text ? strlen(text) : 0);
}

static int send_setup(struct relay *relay, const struct relay_setup *setup)
{
	char fd_text[16];
	int rc = send_text(relay, FRAME_HELLO, PROTOCOL_VERSION);

	for (int i = 0; rc == 0 && i < setup->argc; i++)
		rc = send_text(relay, FRAME_OPTION, setup->argv[i]);
	if (rc == 0 && setup->service)
		rc = send_text(relay, FRAME_SERVICE, setup->service);
	if (rc == 0)
		rc = send_text(relay, FRAME_USER, setup->user);
	if (rc == 0 && setup->rhost && setup->rhost[0])
		rc = send_text(relay, FRAME_RHOST, setup->rhost);
	if (rc == 0 && setup->authtok)
		rc = send_text(relay, FRAME_AUTHTOK, setup->authtok);
	if (rc == 0 && setup->watch_client) {
		snprintf(fd_text, sizeof(fd_text), "%d", SHIM_CLIENT_FD);
		rc = send_text(relay, FRAME_WATCH_FD, fd_text);
	}
	if (rc == 0)
		rc = send_frame(relay, FRAME_START, NULL, 0);
	return rc;
}

/*
 * One message through the application's conversation function.  For prompts,
 * *answer receives the reply (the caller wipes and frees it).
 */
static int converse(struct relay *relay, int style, const char *text, char **answer)
{
	const struct pam_conv *conv = NULL;
	struct pam_message msg = {.msg_style = style, .msg = text};
	const struct pam_message *msgs[1] = {&msg};
	struct pam_response *resp = NULL;
	int rc;

	*answer = NULL;
	rc = pam_get_item(relay->pamh, PAM_CONV, (const void **)&conv);
	if (rc != PAM_SUCCESS || conv == NULL || conv->conv == NULL)
		return PAM_CONV_ERR;
	rc = conv->conv(1, msgs, &resp, conv->appdata_ptr);
	if (resp != NULL) {
		if (rc == PAM_SUCCESS)
			*answer = resp[0].resp;
		else if (resp[0].resp != NULL) {
			explicit_bzero(resp[0].resp, strlen(resp[0].resp));
			free(resp[0].resp);
		}
		free(resp);
	}
	return rc;
}

static void wipe_answer(char *answer)
{
	if (answer != NULL) {
		explicit_bzero(answer, strlen(answer));
		free(answer);
	}
}

/* Returns 0 to go on, -1 on a protocol violation (logged). */
static int handle_frame(struct relay *relay, const struct frame *frame)
{
	static const struct {
		enum frame_type type;
		int style;
	} styles[] = {
	    {FRAME_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_OFF},
	    {FRAME_PROMPT_ECHO_ON, PAM_PROMPT_ECHO_ON},
	    {FRAME_INFO, PAM_TEXT_INFO},
	    {FRAME_ERROR, PAM_ERROR_MSG},
	};
	char *text, *answer = NULL;
	int style = -1, rc;

	if (relay->have_result) {
		shim_fail(relay->pamh, relay->audit, "helper sent a frame after its result");
		return -1;
	}
	if (frame->type == FRAME_RESULT) {
		if (auth_result_from_name(frame->payload, frame->len, &relay->result) != 0) {
			shim_fail(relay->pamh, relay->audit, "helper sent an unknown result");
			return -1;
		}
		relay->have_result = 1;
		/* A helper exits right after its result: do not wait for the backstop. */
		if (relay->deadline_ms > monotonic_ms() + SHIM_KILL_GRACE_MS)
			relay->deadline_ms = monotonic_ms() + SHIM_KILL_GRACE_MS;
		return 0;
	}
	for (size_t i = 0; i < sizeof(styles) / sizeof(styles[0]); i++)
		if (styles[i].type == frame->type)
			style = styles[i].style;
	if (style < 0) {
		shim_fail(relay->pamh, relay->audit, "helper sent an unexpected %s frame",
			  frame_type_name(frame->type));
		return -1;
	}
	relay->messages++;
	relay->message_bytes += frame->len;
	if (relay->messages > SHIM_MAX_MESSAGES || relay->message_bytes > SHIM_MAX_MESSAGE_BYTES) {
		shim_fail(relay->pamh, relay->audit,
			  "helper sent more messages than a login needs");
		return -1;
	}
	text = strndup(frame->payload, frame->len);
	if (text == NULL)
		return -1;
	rc = converse(relay, style, text, &answer);
	free(text);
	if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON) {
		wipe_answer(answer);
		return 0; /* a lost info message does not end the login */
	}
	/* The helper may be gone already (its timeout fired while the user typed):
	 * a failed send is not fatal, the result frame or EOF decides. */
	if (rc == PAM_SUCCESS && answer != NULL)
		send_text(relay, FRAME_REPLY, answer);
	else
		send_frame(relay, FRAME_CONV_ERROR, NULL, 0);
	wipe_answer(answer);
	return 0;
}

/* Reads until EOF or the deadline.  0 on EOF; -1 protocol error; -2 deadline. */
static int read_frames(struct relay *relay)
{
	for (;;) {
		struct pollfd pfd = {.fd = relay->helper->sock, .events = POLLIN};
		long long remaining;
		ssize_t n;

		for (;;) {
			struct frame frame;
			size_t used;
			const char *why = NULL;
			enum frame_parse_status st =
			    frame_parse(relay->buf, relay->have, &frame, &used, &why);
			if (st == FRAME_PARSE_MALFORMED) {
				shim_fail(relay->pamh, relay->audit,
					  "malformed frame from helper: %s", why);
				return -1;
			}
			if (st == FRAME_PARSE_INCOMPLETE)
				break;
			if (handle_frame(relay, &frame) != 0)
				return -1;
			memmove(relay->buf, relay->buf + used, relay->have - used);
			relay->have -= used;
		}
		remaining = relay->deadline_ms - monotonic_ms();
		if (poll(&pfd, 1, remaining > 0 ? (int)remaining : 0) == 0)
			return -2;
		n = recv(relay->helper->sock, relay->buf + relay->have,
			 FRAME_MAX_SIZE - relay->have, 0);
		if (n == 0 && relay->have > 0) {
			shim_fail(relay->pamh, relay->audit,
				  "helper closed the channel in the middle of a frame");
			return -1;
		}
		if (n == 0)
			return 0;
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return 0; /* ECONNRESET: the helper died; its exit status tells */
		relay->have += (size_t)n;
	}
}

int relay_login(pam_handle_t *pamh, struct helper *helper, const struct relay_setup *setup,
		long long deadline_ms, struct shim_audit *audit)
{
	struct relay relay = {
	    .pamh = pamh, .helper = helper, .audit = audit, .deadline_ms = deadline_ms};
	int status = -1, rc;

	relay.buf = malloc(FRAME_MAX_SIZE);
	if (relay.buf == NULL) {
		helper_kill(helper);
		shim_fail(pamh, audit, "out of memory");
		return PAM_BUF_ERR;
	}
	/* A failed send means the helper is gone; reading tells why. */
	send_setup(&relay, setup);
	rc = read_frames(&relay);
	if (rc == -2 && relay.have_result) {
		shim_fail(pamh, audit, "helper did not exit after its result; killed it");
		helper_kill(helper);
		rc = PAM_SERVICE_ERR;
	} else if (rc == -2) {
		/* Never PAM_AUTHINFO_UNAVAIL: a helper that was stopped (or a user who
		 * timed it) must not choose the "Authelia is down" fallback. */
		shim_fail(pamh, audit, "helper still running past timeout; killed it");
		helper_kill(helper);
		rc = PAM_AUTH_ERR;
	} else if (rc == -1) {
		helper_kill(helper);
		rc = PAM_SERVICE_ERR;
	} else if (helper_wait(helper, relay.deadline_ms, &status) != 0) {
		shim_fail(pamh, audit, "helper closed its channel but did not exit; killed it");
		helper_kill(helper);
		rc = PAM_SERVICE_ERR;
	} else if (status != -1 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
			shim_fail(pamh, audit,
				  "helper %s killed by signal %d (SIGSYS): its sandbox stopped a "
				  "system call it must not make",
				  setup->argv0, SIGSYS);
		else if (WIFSIGNALED(status))
			shim_fail(pamh, audit, "helper %s killed by signal %d", setup->argv0,
				  WTERMSIG(status));
		else if (WEXITSTATUS(status) == 127 && !relay.have_result)
			shim_fail(pamh, audit, "helper %s could not be started", setup->argv0);
		else
			shim_fail(pamh, audit, "helper %s exited with status %d", setup->argv0,
				  WEXITSTATUS(status));
		rc = PAM_SERVICE_ERR;
	} else if (!relay.have_result) {
		shim_fail(pamh, audit, "helper %s exited without a result", setup->argv0);
		rc = PAM_SERVICE_ERR;
	} else {
		rc = auth_result_pam_code(relay.result);
		if (setup->debug)
			pam_syslog(pamh, LOG_DEBUG, "helper result %s",
				   auth_result_name(relay.result));
	}
	/* The helper wrote its audit line before it sent its result: that line
	 * stands when the application gets the code it named. */
	audit->helper_logged = relay.have_result && rc == auth_result_pam_code(relay.result);
	/* ... and when it is another code, the module's line says which result of
	 * the helper's (whose line has the same helper=) it overrides. */
	if (relay.have_result && !audit->helper_logged)
		audit->overrides = auth_result_name(relay.result);
	explicit_bzero(relay.buf, FRAME_MAX_SIZE);
	free(relay.buf);
	return rc;
}
