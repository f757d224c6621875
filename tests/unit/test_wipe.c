/*
 * test_wipe.c -- every credential the helper holds is wiped before its memory
 * goes back to malloc: the password, the TOTP code, the client secret (as an
 * option, in a form and in a Basic header) and the device flow's tokens.  The
 * binary's own free() (wipe_check.h) searches each freed block for the secret;
 * a missing explicit_bzero or secret_free shows as a block that still holds it.
 * The cookie's wipes are checked in test_http_client.c, against a server.
 */
#include "unit.h"
#include "wipe_check.h"

/* sys/queue.h first: event2/keyvalq_struct.h needs its TAILQ_FOREACH. */
#include <sys/queue.h>

#include "../../engine/http_client.h"
#include "../../engine/oidc.h"
#include "../../engine/secure_alloc.h"
#include "../../engine/session.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define PASSWORD      "correct-horse-battery-staple-7731"
#define TOTP_CODE     "31415926"
#define CLIENT_SECRET "client-secret-b1e9c0de77aa"
#define ACCESS_TOKEN  "access-token-5f2d8e1a9c3b7d6e"
#define ID_TOKEN      "id-token-aa41c7e09b3d52f8"
#define DEVICE_CODE   "device-code-7c1f00e2d94b"

/* A helper session on a real event loop; the test plays the shim. */
struct rig {
	struct event_base *base;
	struct session session;
	struct event *stop;
	int shim;
};

