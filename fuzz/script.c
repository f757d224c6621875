/*
 * script.c -- the fuzz targets' script reader (see script.h).
 */
#include "script.h"

#include <dirent.h>
#include <string.h>

void script_init(struct script *script, const uint8_t *data, size_t size)
{
	script->data = data;
	script->size = size;
	script->pos = 0;
	/* Bytes before the first operation are a comment. */
	while (script->pos < size &&
	       !(data[script->pos] == '~' && (script->pos == 0 || data[script->pos - 1] == '\n')))
		script->pos++;
}

bool script_next(struct script *script, struct script_op *op)
{
	const uint8_t *d = script->data;
	size_t start, end, nl;

	if (script->pos >= script->size)
		return false;
	start = script->pos + 1; /* after '~' */
	end = start;
	while (end < script->size && !(d[end] == '~' && d[end - 1] == '\n'))
		end++;
	script->pos = end;
	/* The newline before the next '~' separates; one at the end of the input too. */
	if (end > start && d[end - 1] == '\n')
		end--;
	for (nl = start; nl < end && d[nl] != '\n'; nl++)
		;
	op->head = (const char *)d + start;
	op->head_len = nl - start;
	if (nl < end) {
		op->payload = d + nl + 1;
		op->payload_len = end - nl - 1;
	} else {
		op->payload = d + end;
		op->payload_len = 0;
	}
	return true;
}

bool script_word(const struct script_op *op, unsigned n, const char **word, size_t *len)
{
	size_t i = 0;

	for (unsigned k = 0;; k++) {
		size_t s;

		while (i < op->head_len && (op->head[i] == ' ' || op->head[i] == '\r'))
			i++;
		if (i >= op->head_len)
			return false;
		s = i;
		while (i < op->head_len && op->head[i] != ' ' && op->head[i] != '\r')
			i++;
		if (k == n) {
			*word = op->head + s;
			*len = i - s;
			return true;
		}
	}
}

bool script_is(const struct script_op *op, const char *name)
{
	const char *w;
	size_t len;

	return script_word(op, 0, &w, &len) && len == strlen(name) && memcmp(w, name, len) == 0;
}

bool script_arg(const struct script_op *op, const char *key, const char **value, size_t *len)
{
	size_t klen = strlen(key);
	const char *w;
	size_t wlen;

	for (unsigned n = 1; script_word(op, n, &w, &wlen); n++) {
		if (wlen < klen || memcmp(w, key, klen) != 0)
			continue;
		if (wlen == klen) {
			*value = w + wlen;
			*len = 0;
			return true;
		}
		if (w[klen] == '=') {
			*value = w + klen + 1;
			*len = wlen - klen - 1;
			return true;
		}
	}
	return false;
}

static bool script_parse_num(const char *w, size_t len, long *out)
{
	long n = 0;
	bool neg = false;
	size_t i = 0;

	if (len > 0 && w[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i >= len)
		return false;
	for (; i < len; i++) {
		if (w[i] < '0' || w[i] > '9')
			return false;
		if (n < 100000000000L)
			n = n * 10 + (w[i] - '0');
	}
	*out = neg ? -n : n;
	return true;
}

static long script_clamp(long n, long min, long max)
{
	return n < min ? min : n > max ? max : n;
}

long script_num(const struct script_op *op, const char *key, long dflt, long min, long max)
{
	const char *v;
	size_t len;
	long n;

	if (!script_arg(op, key, &v, &len) || !script_parse_num(v, len, &n))
		return dflt;
	return script_clamp(n, min, max);
}

long script_pos_num(const struct script_op *op, long dflt, long min, long max)
{
	const char *w;
	size_t len;
	long n;

	if (!script_word(op, 1, &w, &len) || !script_parse_num(w, len, &n))
		return dflt;
	return script_clamp(n, min, max);
}

void script_copy(const char *word, size_t len, char *out, size_t size)
{
	if (len >= size)
		len = size - 1;
	memcpy(out, word, len);
	out[len] = '\0';
}

int script_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	if (dir == NULL)
		return -1;
	while (readdir(dir) != NULL)
		n++;
	closedir(dir);
	return n;
}
