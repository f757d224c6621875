/*
 * authelia_api.h -- Authelia's JSON API as the states use it: the endpoint
 * paths and one reading of every response, so that status codes, the
 * {"status","message","data"} envelope and the failure results are decided in
 * one place (see ../shared/spec/authelia-api-contract.md).
 *
 *   200 and "status":"OK"       success (data, if any, for the state to read)
 *   200 and "status":"KO"       refused: PAM_AUTH_ERR (Authelia sends KO with 200)
 *   401, 403, 429, other 4xx    refused: PAM_AUTH_ERR.  429 is a refusal too: as
 *                               "unavailable" it would let [authinfo_unavail=ignore]
 *                               stacks skip the factor once the limit is hit
 *   other 1xx/2xx, a malformed  PAM_AUTH_ERR: Authelia answered, but not with
 *   or oversized body           anything usable
 *   3xx                         PAM_SERVICE_ERR (never followed; url is wrong)
 *   5xx, no connection, TLS     PAM_AUTHINFO_UNAVAIL: the only ways to it, all
 *   failure, connection lost,   observed failures to talk to Authelia that
 *   the request's own deadline  nobody at the user's end can time
 */
#ifndef PAM_AUTHELIA_AUTHELIA_API_H
#define PAM_AUTHELIA_AUTHELIA_API_H

#include "../protocol/frame.h"
#include "http_client.h"
#include "json.h"

#define AUTHELIA_HEALTH	      "/api/health"
#define AUTHELIA_FIRST_FACTOR "/api/firstfactor"
#define AUTHELIA_USER_INFO    "/api/user/info"
#define AUTHELIA_STATE	      "/api/state"
#define AUTHELIA_TOTP	      "/api/secondfactor/totp"
#define AUTHELIA_DUO	      "/api/secondfactor/duo"

#define AUTHELIA_REASON_SIZE 512

struct authelia_reply {
	yajl_val root; /* the parsed body */
	yajl_val data; /* its "data" object, or NULL */
};

/*
 * Reads the response to the request described by `what` (e.g. "TOTP").  On
 * success fills reply (release it with authelia_reply_free) and returns
 * RESULT_SUCCESS; otherwise returns the failure's result with reason set.
 * Logs the guide's debug line: response status=200 status_field="OK".
 */
enum auth_result authelia_reply_read(const struct http_response *response, const char *what,
				     struct authelia_reply *reply,
				     char reason[AUTHELIA_REASON_SIZE]);
void authelia_reply_free(struct authelia_reply *reply);

/* The result for a request that got no response (response->error set). */
enum auth_result authelia_failure_result(const struct http_response *response);
/* The result for a status that is not the answer a state wanted: 3xx
 * PAM_SERVICE_ERR, 5xx PAM_AUTHINFO_UNAVAIL, anything else PAM_AUTH_ERR. */
enum auth_result authelia_status_result(int status);

#endif
