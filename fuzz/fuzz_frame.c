/*
 * fuzz_frame.c -- libFuzzer target for the frame parser shared by the shim and
 * the helper: any byte stream is parsed frame by frame, as both sides do.
 */
#include "../protocol/frame.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		struct frame frame;
		size_t used = 0;
		const char *why = NULL;
		enum frame_parse_status st =
		    frame_parse(data + off, size - off, &frame, &used, &why);

		if (st != FRAME_PARSE_OK)
			break;
		if (used < FRAME_HEADER_SIZE || used > size - off ||
		    frame.len != used - FRAME_HEADER_SIZE ||
		    memchr(frame.payload, '\0', frame.len) != NULL)
			__builtin_trap();
		if (frame.type == FRAME_RESULT) {
			enum auth_result result;
			auth_result_from_name(frame.payload, frame.len, &result);
		}
		off += used;
	}
	return 0;
}
