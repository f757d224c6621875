/*
 * http_client.c -- HTTPS requests to Authelia on the helper's loop (see
 * http_client.h).
 */
/* sys/queue.h first: event2/keyvalq_struct.h needs its TAILQ_FOREACH. */
#include <sys/queue.h>

#include "http_client.h"
#include "log.h"
#include "secure_alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#ifndef PAM_AUTHELIA_VERSION
#define PAM_AUTHELIA_VERSION "0"
#endif

/* How many loop passes a deadline that found its answer waiting gives the
 * read (see http_deadline_callback). */
#define HTTP_DEADLINE_READ_PASSES 8

/*
 * evhttp has no public call that connects without a request.  libevent 2.1
 * exports the one evhttp_make_request uses (http-internal.h: "connects if
 * necessary"; it does nothing while a connect is under way): with no request
 * queued, evhttp goes idle once TLS is up.  Declared here because no public
 * header does.
 */
int evhttp_connection_connect_(struct evhttp_connection *evcon);

struct http_conn;

struct http_pending {
	struct http_client *client;
	struct http_conn *conn;	    /* the connection it went out on; NULL while queued */
	struct evhttp_request *req; /* NULL once libevent is done with it */
	struct event *deadline;
	enum http_purpose purpose;
	unsigned timeout_ms;
	char *path;	    /* the url's path and the request's */
	char *body;	    /* kept (a secret: a password, a code) for one retry */
	size_t body_len;    /* body is NULL for a GET */
	char *content_type; /* POST only */
	char *authorization;
	struct http_header *headers; /* copies of the caller's */
	size_t header_count;
	unsigned read_passes; /* the deadline waited for an answer already here */
	bool reused;	      /* went out on a connection opened before it */
	bool retried;	      /* already sent again once */
	bool sent;	      /* went out on a connection whose TLS was up */
	enum evhttp_request_error error;
	int error_errno;
	bool failed;
	bool deferred; /* failed inside a call of ours: reported from the loop */
	enum http_failure deferred_failure;
	char deferred_error[HTTP_ERROR_SIZE];
	struct http_pending *next; /* in the order they were made */
};

/* One keep-alive connection: its own SSL, bufferevent and evhttp connection. */
struct http_conn {
	struct http_client *client;
	unsigned number; /* 1-based, for log lines */
	SSL *ssl;	 /* owned by the bufferevent */
	struct bufferevent *bev;
	struct evhttp_connection *evcon;
	/* evhttp's connect callback, while ours stands in front of it. */
	bufferevent_event_cb evhttp_event_cb;
	void *evhttp_event_arg;
	evutil_socket_t connected_fd; /* the socket that finished TLS, or -1 */
	size_t answer_bytes;	      /* answer bytes since the current request went out */
	struct http_pending *active;
	bool broken; /* evhttp could not be told of a failed connect (out of memory) */
};

struct http_client {
	struct event_base *base;
	struct evdns_base *dns;
	struct http_conn *conns[HTTP_MAX_CONNECTIONS];
	unsigned conn_count;
	bool started;
	int depth; /* > 0 inside our own calls into evhttp: failures are deferred */
	bool is_ip;
	char *url;	   /* for log lines */
	char *path_prefix; /* the url's path, without trailing slash */
	char *host_header;
	char *host; /* for connecting and verifying, no brackets */
	int port;
	struct timeval idle;
	char *cookie_name;
	char *cookie_value; /* opaque, byte for byte; secret */
	char *rhost;
	http_response_cb callback;
	void *arg;
	struct http_pending *pending;
};

static void http_done_callback(struct evhttp_request *req, void *arg);
static void http_error_callback(enum evhttp_request_error error, void *arg);
static void http_deadline_callback(evutil_socket_t fd, short what, void *arg);
static void http_conn_event_callback(struct bufferevent *bev, short what, void *arg);
static void http_conn_input_callback(struct evbuffer *buffer, const struct evbuffer_cb_info *info,
				     void *arg);
static int http_client_dispatch(struct http_client *client, struct http_pending *caller);

