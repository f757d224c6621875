/*
 * json.c -- strict JSON reading and writing on yajl (see json.h).
 */
#include "json.h"
#include "secure_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

static const char *json_type_name(yajl_val v)
{
	if (YAJL_IS_STRING(v))
		return "a string";
	if (YAJL_IS_NUMBER(v))
		return "a number";
	if (YAJL_IS_OBJECT(v))
		return "an object";
	if (YAJL_IS_ARRAY(v))
		return "an array";
	if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		return "a boolean";
	return "null";
}

/* Rejects objects with a repeated key anywhere in the tree: which one wins
 * would be a guess, and {"status":"KO","status":"OK"} must not pass. */
static int json_has_duplicate_keys(yajl_val v)
{
	if (YAJL_IS_OBJECT(v)) {
		for (size_t i = 0; i < v->u.object.len; i++) {
			for (size_t j = 0; j < i; j++)
				if (strcmp(v->u.object.keys[i], v->u.object.keys[j]) == 0)
					return 1;
			if (json_has_duplicate_keys(v->u.object.values[i]))
				return 1;
		}
	} else if (YAJL_IS_ARRAY(v)) {
		for (size_t i = 0; i < v->u.array.len; i++)
			if (json_has_duplicate_keys(v->u.array.values[i]))
				return 1;
	}
	return 0;
}

static void *json_gen_malloc(void *ctx, size_t size);
static void *json_gen_realloc(void *ctx, void *ptr, size_t size);
static void json_gen_free(void *ctx, void *ptr);

/* yajl buffers decoded strings (tokens among them): wipe what it frees. */
static yajl_alloc_funcs json_wiping = {json_gen_malloc, json_gen_realloc, json_gen_free, NULL};

/* What the validating pass found, beyond yajl's own syntax checks. */
struct json_check {
	int depth;
	const char *problem;
};

static int json_check_text(void *ctx, const unsigned char *text, size_t len)
{
	struct json_check *check = ctx;

	/* C strings end at the first NUL: "root\u0000@x" would be read as "root". */
	if (memchr(text, '\0', len) != NULL) {
		check->problem = "a string holds \\u0000";
		return 0;
	}
	return 1;
}

static int json_check_open(void *ctx)
{
	struct json_check *check = ctx;

	/* The tree code recurses (yajl_tree_free, json_wipe, the duplicate-key
	 * check): a deep document must not reach it. */
	if (++check->depth > JSON_MAX_DEPTH) {
		check->problem = "nested deeper than " JSON_MAX_DEPTH_TEXT " levels";
		return 0;
	}
	return 1;
}

static int json_check_close(void *ctx)
{
	struct json_check *check = ctx;

	check->depth--;
	return 1;
}

/* A validating pass with yajl's event parser before any tree is built. */
static int json_validate(const char *text, size_t len, char err[JSON_ERROR_SIZE])
{
	static const yajl_callbacks callbacks = {
	    .yajl_string = json_check_text,
	    .yajl_map_key = json_check_text,
	    .yajl_start_map = json_check_open,
	    .yajl_end_map = json_check_close,
	    .yajl_start_array = json_check_open,
	    .yajl_end_array = json_check_close,
	};
	struct json_check check = {0};
	yajl_handle handle = yajl_alloc(&callbacks, &json_wiping, &check);
	yajl_status status;

	if (handle == NULL) {
		snprintf(err, JSON_ERROR_SIZE, "out of memory");
		return -1;
	}
	status = yajl_parse(handle, (const unsigned char *)text, len);
	if (status == yajl_status_ok)
		status = yajl_complete_parse(handle);
	if (check.problem != NULL) {
		snprintf(err, JSON_ERROR_SIZE, "malformed JSON: %s", check.problem);
	} else if (status != yajl_status_ok) {
		/* A syntax error ends this pass early, so the rest was never
		 * checked: refused here, or yajl_tree_parse (which accepts
		 * comments) would build a tree from text this pass never saw. */
		unsigned char *why = yajl_get_error(handle, 0, (const unsigned char *)text, len);

		snprintf(err, JSON_ERROR_SIZE, "malformed JSON: %.*s",
			 why ? (int)strcspn((const char *)why, "\n") : 11,
			 why ? (const char *)why : "parse error");
		if (why != NULL)
			yajl_free_error(handle, why);
	}
	yajl_free(handle);
	return check.problem != NULL || status != yajl_status_ok ? -1 : 0;
}

yajl_val json_parse(const char *text, size_t len, char err[JSON_ERROR_SIZE])
{
	char *copy, yerr[128] = "";
	yajl_val root;

	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, JSON_ERROR_SIZE, "malformed JSON: NUL byte");
		return NULL;
	}
	if (json_validate(text, len, err) != 0)
		return NULL;
	copy = secret_dup(text, len); /* yajl_tree_parse wants a C string */
	if (copy == NULL) {
		snprintf(err, JSON_ERROR_SIZE, "out of memory");
		return NULL;
	}
	root = yajl_tree_parse(copy, yerr, sizeof(yerr));
	secret_free(&copy);
	if (root == NULL) {
		yerr[strcspn(yerr, "\n")] = '\0';
		snprintf(err, JSON_ERROR_SIZE, "malformed JSON: %s",
			 yerr[0] ? yerr : "parse error");
		return NULL;
	}
	if (!YAJL_IS_OBJECT(root)) {
		snprintf(err, JSON_ERROR_SIZE, "malformed JSON: %s, not an object",
			 json_type_name(root));
		json_free(root);
		return NULL;
	}
	if (json_has_duplicate_keys(root)) {
		snprintf(err, JSON_ERROR_SIZE, "malformed JSON: repeated key");
		json_free(root);
		return NULL;
	}
	return root;
}

