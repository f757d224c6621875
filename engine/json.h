/*
 * json.h -- JSON through yajl, strictly: a document must be an object, keys
 * may not repeat, strings may not hold NUL, nesting is bounded, and every
 * field is read with the type it must have (a field of another type is an
 * error; unknown fields are ignored).  Parsed trees are wiped before they are
 * freed, since responses carry tokens; request bodies are generated into
 * memory that is wiped too.
 */
#ifndef PAM_AUTHELIA_JSON_H
#define PAM_AUTHELIA_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#define JSON_ERROR_SIZE 160
/* Nesting allowed in any document (Authelia's answers need 3 or 4 levels). */
#define JSON_MAX_DEPTH	    32
#define JSON_MAX_DEPTH_TEXT "32"

/* Parses len bytes; NULL with err set when they are not one JSON object, a
 * string (or key) holds \u0000, or objects and arrays nest deeper than
 * JSON_MAX_DEPTH. */
yajl_val json_parse(const char *text, size_t len, char err[JSON_ERROR_SIZE]);
/* Wipes every string, key and number text, then frees the tree. */
void json_free(yajl_val root);

/* The member named key of an object, or NULL when absent (or object is NULL). */
yajl_val json_member(yajl_val object, const char *key);

/*
 * Typed reads of object members.  Each returns 0 and sets *out when the member
 * has the type, 1 when it is absent (then *out is untouched), and -1 with err
 * set ("field data.has_totp is a string, not a boolean") when it has another.
 * path names the member in messages.
 */
int json_get_string(yajl_val object, const char *key, const char *path, const char **out,
		    char err[JSON_ERROR_SIZE]);
int json_get_bool(yajl_val object, const char *key, const char *path, bool *out,
		  char err[JSON_ERROR_SIZE]);
int json_get_integer(yajl_val object, const char *key, const char *path, long long *out,
		     char err[JSON_ERROR_SIZE]);
int json_get_object(yajl_val object, const char *key, const char *path, yajl_val *out,
		    char err[JSON_ERROR_SIZE]);

/* Builds a JSON object of string members ({"k1":"v1",...}) from NULL-ended
 * key, value pairs; the result is heap memory to release with secret_free. */
char *json_object_of_strings(const char *const *pairs, size_t *len);

#endif
