/*
 * test_http_client.c -- the HTTPS client's own deadlines and cancellation,
 * against a local TCP server that accepts and then never speaks: the request's
 * deadline fires and cancels it; cancel_all leaves no callback behind; a
 * refused connection is reported as such.
 */
#include "unit.h"

#include "../../engine/http_client.h"
#include "../../engine/tls.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct seen {
	int count;
	int status;
	char error[HTTP_ERROR_SIZE];
	enum http_failure failure;
	struct event_base *base;
};

static void on_response(const struct http_response *response, void *arg)
{
	struct seen *seen = arg;

	seen->count++;
	seen->status = response->status;
	seen->failure = response->failure;
	snprintf(seen->error, sizeof(seen->error), "%s", response->error ? response->error : "");
	event_base_loopbreak(seen->base);
}

static int silent_server(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

static struct http_client *client_for(struct event_base *base, SSL_CTX **tls, int port,
				      struct seen *seen, struct config *config)
{
	char err[OPTION_ERROR_SIZE], arg[64];

	config_init(config);
	snprintf(arg, sizeof(arg), "url=https://127.0.0.1:%d", port);
	assert_int_equal(config_apply(config, arg, err), 0);
	assert_int_equal(config_finish(config, err), 0);
	*tls = tls_context_new(NULL, err);
	seen->base = base;
	return http_client_new(base, *tls, config, NULL, on_response, seen, err);
}

static long elapsed_ms(struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void test_request_deadline(void **state)
{
	struct event_base *base = event_base_new();
	struct seen seen = {0};
	struct config config;
	struct timespec t0;
	SSL_CTX *tls;
	int port, server = silent_server(&port);
	struct http_client *client = client_for(base, &tls, port, &seen, &config);
	char want[HTTP_ERROR_SIZE];

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(http_client_request(client, HTTP_TOTP, "/api/x", "{}", 2, 200), 0);
	assert_true(http_client_busy(client));
	event_base_dispatch(base);
	assert_int_equal(seen.count, 1);
	assert_int_equal(seen.status, 0);
	snprintf(want, sizeof(want), "no response from 127.0.0.1:%d within 200 ms", port);
	assert_string_equal(seen.error, want);
	/* The request's own deadline: Authelia unreachable (PAM_AUTHINFO_UNAVAIL). */
	assert_int_equal(seen.failure, HTTP_UNREACHABLE);
	assert_true(elapsed_ms(&t0) >= 190 && elapsed_ms(&t0) < 1000);
	assert_false(http_client_busy(client));
	http_client_free(client);
	SSL_CTX_free(tls);
	config_free(&config);
	event_base_free(base);
	close(server);
}

static void stop_soon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void test_cancel_all_leaves_no_callback(void **state)
{
	struct event_base *base = event_base_new();
	struct seen seen = {0};
	struct config config;
	struct timeval later = {0, 300000};
	SSL_CTX *tls;
	int port, server = silent_server(&port);
	struct http_client *client = client_for(base, &tls, port, &seen, &config);

	(void)state;
	assert_int_equal(http_client_request(client, HTTP_WARM_UP, "/api/health", NULL, 0, 100), 0);
	assert_int_equal(http_client_request(client, HTTP_DUO, "/api/duo", "{}", 2, 0), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	http_client_cancel_all(client);
	assert_false(http_client_busy(client));
	event_base_once(base, -1, EV_TIMEOUT, stop_soon, base, &later);
	event_base_dispatch(base); /* the 100 ms deadline would have fired here */
	assert_int_equal(seen.count, 0);
	http_client_free(client);
	SSL_CTX_free(tls);
	config_free(&config);
	event_base_free(base);
	close(server);
}

static void test_refused_connection(void **state)
{
	struct event_base *base = event_base_new();
	struct seen seen = {0};
	struct config config;
	SSL_CTX *tls;
	int port, server = silent_server(&port);
	struct http_client *client;
	char want[HTTP_ERROR_SIZE];

	(void)state;
	close(server); /* nothing listens there now */
	client = client_for(base, &tls, port, &seen, &config);
	assert_int_equal(
	    http_client_request(client, HTTP_FIRST_FACTOR, "/api/firstfactor", "{}", 2, 5000), 0);
	event_base_dispatch(base);
	assert_int_equal(seen.count, 1);
	snprintf(want, sizeof(want), "connection to 127.0.0.1:%d refused or unreachable", port);
	assert_string_equal(seen.error, want);
	assert_int_equal(seen.failure, HTTP_UNREACHABLE);
	http_client_free(client);
	SSL_CTX_free(tls);
	config_free(&config);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_deadline),
	    cmocka_unit_test(test_cancel_all_leaves_no_callback),
	    cmocka_unit_test(test_refused_connection),
	};
	unit_log_capture();
	return cmocka_run_group_tests_name("http client", tests, NULL, NULL);
}