static void json_wipe(yajl_val v)
{
	if (v == NULL)
		return;
	if (YAJL_IS_STRING(v) && v->u.string != NULL) {
		explicit_bzero(v->u.string, strlen(v->u.string));
	} else if (YAJL_IS_NUMBER(v) && v->u.number.r != NULL) {
		explicit_bzero(v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_OBJECT(v)) {
		for (size_t i = 0; i < v->u.object.len; i++) {
			char *key = (char *)v->u.object.keys[i];
			explicit_bzero(key, strlen(key));
			json_wipe(v->u.object.values[i]);
		}
	} else if (YAJL_IS_ARRAY(v)) {
		for (size_t i = 0; i < v->u.array.len; i++)
			json_wipe(v->u.array.values[i]);
	}
}

void json_free(yajl_val root)
{
	json_wipe(root);
	yajl_tree_free(root);
}

yajl_val json_member(yajl_val object, const char *key)
{
	if (object == NULL || !YAJL_IS_OBJECT(object))
		return NULL;
	for (size_t i = 0; i < object->u.object.len; i++)
		if (strcmp(object->u.object.keys[i], key) == 0)
			return object->u.object.values[i];
	return NULL;
}

/* The member key of object when it has the type is_type accepts: 0 with *out,
 * 1 when absent, -1 with err when of another type. */
static int json_typed_member(yajl_val object, const char *key, const char *path,
			     int (*is_type)(yajl_val), const char *want, yajl_val *out,
			     char err[JSON_ERROR_SIZE])
{
	yajl_val v = json_member(object, key);

	if (v == NULL)
		return 1;
	if (!is_type(v)) {
		snprintf(err, JSON_ERROR_SIZE, "field %s is %s, not %s", path, json_type_name(v),
			 want);
		return -1;
	}
	*out = v;
	return 0;
}

static int json_is_string(yajl_val v)
{
	return YAJL_IS_STRING(v);
}

static int json_is_bool(yajl_val v)
{
	return YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v);
}

static int json_is_integer(yajl_val v)
{
	return YAJL_IS_INTEGER(v);
}

static int json_is_object(yajl_val v)
{
	return YAJL_IS_OBJECT(v);
}

int json_get_string(yajl_val object, const char *key, const char *path, const char **out,
		    char err[JSON_ERROR_SIZE])
{
	yajl_val v;
	int rc = json_typed_member(object, key, path, json_is_string, "a string", &v, err);

	if (rc == 0)
		*out = v->u.string;
	return rc;
}

int json_get_bool(yajl_val object, const char *key, const char *path, bool *out,
		  char err[JSON_ERROR_SIZE])
{
	yajl_val v;
	int rc = json_typed_member(object, key, path, json_is_bool, "a boolean", &v, err);

	if (rc == 0)
		*out = YAJL_IS_TRUE(v);
	return rc;
}

int json_get_integer(yajl_val object, const char *key, const char *path, long long *out,
		     char err[JSON_ERROR_SIZE])
{
	yajl_val v;
	int rc = json_typed_member(object, key, path, json_is_integer, "an integer", &v, err);

	if (rc == 0)
		*out = v->u.number.i;
	return rc;
}

int json_get_object(yajl_val object, const char *key, const char *path, yajl_val *out,
		    char err[JSON_ERROR_SIZE])
{
	return json_typed_member(object, key, path, json_is_object, "an object", out, err);
}

static void *json_gen_malloc(void *ctx, size_t size)
{
	(void)ctx;
	return secure_malloc(size);
}

static void *json_gen_realloc(void *ctx, void *ptr, size_t size)
{
	(void)ctx;
	return secure_realloc(ptr, size);
}

static void json_gen_free(void *ctx, void *ptr)
{
	(void)ctx;
	secure_free(ptr);
}

char *json_object_of_strings(const char *const *pairs, size_t *len)
{
	yajl_gen gen = yajl_gen_alloc(&json_wiping);
	const unsigned char *buf;
	char *out = NULL;
	size_t n;
	int ok;

	if (gen == NULL)
		return NULL;
	/* Strings from users are checked, so the server never gets broken UTF-8. */
	yajl_gen_config(gen, yajl_gen_validate_utf8, 1);
	ok = yajl_gen_map_open(gen) == yajl_gen_status_ok;
	for (size_t i = 0; ok && pairs[i] != NULL; i += 2) {
		ok = yajl_gen_string(gen, (const unsigned char *)pairs[i], strlen(pairs[i])) ==
			 yajl_gen_status_ok &&
		     yajl_gen_string(gen, (const unsigned char *)pairs[i + 1],
				     strlen(pairs[i + 1])) == yajl_gen_status_ok;
	}
	if (ok && yajl_gen_map_close(gen) == yajl_gen_status_ok &&
	    yajl_gen_get_buf(gen, &buf, &n) == yajl_gen_status_ok) {
		out = secret_dup((const char *)buf, n);
		*len = n;
	}
	yajl_gen_free(gen); /* its buffer goes through json_gen_free: wiped */
	return out;
}
