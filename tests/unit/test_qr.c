/*
 * test_qr.c -- the terminal QR code is libqrencode's module matrix: every
 * half block, read back, gives the module (or quiet zone) it stands for.
 */
#include "unit.h"

#include "../../engine/qr.h"

#include <qrencode.h>
#include <stdlib.h>

/* Light (1) or dark (0) for upper or lower half of the UTF-8 glyph at *p. */
static int glyph_light(const char **p, int lower)
{
	const char *s = *p;

	if (*s == ' ') {
		*p += 1;
		return 0;
	}
	assert_int_equal((unsigned char)s[0], 0xe2);
	assert_int_equal((unsigned char)s[1], 0x96);
	*p += 3;
	switch ((unsigned char)s[2]) {
	case 0x88: /* full */
		return 1;
	case 0x80: /* upper half */
		return !lower;
	case 0x84: /* lower half */
		return lower;
	}
	fail_msg("unexpected glyph");
	return -1;
}

static void check(const char *text)
{
	QRcode *code = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	char *out = qr_render(text);
	int side = code->width + 2 * QR_QUIET_ZONE;
	const char *line = out;

	assert_non_null(out);
	for (int row = 0; row < (side + 1) / 2; row++) {
		for (int half = 0; half < 2; half++) {
			const char *p = line;
			int y = 2 * row + half;
			for (int x = 0; x < side; x++) {
				int light = glyph_light(&p, half);
				int cx = x - QR_QUIET_ZONE, cy = y - QR_QUIET_ZONE;
				int want = 1;
				if (y < side && cx >= 0 && cy >= 0 && cx < code->width &&
				    cy < code->width)
					want = !(code->data[cy * code->width + cx] & 1);
				assert_int_equal(light, want);
			}
			assert_true(*p == '\n' || *p == '\0');
		}
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	free(out);
	QRcode_free(code);
}

static void test_short_url(void **state)
{
	(void)state;
	check("https://auth.example.com/consent/openid/device-authorization?user_code=BCDFGHJK");
}

static void test_two_kilobyte_url(void **state)
{
	char url[2049];

	(void)state;
	memset(url, 'a', sizeof(url) - 1);
	memcpy(url, "https://a/", 10);
	url[2048] = '\0';
	check(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_short_url),
	    cmocka_unit_test(test_two_kilobyte_url),
	};
	return cmocka_run_group_tests_name("qr", tests, NULL, NULL);
}