struct http_client *http_client_new(struct event_base *base, const struct config *config,
				    const char *rhost, http_response_cb callback, void *arg,
				    char err[HTTP_ERROR_SIZE])
{
	struct http_client *client = calloc(1, sizeof(*client));
	unsigned char ip[16];
	size_t len;

	if (client == NULL)
		goto fail;
	client->base = base;
	client->callback = callback;
	client->arg = arg;
	client->port = config->url_port;
	client->idle.tv_sec = (time_t)config->timeout + 5;
	client->url = strdup(config->url);
	client->cookie_name = strdup(config->cookie_name);
	client->rhost = rhost ? strdup(rhost) : NULL;
	client->path_prefix = strdup(config->url_path);
	if (client->url == NULL || client->cookie_name == NULL || client->path_prefix == NULL)
		goto fail;
	/* An IPv6 literal keeps its brackets in Host: but not for connect/verify. */
	len = strlen(config->url_host);
	if (config->url_host[0] == '[' && len > 2)
		client->host = strndup(config->url_host + 1, len - 2);
	else
		client->host = strdup(config->url_host);
	if (client->host == NULL)
		goto fail;
	if (client->port == 443)
		client->host_header = strdup(config->url_host);
	else if (asprintf(&client->host_header, "%s:%d", config->url_host, client->port) < 0)
		client->host_header = NULL;
	if (client->host_header == NULL)
		goto fail;
	client->is_ip =
	    inet_pton(AF_INET, client->host, ip) == 1 || inet_pton(AF_INET6, client->host, ip) == 1;
	/* resolv.conf and hosts are read now: before the sandbox, which forbids it. */
	if (!client->is_ip) {
		client->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
						       EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (client->dns == NULL)
			goto fail;
	}
	return client;
fail:
	snprintf(err, HTTP_ERROR_SIZE, "cannot set up the HTTPS client for %s", config->url);
	http_client_free(client);
	return NULL;
}

static void http_conn_free(struct http_conn *conn)
{
	if (conn == NULL)
		return;
	if (conn->evcon != NULL)
		evhttp_connection_free(conn->evcon); /* frees the bufferevent and SSL */
	else if (conn->bev != NULL)
		bufferevent_free(conn->bev);
	else if (conn->ssl != NULL)
		SSL_free(conn->ssl);
	free(conn);
}

#ifdef PAM_AUTHELIA_FUZZ_PLAIN_HTTP
/*
 * Fuzz builds only (fuzz/fuzz_login.c): the connection is a plain bufferevent,
 * no TLS, so that what the fuzzer's fake server writes goes straight into
 * evhttp's parser.  Everything above the bufferevent is the same code.
 */
