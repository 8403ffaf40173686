/* hex.c — see hex.h. */
#include "hex.h"

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int im_hex_decode(const char *hex, size_t len, unsigned char *out, size_t n)
{
	size_t i;

	if (hex == NULL || len != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		int hi = digit_value(hex[2 * i]), lo = digit_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
