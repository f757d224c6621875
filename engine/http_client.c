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
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef PAM_AUTHELIA_VERSION
#define PAM_AUTHELIA_VERSION "0"
#endif

struct http_pending {
	struct http_client *client;
	struct evhttp_request *req; /* NULL once libevent is done with it */
	struct event *deadline;
	enum http_purpose purpose;
	unsigned timeout_ms;
	enum evhttp_request_error error;
	int error_errno;
	bool failed, cancelled;
	struct http_pending *next;
};

struct http_client {
	struct event_base *base;
	struct evdns_base *dns;
	struct evhttp_connection *evcon;
	SSL *ssl; /* owned by the bufferevent */
	struct bufferevent *bev;
	char *url;	   /* for log lines */
	char *path_prefix; /* the url's path, without trailing slash */
	char *host_header;
	char *host; /* for connecting and verifying, no brackets */
	int port;
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

struct http_client *http_client_new(struct event_base *base, SSL_CTX *tls,
				    const struct config *config, const char *rhost,
				    http_response_cb callback, void *arg, char err[HTTP_ERROR_SIZE])
{
	struct http_client *client = calloc(1, sizeof(*client));
	unsigned char ip[16];
	bool is_ip;
	X509_VERIFY_PARAM *vp;
	struct timeval idle = {.tv_sec = (time_t)config->timeout + 5};
	size_t len;

	if (client == NULL)
		goto fail;
	client->base = base;
	client->callback = callback;
	client->arg = arg;
	client->port = config->url_port;
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

	is_ip =
	    inet_pton(AF_INET, client->host, ip) == 1 || inet_pton(AF_INET6, client->host, ip) == 1;
	client->ssl = SSL_new(tls);
	if (client->ssl == NULL)
		goto fail;
	vp = SSL_get0_param(client->ssl);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (is_ip) {
		X509_VERIFY_PARAM_set1_ip_asc(vp, client->host); /* no SNI for addresses */
	} else {
		X509_VERIFY_PARAM_set1_host(vp, client->host, 0);
		SSL_set_tlsext_host_name(client->ssl, client->host);
	}
	client->bev =
	    bufferevent_openssl_socket_new(base, -1, client->ssl, BUFFEREVENT_SSL_CONNECTING,
					   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (client->bev == NULL) {
		SSL_free(client->ssl);
		client->ssl = NULL;
		goto fail;
	}
	/* Bodies are framed by Content-Length or chunks; a missing close_notify
	 * after a complete response is not an error (OpenSSL 3 made it one). */
	bufferevent_openssl_set_allow_dirty_shutdown(client->bev, 1);
	if (!is_ip)
		client->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
						       EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	client->evcon = evhttp_connection_base_bufferevent_new(
	    base, client->dns, client->bev, client->host, (unsigned short)client->port);
	if (client->evcon == NULL || (!is_ip && client->dns == NULL))
		goto fail;
	evhttp_connection_set_max_body_size(client->evcon, HTTP_MAX_BODY);
	evhttp_connection_set_max_headers_size(client->evcon, HTTP_MAX_HEADERS);
	/* Inactivity must never cut a Duo push short: our timers decide. */
	evhttp_connection_set_timeout_tv(client->evcon, &idle);
	return client;
fail:
	snprintf(err, HTTP_ERROR_SIZE, "cannot set up the HTTPS client for %s", config->url);
	http_client_free(client);
	return NULL;
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
	if (pending->deadline != NULL)
		event_free(pending->deadline);
	free(pending);
}

void http_client_cancel_all(struct http_client *client)
{
	while (client->pending != NULL) {
		struct http_pending *pending = client->pending;

		pending->cancelled = true;
		if (pending->req != NULL)
			evhttp_cancel_request(pending->req); /* no done callback follows */
		http_pending_free(pending);
	}
}

void http_client_free(struct http_client *client)
{
	if (client == NULL)
		return;
	http_client_cancel_all(client);
	if (client->evcon != NULL)
		evhttp_connection_free(client->evcon); /* frees the bufferevent and SSL */
	else if (client->bev != NULL)
		bufferevent_free(client->bev);
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

int http_client_send(struct http_client *client, const struct http_request_spec *spec)
{
	struct http_pending *pending = calloc(1, sizeof(*pending));
	struct evkeyvalq *headers;
	char *full_path = NULL, *cookie = NULL;
	const char *path = spec->path, *body = spec->body;
	size_t body_len = spec->body_len;
	unsigned timeout_ms = spec->timeout_ms;
	int rc = -1;

	if (pending == NULL)
		return -1;
	pending->client = client;
	pending->purpose = spec->purpose;
	pending->timeout_ms = timeout_ms;
	pending->req = evhttp_request_new(http_done_callback, pending);
	if (pending->req == NULL || asprintf(&full_path, "%s%s", client->path_prefix, path) < 0) {
		full_path = NULL;
		goto out;
	}
	evhttp_request_set_error_cb(pending->req, http_error_callback);
	headers = evhttp_request_get_output_headers(pending->req);
	evhttp_add_header(headers, "Host", client->host_header); /* evhttp adds none */
	evhttp_add_header(headers, "User-Agent", "pam_authelia/" PAM_AUTHELIA_VERSION);
	evhttp_add_header(headers, "Accept", "application/json");
	if (client->rhost != NULL)
		evhttp_add_header(headers, "X-Forwarded-For", client->rhost);
	if (spec->authorization != NULL)
		evhttp_add_header(headers, "Authorization", spec->authorization);
	if (client->cookie_value != NULL) {
		if (asprintf(&cookie, "%s=%s", client->cookie_name, client->cookie_value) < 0)
			goto out;
		evhttp_add_header(headers, "Cookie", cookie);
		secret_free(&cookie);
	}
	if (body != NULL) {
		evhttp_add_header(headers, "Content-Type",
				  spec->content_type ? spec->content_type : "application/json");
		if (evbuffer_add(evhttp_request_get_output_buffer(pending->req), body, body_len) !=
		    0)
			goto out;
	}
	if (timeout_ms > 0) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000,
				     .tv_usec = (timeout_ms % 1000) * 1000};
		pending->deadline = evtimer_new(client->base, http_deadline_callback, pending);
		if (pending->deadline == NULL || evtimer_add(pending->deadline, &tv) != 0)
			goto out;
	}
	log_debug("%s %s%s", body ? "POST" : "GET", client->url, path);
	/* Listed first: a failure inside evhttp_make_request may already have
	 * run our callbacks, which unlist and free the record. */
	pending->next = client->pending;
	client->pending = pending;
	if (evhttp_make_request(client->evcon, pending->req,
				body ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, full_path) != 0) {
		for (struct http_pending *p = client->pending; p != NULL; p = p->next) {
			if (p == pending) {
				pending->req = NULL; /* libevent's now, whatever became of it */
				http_pending_free(pending);
				break;
			}
		}
		pending = NULL;
		goto out;
	}
	pending = NULL;
	rc = 0;
out:
	if (pending != NULL) {
		if (pending->req != NULL)
			evhttp_request_free(pending->req);
		if (pending->deadline != NULL)
			event_free(pending->deadline);
		free(pending);
	}
	free(full_path);
	return rc;
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

/* Keeps the session cookie from a Set-Cookie header. */
static void http_keep_cookie(struct http_client *client, const char *header)
{
	const char *value;
	size_t len;
	int rc = http_cookie_parse(header, client->cookie_name, &value, &len);

	if (rc < 0)
		log_error("ignoring a malformed %s cookie from the server", client->cookie_name);
	if (rc != 0)
		return;
	secret_free(&client->cookie_value);
	if (len > 0) /* an empty value deletes the cookie */
		client->cookie_value = secret_dup(value, len);
}

static bool http_connection_errno(int e)
{
	return e == ECONNREFUSED || e == ECONNRESET || e == ECONNABORTED || e == EHOSTUNREACH ||
	       e == ENETUNREACH || e == ETIMEDOUT || e == EPIPE || e == EADDRNOTAVAIL;
}

static void http_describe_failure(struct http_client *client, struct http_pending *pending,
				  char out[HTTP_ERROR_SIZE])
{
	long verify = client->ssl ? SSL_get_verify_result(client->ssl) : X509_V_OK;
	unsigned long tls_error = 0, e;

	while ((e = bufferevent_get_openssl_error(client->bev)) != 0)
		if (ERR_GET_LIB(e) != 0)
			tls_error = e;
	/* libevent 2.1 reports a failed connect as EVREQ_HTTP_TIMEOUT; errno says
	 * what really happened. */
	if (verify != X509_V_OK) {
		snprintf(out, HTTP_ERROR_SIZE, "TLS certificate of %s:%d not trusted: %s",
			 client->host, client->port, X509_verify_cert_error_string(verify));
	} else if (tls_error != 0) {
		snprintf(out, HTTP_ERROR_SIZE, "TLS with %s:%d failed: %s", client->host,
			 client->port, ERR_reason_error_string(tls_error));
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
	} else if (pending->error == EVREQ_HTTP_INVALID_HEADER) {
		snprintf(out, HTTP_ERROR_SIZE, "invalid HTTP response from %s:%d", client->host,
			 client->port);
	} else {
		snprintf(out, HTTP_ERROR_SIZE, "connection to %s:%d closed before a response",
			 client->host, client->port);
	}
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
	http_pending_free(pending);
	client->callback(response, client->arg);
}

static void http_done_callback(struct evhttp_request *req, void *arg)
{
	struct http_pending *pending = arg;
	struct http_client *client = pending->client;
	struct http_response response = {0};
	char error[HTTP_ERROR_SIZE];
	struct evbuffer *input;
	struct evkeyval *kv;
	char *body = NULL;

	pending->req = NULL; /* libevent frees it after this callback */
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		http_describe_failure(client, pending, error);
		response.error = error;
		http_deliver(pending, &response);
		return;
	}
	response.status = evhttp_request_get_response_code(req);
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
	{
		if (strcasecmp(kv->key, "Set-Cookie") == 0)
			http_keep_cookie(client, kv->value);
	}
	response.date = evhttp_find_header(evhttp_request_get_input_headers(req), "Date");
	input = evhttp_request_get_input_buffer(req);
	response.body_len = evbuffer_get_length(input);
	body = malloc(response.body_len + 1);
	if (body == NULL) {
		snprintf(error, sizeof(error), "out of memory");
		response.error = error;
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

static void http_deadline_callback(evutil_socket_t fd, short what, void *arg)
{
	struct http_pending *pending = arg;
	struct http_client *client = pending->client;
	struct http_response response = {0};
	char error[HTTP_ERROR_SIZE];

	(void)fd;
	(void)what;
	pending->cancelled = true;
	if (pending->req != NULL)
		evhttp_cancel_request(pending->req);
	pending->req = NULL;
	snprintf(error, sizeof(error), "no response from %s:%d within %u ms", client->host,
		 client->port, pending->timeout_ms);
	response.error = error;
	http_deliver(pending, &response);
}