static void rig_stop_callback(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void rig_send(struct rig *rig, int type, const char *text)
{
	unsigned char hdr[FRAME_HEADER_SIZE];
	size_t len = strlen(text);

	assert_int_equal(frame_encode_header(hdr, type, len), 0);
	assert_int_equal(write(rig->shim, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	if (len)
		assert_int_equal(write(rig->shim, text, len), (ssize_t)len);
}

/* Runs the loop until the session ends it or max_ms pass; drops what it sent. */
static void rig_run(struct rig *rig, int max_ms)
{
	struct timeval tv = {.tv_sec = max_ms / 1000, .tv_usec = max_ms % 1000 * 1000};
	char buf[8192];

	evtimer_add(rig->stop, &tv);
	event_base_dispatch(rig->base);
	evtimer_del(rig->stop);
	fcntl(rig->shim, F_SETFL, O_NONBLOCK);
	while (read(rig->shim, buf, sizeof(buf)) > 0)
		;
}

/* A login with options (user john), started and run to its first prompt. */
static struct rig *rig_started(const char *options)
{
	struct rig *rig = calloc(1, sizeof(*rig));
	char copy[512], *save = NULL;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	rig->shim = sv[0];
	rig->base = event_base_new();
	rig->stop = evtimer_new(rig->base, rig_stop_callback, rig->base);
	unit_log_capture();
	assert_int_equal(session_init(&rig->session, rig->base, sv[1], sv[1]), 0);
	machine_start(&rig->session);
	snprintf(copy, sizeof(copy), "%s", options);
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
	for (char *opt = strtok_r(copy, " ", &save); opt; opt = strtok_r(NULL, " ", &save))
		rig_send(rig, FRAME_OPTION, opt);
	rig_send(rig, FRAME_SERVICE, "sshd");
	rig_send(rig, FRAME_USER, "john");
	rig_send(rig, FRAME_START, "");
	rig_run(rig, 50);
	return rig;
}

static void rig_close(struct rig *rig)
{
	event_free(rig->stop);
	session_free_with_base(&rig->session, rig->base);
	close(rig->shim);
	free(rig);
}

static void feed(struct rig *rig, enum http_purpose purpose, const char *body)
{
	struct http_response response = {
	    .purpose = purpose, .status = 200, .body = body, .body_len = strlen(body)};

	machine_http(&rig->session, &response);
}

#define STATE_JOHN "{\"status\":\"OK\",\"data\":{\"username\":\"john\",\"authentication_level\":1}}"
#define INFO_TOTP                                                             \
	"{\"status\":\"OK\",\"data\":{\"method\":\"totp\",\"has_totp\":true," \
	"\"has_webauthn\":false,\"has_duo\":false}}"

static void skip_without_the_check(void)
{
	if (!WIPE_CHECK_AVAILABLE)
		skip();
}

/* The password: its frame, the session's copy, the JSON body, the request. */
static void test_password_is_wiped(void **state)
{
	struct rig *rig;

	(void)state;
	skip_without_the_check();
	wipe_check_arm(PASSWORD);
	rig = rig_started("url=https://127.0.0.1:1 debug");
	rig_send(rig, FRAME_REPLY, PASSWORD);
	rig_run(rig, 500);
	assert_true(rig->session.finished); /* the request failed: nobody listens */
	assert_logged("POST https://127.0.0.1:1/api/firstfactor");
	rig_close(rig);
	assert_int_equal(wipe_check_disarm(), 0);
}

/* The TOTP code: the session's copy and the JSON body. */
static void test_totp_code_is_wiped(void **state)
{
	struct rig *rig;

	(void)state;
	skip_without_the_check();
	wipe_check_arm(TOTP_CODE);
	rig = rig_started("url=https://127.0.0.1:1 debug");
	/* As after the password: user_info's two answers, then the TOTP prompt. */
	rig->session.state = STATE_USER_INFO; /* tests only: the machine does this */
	rig->session.have_user_info = rig->session.have_session_state = false;
	feed(rig, HTTP_STATE, STATE_JOHN);
	feed(rig, HTTP_USER_INFO, INFO_TOTP);
	assert_int_equal(rig->session.state, STATE_TOTP_PROMPT);
	rig_run(rig, 50);
	rig_send(rig, FRAME_REPLY, TOTP_CODE);
	rig_run(rig, 500);
	assert_logged("state totp_prompt -> totp_verify");
	assert_logged("POST https://127.0.0.1:1/api/secondfactor/totp");
	assert_true(rig->session.finished);
	rig_close(rig);
	assert_int_equal(wipe_check_disarm(), 0);
}

/* The client secret as an option (the frame, the option's copy, the config). */
static void test_client_secret_option_is_wiped(void **state)
{
	struct rig *rig;

	(void)state;
	skip_without_the_check();
	wipe_check_arm(CLIENT_SECRET);
	rig = rig_started("url=https://127.0.0.1:1 oauth2-client-id=pam-authelia "
			  "oauth2-client-secret=" CLIENT_SECRET);
	assert_string_equal(rig->session.config.oauth2_client_secret, CLIENT_SECRET);
	rig_close(rig);
	assert_int_equal(wipe_check_disarm(), 0);
}

/* The client secret in a form body and in a Basic Authorization header. */
static void test_client_secret_in_requests_is_wiped(void **state)
{
	const char *pairs[] = {"client_id", "pam-authelia", "client_secret", CLIENT_SECRET, NULL};
	char *form, *basic;
	size_t len;

	(void)state;
	skip_without_the_check();
	wipe_check_arm(CLIENT_SECRET);
	form = oidc_form(pairs, &len);
	assert_non_null(strstr(form, CLIENT_SECRET));
	basic = oidc_basic_authorization("pam-authelia", CLIENT_SECRET);
	assert_non_null(basic);
	secret_free(&form);
	secret_free(&basic);
	assert_int_equal(wipe_check_disarm(), 0);
}

/* The tokens: the parsed JSON tree and the token set's copies. */
static void test_tokens_are_wiped(void **state)
{
	const char *body = "{\"access_token\":\"" ACCESS_TOKEN "\",\"id_token\":\"" ID_TOKEN
			   "\",\"token_type\":\"Bearer\",\"expires_in\":3600}";
	char err[OIDC_ERROR_SIZE];
	struct token_set tokens;
	const char *secrets[] = {ACCESS_TOKEN, ID_TOKEN};

	(void)state;
	skip_without_the_check();
	for (int i = 0; i < 2; i++) {
		wipe_check_arm(secrets[i]);
		assert_int_equal(oidc_read_token_response(200, body, strlen(body), &tokens, err),
				 POLL_TOKENS);
		assert_string_equal(tokens.access_token, ACCESS_TOKEN);
		oidc_token_set_free(&tokens);
		assert_int_equal(wipe_check_disarm(), 0);
	}
}

/* The device code: whoever holds it can poll for the tokens. */
static void test_device_code_is_wiped(void **state)
{
	const char *body =
	    "{\"device_code\":\"" DEVICE_CODE "\",\"user_code\":\"BCDF-GHJK\","
	    "\"verification_uri\":\"https://127.0.0.1:1/device\",\"expires_in\":600}";
	char err[OIDC_ERROR_SIZE], cerr[OPTION_ERROR_SIZE];
	struct device_grant grant;
	struct config config;

	(void)state;
	skip_without_the_check();
	config_init(&config);
	assert_int_equal(config_apply(&config, "url=https://127.0.0.1:1", cerr), 0);
	assert_int_equal(config_finish(&config, cerr), 0);
	wipe_check_arm(DEVICE_CODE);
	assert_int_equal(oidc_read_device_grant(body, strlen(body), &config, &grant, err), 0);
	assert_string_equal(grant.device_code, DEVICE_CODE);
	oidc_device_grant_free(&grant);
	assert_int_equal(wipe_check_disarm(), 0);
	config_free(&config);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_password_is_wiped),
	    cmocka_unit_test(test_totp_code_is_wiped),
	    cmocka_unit_test(test_client_secret_option_is_wiped),
	    cmocka_unit_test(test_client_secret_in_requests_is_wiped),
	    cmocka_unit_test(test_tokens_are_wiped),
	    cmocka_unit_test(test_device_code_is_wiped),
	};

	/* As the helper does first thing (engine/main.c): libevent's and
	 * OpenSSL's buffers are wiped when they are freed. */
	if (secure_alloc_install() != 0)
		return 1;
	return cmocka_run_group_tests_name("wipes", tests, NULL, NULL);
}