static int http_conn_transport(struct http_client *client, struct http_conn *conn, SSL_CTX *tls)
{
	(void)tls;
	conn->bev = bufferevent_socket_new(client->base, -1,
					   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	return conn->bev != NULL ? 0 : -1;
}
#else
/* TLS verified against tls, for the url's host (SNI, name or address). */
static int http_conn_transport(struct http_client *client, struct http_conn *conn, SSL_CTX *tls)
{
	X509_VERIFY_PARAM *vp;

	conn->ssl = SSL_new(tls);
	if (conn->ssl == NULL)
		return -1;
	vp = SSL_get0_param(conn->ssl);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (client->is_ip) {
		X509_VERIFY_PARAM_set1_ip_asc(vp, client->host); /* no SNI for addresses */
	} else {
		X509_VERIFY_PARAM_set1_host(vp, client->host, 0);
		SSL_set_tlsext_host_name(conn->ssl, client->host);
	}
	conn->bev =
	    bufferevent_openssl_socket_new(client->base, -1, conn->ssl, BUFFEREVENT_SSL_CONNECTING,
					   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (conn->bev == NULL)
		return -1;
	/* Bodies are framed by Content-Length or chunks; a missing close_notify
	 * after a complete response is not an error (OpenSSL 3 made it one). */
	bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
	return 0;
}
#endif

static struct http_conn *http_conn_new(struct http_client *client, SSL_CTX *tls, unsigned number)
{
	struct http_conn *conn = calloc(1, sizeof(*conn));

	if (conn == NULL)
		return NULL;
	conn->client = client;
	conn->number = number;
	conn->connected_fd = -1;
	if (http_conn_transport(client, conn, tls) != 0)
		goto fail;
	/* Counts what arrives for the request in flight (see http_should_retry). */
	if (evbuffer_add_cb(bufferevent_get_input(conn->bev), http_conn_input_callback, conn) ==
	    NULL)
		goto fail;
	conn->evcon = evhttp_connection_base_bufferevent_new(
	    client->base, client->dns, conn->bev, client->host, (unsigned short)client->port);
	if (conn->evcon == NULL)
		goto fail;
	evhttp_connection_set_max_body_size(conn->evcon, HTTP_MAX_BODY);
	evhttp_connection_set_max_headers_size(conn->evcon, HTTP_MAX_HEADERS);
	/* Inactivity must never cut a Duo push short: our timers decide. */
	evhttp_connection_set_timeout_tv(conn->evcon, &client->idle);
	return conn;
fail:
	http_conn_free(conn);
	return NULL;
}

/* Up: TLS finished on the socket the bufferevent still has (evhttp resets the
 * bufferevent's socket to -1 whenever it drops a connection). */
static bool http_conn_up(const struct http_conn *conn)
{
	return conn->connected_fd >= 0 && bufferevent_getfd(conn->bev) == conn->connected_fd;
}

/* Starts TCP + TLS with our callback in front of evhttp's (for TCP_NODELAY and
 * for a connect that fails with no request queued); nothing while connecting. */
static void http_conn_connect(struct http_conn *conn)
{
	bufferevent_event_cb event_cb;
	void *event_arg;

	conn->connected_fd = -1;
	if (evhttp_connection_connect_(conn->evcon) != 0)
		return; /* the request that follows reports it */
	bufferevent_getcb(conn->bev, NULL, NULL, &event_cb, &event_arg);
	if (event_cb != http_conn_event_callback) {
		conn->evhttp_event_cb = event_cb;
		conn->evhttp_event_arg = event_arg;
		bufferevent_setcb(conn->bev, NULL, NULL, http_conn_event_callback, conn);
	}
}

static void http_placeholder_callback(struct evhttp_request *req, void *arg)
{
	(void)req;
	(void)arg;
}

/* The connect finished (TLS up) or failed; evhttp's own callback runs after. */
static void http_conn_event_callback(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *conn = arg;
	struct http_client *client = conn->client;
	bufferevent_event_cb evhttp_cb = conn->evhttp_event_cb;
	void *evhttp_arg = conn->evhttp_event_arg;

	bufferevent_setcb(bev, NULL, NULL, evhttp_cb, evhttp_arg);
	if (what & BEV_EVENT_CONNECTED) {
		evutil_socket_t fd = bufferevent_getfd(bev);
		int one = 1;

		/* evhttp writes a request's headers and body as two TLS records; with
		 * Nagle the body would wait for the server's delayed ACK of the
		 * headers (~40 ms).  Set before evhttp writes anything here. */
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
			log_debug("cannot set TCP_NODELAY: %s", strerror(errno));
		conn->connected_fd = fd;
		if (conn->active != NULL) /* evhttp writes it now */
			conn->active->sent = true;
		log_debug("connected to %s:%d (connection %u)", client->host, client->port,
			  conn->number);
	} else if (conn->active == NULL) {
		/* A connect started ahead of any request failed.  evhttp 2.1.12
		 * asserts that a failing connection has a request to fail (http.c,
		 * evhttp_connection_fail_: "req != NULL"), so it gets one that is
		 * never sent; it resets the connection, and the first real request
		 * connects again and reports what went wrong. */
		struct evhttp_request *placeholder =
		    evhttp_request_new(http_placeholder_callback, NULL);

		log_debug("connecting early failed (connection %u); the next request on it "
			  "connects again",
			  conn->number);
		if (placeholder == NULL ||
		    evhttp_make_request(conn->evcon, placeholder, EVHTTP_REQ_GET, "/") != 0) {
			bufferevent_disable(bev, EV_READ | EV_WRITE);
			bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
			conn->broken = true;
			return;
		}
	}
	evhttp_cb(bev, what, evhttp_arg);
}

static void http_conn_input_callback(struct evbuffer *buffer, const struct evbuffer_cb_info *info,
				     void *arg)
{
	struct http_conn *conn = arg;

	(void)buffer;
	conn->answer_bytes += info->n_added;
}

int http_client_start(struct http_client *client, SSL_CTX *tls, unsigned connections,
		      char err[HTTP_ERROR_SIZE])
{
	if (connections < 1)
		connections = 1;
	if (connections > HTTP_MAX_CONNECTIONS)
		connections = HTTP_MAX_CONNECTIONS;
	while (client->conn_count < connections) {
		struct http_conn *conn = http_conn_new(client, tls, client->conn_count + 1);

		if (conn == NULL)
			goto fail;
		client->conns[client->conn_count++] = conn;
	}
	return 0;
fail:
	snprintf(err, HTTP_ERROR_SIZE, "cannot set up the HTTPS client for %s", client->url);
	return -1;
}

void http_client_connect(struct http_client *client)
{
	client->started = true;
	for (unsigned i = 0; i < client->conn_count; i++)
		http_conn_connect(client->conns[i]);
	http_client_dispatch(client, NULL);
}

static void http_pending_free(struct http_pending *pending)
{
	struct http_client *client = pending->client;

	for (struct http_pending **p = &client->pending; *p != NULL; p = &(*p)->next) {
		if (*p == pending) {
			*p = pending->next;
			break;
		}
	}
	if (pending->conn != NULL && pending->conn->active == pending)
		pending->conn->active = NULL;
	if (pending->deadline != NULL)
		event_free(pending->deadline);
	free(pending->path);
	if (pending->body != NULL) {
		explicit_bzero(pending->body, pending->body_len);
		free(pending->body);
	}
	free(pending->content_type);
	secret_free(&pending->authorization);
	for (size_t i = 0; i < pending->header_count; i++) {
		free((char *)pending->headers[i].name);
		free((char *)pending->headers[i].value);
	}
	free(pending->headers);
	free(pending);
}

void http_client_cancel_all(struct http_client *client)
{
	while (client->pending != NULL) {
		struct http_pending *pending = client->pending;

		if (pending->req != NULL)
			evhttp_cancel_request(pending->req); /* no done callback follows */
		pending->req = NULL;
		http_pending_free(pending);
	}
}

void http_client_free(struct http_client *client)
{
	if (client == NULL)
		return;
	http_client_cancel_all(client);
	for (unsigned i = 0; i < client->conn_count; i++)
		http_conn_free(client->conns[i]);
	if (client->dns != NULL)
		evdns_base_free(client->dns, 1); /* fail lookups: they hold the bufferevent */
	free(client->url);
	free(client->path_prefix);
	free(client->host_header);
	free(client->host);
	free(client->cookie_name);
	secret_free(&client->cookie_value);
	free(client->rhost);
	free(client);
}

bool http_client_busy(const struct http_client *client)
{
	return client->pending != NULL;
}

int http_client_request(struct http_client *client, enum http_purpose purpose, const char *path,
			const char *body, size_t body_len, unsigned timeout_ms)
{
	struct http_request_spec spec = {.purpose = purpose,
					 .path = path,
					 .body = body,
					 .body_len = body_len,
					 .timeout_ms = timeout_ms};

	return http_client_send(client, &spec);
}

/* Reports a failure from the loop, not from inside the call that found it. */
static void http_fail_later(struct http_pending *pending, enum http_failure failure,
			    const char *error)
{
	struct timeval now = {0, 0};

	pending->deferred = true;
	pending->deferred_failure = failure;
	if (pending->conn != NULL && pending->conn->active == pending)
		pending->conn->active = NULL;
	pending->conn = NULL;
	snprintf(pending->deferred_error, sizeof(pending->deferred_error), "%s", error);
	if (pending->deadline == NULL)
		pending->deadline =
		    evtimer_new(pending->client->base, http_deadline_callback, pending);
	if (pending->deadline != NULL)
		evtimer_add(pending->deadline, &now);
	/* else the whole-exchange timeout ends the login */
}

/* Builds the request from what the pending record keeps and sends it on conn. */
static int http_conn_send(struct http_conn *conn, struct http_pending *pending)
{
	struct http_client *client = conn->client;
	struct evhttp_request *req = evhttp_request_new(http_done_callback, pending);
	struct evkeyvalq *headers;
	char *cookie = NULL;
	int rc;

	if (req == NULL)
		return -1;
	evhttp_request_set_error_cb(req, http_error_callback);
	headers = evhttp_request_get_output_headers(req);
	rc = evhttp_add_header(headers, "Host", client->host_header); /* evhttp adds none */
	rc |= evhttp_add_header(headers, "User-Agent", "pam_authelia/" PAM_AUTHELIA_VERSION);
	rc |= evhttp_add_header(headers, "Accept", "application/json");
	if (client->rhost != NULL)
		rc |= evhttp_add_header(headers, "X-Forwarded-For", client->rhost);
	if (pending->authorization != NULL)
		rc |= evhttp_add_header(headers, "Authorization", pending->authorization);
	for (size_t i = 0; i < pending->header_count; i++)
		rc |=
		    evhttp_add_header(headers, pending->headers[i].name, pending->headers[i].value);
	/* The cookie as it is now: what the answers before this one set. */
	if (client->cookie_value != NULL) {
		cookie = secret_printf("%s=%s", client->cookie_name, client->cookie_value);
		if (cookie == NULL) {
			rc = -1;
		} else {
			rc |= evhttp_add_header(headers, "Cookie", cookie);
			secret_free(&cookie);
		}
	}
	if (pending->body != NULL) {
		rc |= evhttp_add_header(headers, "Content-Type", pending->content_type);
		rc |= evbuffer_add(evhttp_request_get_output_buffer(req), pending->body,
				   pending->body_len);
	}
	if (rc != 0) {
		evhttp_request_free(req);
		return -1;
	}
	pending->reused = http_conn_up(conn);
	pending->sent = pending->reused;
	if (!pending->reused)
		http_conn_connect(conn);
	pending->failed = false;
	pending->error_errno = 0;
	pending->conn = conn;
	pending->req = req;
	conn->active = pending;
	conn->answer_bytes = 0;
	if (evhttp_make_request(conn->evcon, req, pending->body ? EVHTTP_REQ_POST : EVHTTP_REQ_GET,
				pending->path) != 0) {
		if (pending->req != req) /* our callbacks ran and took care of it */
			return 0;
		pending->req = NULL; /* libevent's now, whatever became of it */
		pending->conn = NULL;
		conn->active = NULL;
		return -1;
	}
	return 0;
}

/* An idle connection for the next request: one that is up if there is one. */
static struct http_conn *http_client_idle_conn(struct http_client *client)
{
	struct http_conn *idle = NULL;

	for (unsigned i = 0; i < client->conn_count; i++) {
		struct http_conn *conn = client->conns[i];

		if (conn->active != NULL || conn->broken)
			continue;
		if (http_conn_up(conn))
			return conn;
		if (idle == NULL)
			idle = conn;
	}
	return idle;
}

/* Sends queued requests, in order, on idle connections.  -1 when caller's own
 * request could not be sent (it is freed); other failures are reported later. */
static int http_client_dispatch(struct http_client *client, struct http_pending *caller)
{
	struct http_pending *pending = client->pending, *next;
	int rc = 0;

	if (!client->started)
		return 0;
	client->depth++;
	for (; pending != NULL; pending = next) {
		struct http_conn *conn;

		next = pending->next;
		if (pending->conn != NULL || pending->deferred)
			continue;
		conn = http_client_idle_conn(client);
		if (conn == NULL)
			break;
		if (http_conn_send(conn, pending) == 0)
			continue;
		if (pending == caller) {
			http_pending_free(pending);
			rc = -1;
		} else {
			http_fail_later(pending, HTTP_LOCAL, "cannot send the request");
		}
	}
	client->depth--;
	return rc;
}

int http_client_send(struct http_client *client, const struct http_request_spec *spec)
{
	struct http_pending *pending = calloc(1, sizeof(*pending)), **tail;
	bool headers_failed = false;

	if (pending == NULL)
		return -1;
	pending->client = client;
	pending->purpose = spec->purpose;
	pending->timeout_ms = spec->timeout_ms;
	if (asprintf(&pending->path, "%s%s", client->path_prefix, spec->path) < 0) {
		free(pending);
		return -1;
	}
	if (spec->body != NULL) {
		pending->body = secret_dup(spec->body, spec->body_len);
		pending->body_len = spec->body_len;
		pending->content_type =
		    strdup(spec->content_type ? spec->content_type : "application/json");
	}
	if (spec->authorization != NULL)
		pending->authorization =
		    secret_dup(spec->authorization, strlen(spec->authorization));
	if (spec->header_count > 0) {
		pending->headers = calloc(spec->header_count, sizeof(*pending->headers));
		for (size_t i = 0; pending->headers != NULL && i < spec->header_count; i++) {
			pending->header_count++;
			pending->headers[i].name = strdup(spec->headers[i].name);
			pending->headers[i].value = strdup(spec->headers[i].value);
			if (pending->headers[i].name == NULL || pending->headers[i].value == NULL)
				headers_failed = true;
		}
	}
	if (spec->timeout_ms > 0) {
		struct timeval tv = {.tv_sec = spec->timeout_ms / 1000,
				     .tv_usec = (spec->timeout_ms % 1000) * 1000};
		pending->deadline = evtimer_new(client->base, http_deadline_callback, pending);
		if (pending->deadline != NULL && evtimer_add(pending->deadline, &tv) != 0) {
			event_free(pending->deadline);
			pending->deadline = NULL;
		}
	}
	for (tail = &client->pending; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = pending;
	if ((spec->body != NULL && (pending->body == NULL || pending->content_type == NULL)) ||
	    (spec->authorization != NULL && pending->authorization == NULL) ||
	    (spec->header_count > 0 && (pending->headers == NULL || headers_failed)) ||
	    (spec->timeout_ms > 0 && pending->deadline == NULL)) {
		http_pending_free(pending);
		return -1;
	}
	log_debug("%s %s%s", spec->body ? "POST" : "GET", client->url, spec->path);
	return http_client_dispatch(client, pending);
}

int http_cookie_parse(const char *header, const char *name, const char **value, size_t *len)
{
	size_t name_len = strlen(name), n;
	const char *v;

	if (strncmp(header, name, name_len) != 0 || header[name_len] != '=')
		return 1;
	v = header + name_len + 1;
	n = strcspn(v, ";");
	while (n > 0 && v[n - 1] == ' ')
		n--;
	/* RFC 6265 cookie-octets only: the value goes back into a header verbatim. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
			return -1;
	}
	*value = v;
	*len = n;
	return 0;
}

/*
 * Whether a Set-Cookie's attributes (what follows its value) expire the cookie
 * now (RFC 6265 s.5.2-5.3): Max-Age zero or less, else an Expires date not in
 * the future.  An attribute that does not parse is ignored, as RFC 6265 says;
 * Max-Age wins over Expires.
 */
static bool http_cookie_expired(const char *attributes)
{
	bool max_age = false, max_age_expired = false, expires_expired = false;

	for (const char *p = strchr(attributes, ';'); p != NULL; p = strchr(p, ';')) {
		char value[64];
		size_t n;

		p++;
		p += strspn(p, " \t");
		n = strcspn(p, ";");
		if (n <= 8 || n - 8 >= sizeof(value))
			continue;
		snprintf(value, sizeof(value), "%.*s", (int)(n - 8), p + 8);
		value[strcspn(value, " \t")] = '\0';
		if (strncasecmp(p, "max-age=", 8) == 0) {
			char *end;
			long long seconds;

			if (value[0] != '-' && (value[0] < '0' || value[0] > '9'))
				continue;
			errno = 0;
			seconds = strtoll(value, &end, 10);
			if (*end != '\0' || end == value)
				continue;
			max_age = true;
			max_age_expired = seconds <= 0 || (errno == ERANGE && value[0] == '-');
		} else if (strncasecmp(p, "expires=", 8) == 0) {
			struct tm tm = {0};
			const char *end;

			snprintf(value, sizeof(value), "%.*s", (int)(n - 8), p + 8);
			end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
			if (end != NULL && end[strspn(end, " \t")] == '\0')
				expires_expired = timegm(&tm) <= time(NULL);
		}
	}
	return max_age ? max_age_expired : expires_expired;
}

enum http_cookie_change {
	COOKIE_KEPT,	/* another cookie, or the same value again (a refresh) */
	COOKIE_ROTATED, /* a new, non-empty value */
	COOKIE_DELETED, /* an empty value, or one that expires now */
};

/* Keeps the session cookie from a Set-Cookie header, or forgets it when the
 * header deletes it; says which. */
static enum http_cookie_change http_keep_cookie(struct http_client *client, const char *header)
{
	const char *value;
	size_t len;
	int rc = http_cookie_parse(header, client->cookie_name, &value, &len);
	bool rotated;

	if (rc < 0)
		log_error("ignoring a malformed %s cookie from the server", client->cookie_name);
	if (rc != 0)
		return COOKIE_KEPT;
	if (len == 0 || http_cookie_expired(value + len)) {
		secret_free(&client->cookie_value);
		return COOKIE_DELETED;
	}
	rotated = client->cookie_value == NULL || strlen(client->cookie_value) != len ||
		  memcmp(client->cookie_value, value, len) != 0;
	secret_free(&client->cookie_value);
	client->cookie_value = secret_dup(value, len);
	return rotated && client->cookie_value != NULL ? COOKIE_ROTATED : COOKIE_KEPT;
}

static bool http_connection_errno(int e)
{
	return e == ECONNREFUSED || e == ECONNRESET || e == ECONNABORTED || e == EHOSTUNREACH ||
	       e == ENETUNREACH || e == ETIMEDOUT || e == EPIPE || e == EADDRNOTAVAIL;
}

static enum http_failure http_describe_failure(struct http_conn *conn, struct http_pending *pending,
					       char out[HTTP_ERROR_SIZE])
{
	struct http_client *client = conn->client;
	long verify = conn->ssl != NULL ? SSL_get_verify_result(conn->ssl) : X509_V_OK;
	int dns_error = bufferevent_socket_get_dns_error(conn->bev);
	unsigned long tls_error = 0, e;

	while ((e = bufferevent_get_openssl_error(conn->bev)) != 0)
		if (ERR_GET_LIB(e) != 0)
			tls_error = e;
	/* OpenSSL 3 calls a close without close_notify an error: it is a close. */
	if (tls_error != 0 && ERR_GET_LIB(tls_error) == ERR_LIB_SSL &&
	    ERR_GET_REASON(tls_error) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		tls_error = 0;
	/* libevent 2.1 reports a failed connect as EVREQ_HTTP_TIMEOUT; errno says
	 * what really happened. */
	if (dns_error != 0) {
		/* The name did not resolve (NXDOMAIN, no DNS server answering):
		 * libevent reports it as a connect that failed. */
		snprintf(out, HTTP_ERROR_SIZE, "cannot resolve %s: %s", client->host,
			 evutil_gai_strerror(dns_error));
	} else if (verify != X509_V_OK) {
		snprintf(out, HTTP_ERROR_SIZE, "TLS certificate of %s:%d not trusted: %s",
			 client->host, client->port, X509_verify_cert_error_string(verify));
	} else if (tls_error != 0) {
		char code[128];
		const char *why = ERR_reason_error_string(tls_error);

		if (why == NULL) { /* libcrypto's texts are not loaded (tls.c) */
			ERR_error_string_n(tls_error, code, sizeof(code));
			why = code;
		}
		snprintf(out, HTTP_ERROR_SIZE, "TLS with %s:%d failed: %s", client->host,
			 client->port, why);
	} else if (http_connection_errno(pending->error_errno)) {
		snprintf(out, HTTP_ERROR_SIZE, "connection to %s:%d failed: %s", client->host,
			 client->port, strerror(pending->error_errno));
	} else if (!pending->failed) {
		/* libevent's connect clean-up: ECONNREFUSED or a pending SO_ERROR */
		snprintf(out, HTTP_ERROR_SIZE, "connection to %s:%d refused or unreachable",
			 client->host, client->port);
	} else if (pending->error == EVREQ_HTTP_TIMEOUT) {
		snprintf(out, HTTP_ERROR_SIZE, "connection to %s:%d timed out", client->host,
			 client->port);
	} else if (pending->error == EVREQ_HTTP_DATA_TOO_LONG) {
		snprintf(out, HTTP_ERROR_SIZE, "response larger than %d KiB", HTTP_MAX_BODY / 1024);
		return HTTP_UNUSABLE;
	} else if (pending->error == EVREQ_HTTP_INVALID_HEADER) {
		snprintf(out, HTTP_ERROR_SIZE, "invalid HTTP response from %s:%d", client->host,
			 client->port);
		return HTTP_UNUSABLE;
	} else {
		snprintf(out, HTTP_ERROR_SIZE, "connection to %s:%d closed before a response",
			 client->host, client->port);
	}
	return HTTP_UNREACHABLE;
}

static void http_error_callback(enum evhttp_request_error error, void *arg)
{
	struct http_pending *pending = arg;

	/* errno holds the socket error here; libevent restores it for us. */
	pending->error_errno = errno;
	pending->error = error;
	pending->failed = true;
	if (error == EVREQ_HTTP_REQUEST_CANCEL)
		pending->req = NULL; /* libevent freed it and will not call done */
}

static void http_deliver(struct http_pending *pending, struct http_response *response)
{
	struct http_client *client = pending->client;

	response->purpose = pending->purpose;
	response->sent = pending->sent;
	http_pending_free(pending);
	client->callback(response, client->arg);
	/* A connection is free again: what waited for one goes out. */
	http_client_dispatch(client, NULL);
}

/*
 * Whether a request may reach the server twice.  The retry (below) goes out
 * when it is unknown whether the server processed the first copy, so it is
 * only for requests whose repetition is harmless or fails closed:
 *   GET /api/state, discovery, JWKS, userinfo, POST /api/user/info: reads;
 *   POST /api/secondfactor/totp: Authelia refuses a code already used (a
 *     replayed code is a 403: a refusal, never a false success);
 *   POST /api/firstfactor: a processed copy with a wrong password counts once
 *     more toward Authelia's regulation ban (the safe direction, and only in
 *     this race: a server closing an idle connection has not read it); without
 *     the retry a user who answers the password prompt just as the kept
 *     connection expires would choose PAM_AUTHINFO_UNAVAIL;
 *   device authorization, token polls: a second device code is never shown,
 *     a device code already exchanged is refused (invalid_grant).
 * Never a request without a deadline of its own: it lasts as long as the user
 * lets it, and a second copy of the Duo push is a second push to the phone.
 */
static bool http_may_send_twice(const struct http_pending *pending)
{
	return pending->timeout_ms > 0 && pending->purpose != HTTP_DUO;
}

/*
 * A request that failed on a connection opened before it, before any byte of
 * an answer arrived, may have met a connection the server had just closed
 * while idle (Authelia closes them after 30 s): it goes out once more, on a
 * new connection, if it may be sent twice.  A second failure, a failure on a
 * fresh connection, or one after part of an answer is real.
 */
static bool http_should_retry(const struct http_pending *pending, const struct http_conn *conn)
{
	return http_may_send_twice(pending) && pending->reused && !pending->retried &&
	       conn->answer_bytes == 0;
}

static void http_done_callback(struct evhttp_request *req, void *arg)
{
	struct http_pending *pending = arg;
	struct http_conn *conn = pending->conn;
	struct http_client *client = pending->client;
	struct http_response response = {0};
	char error[HTTP_ERROR_SIZE];
	struct evbuffer *input;
	struct evkeyval *kv;
	char *body = NULL;

	pending->req = NULL; /* libevent frees it after this callback */
	if (conn->active == pending)
		conn->active = NULL;
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		if (http_should_retry(pending, conn)) {
			int rc;

			log_debug("connection %u closed before answering %s; sending it again on a "
				  "new connection",
				  conn->number, pending->path);
			pending->retried = true;
			client->depth++;
			rc = http_conn_send(conn, pending);
			client->depth--;
			if (rc == 0)
				return;
		}
		response.failure = http_describe_failure(conn, pending, error);
		if (client->depth > 0) {
			http_fail_later(pending, response.failure, error);
			return;
		}
		response.error = error;
		http_deliver(pending, &response);
		return;
	}
	response.status = evhttp_request_get_response_code(req);
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
	{
		if (strcasecmp(kv->key, "Set-Cookie") != 0)
			continue;
		switch (http_keep_cookie(client, kv->value)) {
		case COOKIE_ROTATED:
			response.cookie_rotated = true;
			break;
		case COOKIE_DELETED: /* whatever came before it is gone too */
			response.cookie_deleted = true;
			response.cookie_rotated = false;
			break;
		case COOKIE_KEPT:
			break;
		}
	}
	response.headers = evhttp_request_get_input_headers(req);
	response.date = evhttp_find_header(response.headers, "Date");
	input = evhttp_request_get_input_buffer(req);
	response.body_len = evbuffer_get_length(input);
	body = malloc(response.body_len + 1);
	if (body == NULL) {
		snprintf(error, sizeof(error), "out of memory");
		response.error = error;
		response.failure = HTTP_LOCAL;
		response.status = 0;
	} else {
		evbuffer_remove(input, body, response.body_len);
		body[response.body_len] = '\0';
		response.body = body;
	}
	http_deliver(pending, &response);
	if (body != NULL) {
		explicit_bzero(body, response.body_len);
		free(body);
	}
}

/* Bytes of an answer already here, not yet through evhttp: in the
 * bufferevent's input, in OpenSSL's record buffer, or in the socket. */
static bool http_answer_waiting(const struct http_pending *pending)
{
	const struct http_conn *conn = pending->conn;
	evutil_socket_t fd;
	int queued = 0;

	if (conn == NULL || conn->active != pending || conn->bev == NULL)
		return false;
	if (evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0)
		return true;
	if (conn->ssl != NULL && SSL_pending(conn->ssl) > 0)
		return true;
	fd = bufferevent_getfd(conn->bev);
	return fd >= 0 && ioctl(fd, FIONREAD, &queued) == 0 && queued > 0;
}

/*
 * A request's own deadline.  A loop that did not run for a while (the helper
 * frozen or starved by whoever runs the caller: a cgroup freezer, SCHED_IDLE
 * and a CPU hog) finds the answer and the expired deadline ready in the same
 * pass, and the deadline may come first: that must not turn an answer into
 * "unreachable" (PAM_AUTHINFO_UNAVAIL, which a local caller must never pick).
 * So while bytes of the answer wait, the deadline steps back for a few loop
 * passes (a zero timeout: after the pass's reads) and lets evhttp read them.
 */
static void http_deadline_callback(evutil_socket_t fd, short what, void *arg)
{
	struct http_pending *pending = arg;
	struct http_client *client = pending->client;
	struct http_response response = {0};
	char error[HTTP_ERROR_SIZE];

	(void)fd;
	(void)what;
	if (!pending->deferred && pending->req != NULL &&
	    pending->read_passes < HTTP_DEADLINE_READ_PASSES && http_answer_waiting(pending)) {
		struct timeval now = {0, 0};

		if (pending->read_passes++ == 0)
			log_debug("%s%s: deadline passed with the answer waiting; reading it",
				  client->url, pending->path + strlen(client->path_prefix));
		if (evtimer_add(pending->deadline, &now) == 0)
			return;
	}
	if (pending->deferred) {
		snprintf(error, sizeof(error), "%s", pending->deferred_error);
		response.failure = pending->deferred_failure;
	} else {
		if (pending->req != NULL)
			evhttp_cancel_request(pending->req);
		pending->req = NULL;
		snprintf(error, sizeof(error), "no response from %s:%d within %u ms", client->host,
			 client->port, pending->timeout_ms);
		response.failure = HTTP_UNREACHABLE; /* its own fixed deadline */
	}
	response.error = error;
	http_deliver(pending, &response);
}
