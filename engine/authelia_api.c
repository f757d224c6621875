/*
 * authelia_api.c -- reading Authelia's responses (see authelia_api.h).
 */
#include "authelia_api.h"
#include "log.h"
#include "../protocol/shown.h"

#include <stdio.h>
#include <string.h>

enum auth_result authelia_failure_result(const struct http_response *response)
{
	switch (response->failure) {
	case HTTP_UNREACHABLE:
		return RESULT_AUTHINFO_UNAVAIL;
	case HTTP_UNUSABLE:
		return RESULT_AUTH_ERR;
	case HTTP_LOCAL:
		break;
	}
	return RESULT_SERVICE_ERR;
}

enum auth_result authelia_status_result(int status)
{
	if (status >= 300 && status < 400)
		return RESULT_SERVICE_ERR;
	/* 500-599 only: libevent passes any three digits, and 600-999 is no
	 * failure of Authelia's that HTTP defines (fail closed). */
	if (status >= 500 && status < 600)
		return RESULT_AUTHINFO_UNAVAIL;
	return RESULT_AUTH_ERR;
}

enum auth_result authelia_reply_read(const struct http_response *response, const char *what,
				     struct authelia_reply *reply,
				     char reason[AUTHELIA_REASON_SIZE])
{
	char err[JSON_ERROR_SIZE], shown[TEXT_SHOWN_SIZE];
	const char *status_field = NULL;
	int status = response->status;
	yajl_val root = NULL;

	memset(reply, 0, sizeof(*reply));
	if (response->error != NULL) {
		log_debug("response failed: %s", response->error);
		snprintf(reason, AUTHELIA_REASON_SIZE, "%s request failed: %s", what,
			 response->error);
		return authelia_failure_result(response);
	}
	/* Errors come as JSON KO bodies or as text/plain ("403 Forbidden"). */
	root = json_parse(response->body, response->body_len, err);
	if (root != NULL && json_get_string(root, "status", "status", &status_field, err) < 0) {
		json_free(root);
		root = NULL;
		status_field = NULL;
	}
	if (status_field != NULL)
		log_debug("response status=%d status_field=\"%s\"", status,
			  text_shown(status_field, shown));
	else
		log_debug("response status=%d", status);

	if (status >= 300 && status < 400) {
		snprintf(reason, AUTHELIA_REASON_SIZE,
			 "%s: unexpected redirect (response status=%d); is url Authelia's own URL?",
			 what, status);
		json_free(root);
		return RESULT_SERVICE_ERR;
	}
	if (status >= 500 && status < 600) {
		snprintf(reason, AUTHELIA_REASON_SIZE, "%s: Authelia failed (response status=%d)",
			 what, status);
		json_free(root);
		return RESULT_AUTHINFO_UNAVAIL;
	}
	if (status == 429) {
		snprintf(
		    reason, AUTHELIA_REASON_SIZE,
		    "%s rate limited by Authelia server, try again later (response status=429)",
		    what);
		goto refused;
	}
	if (status != 200) {
		snprintf(reason, AUTHELIA_REASON_SIZE, "%s refused (response status=%d)", what,
			 status);
		goto refused;
	}
	if (root == NULL || status_field == NULL) {
		snprintf(reason, AUTHELIA_REASON_SIZE, "%s: malformed response: %s", what,
			 root == NULL ? err : "no status field");
		goto refused;
	}
	if (strcmp(status_field, "OK") != 0) {
		snprintf(reason, AUTHELIA_REASON_SIZE,
			 "%s refused (response status=200 status_field=\"%s\")", what,
			 text_shown(status_field, shown));
		goto refused;
	}
	reply->root = root;
	if (json_get_object(root, "data", "data", &reply->data, err) < 0) {
		snprintf(reason, AUTHELIA_REASON_SIZE, "%s: malformed response: %s", what, err);
		authelia_reply_free(reply);
		return RESULT_AUTH_ERR;
	}
	return RESULT_SUCCESS;

refused:
	json_free(root);
	return RESULT_AUTH_ERR;
}

void authelia_reply_free(struct authelia_reply *reply)
{
	json_free(reply->root);
	reply->root = reply->data = NULL;
}
