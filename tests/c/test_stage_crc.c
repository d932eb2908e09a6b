/* test_stage_crc - the fast CRC-32 equals zlib's for any length, offset
 * and starting value (the fingerprint must not depend on the CPU). */
#include <stdlib.h>
#include <zlib.h>

#include "stage_crc.h"
#include "tap.h"

int main(void)
{
    size_t size = 1 << 20;
    unsigned char *buf = malloc(size);
    int bad = 0;
    srand(32);
    for (size_t i = 0; i < size; i++) buf[i] = (unsigned char)rand();
    for (int t = 0; t < 3000 && !bad; t++) {
        size_t off = (size_t)rand() % 1000;
        size_t len = t < 300 ? (size_t)t : (size_t)rand() % (size - 1000);
        uint32_t start = t % 3 ? (uint32_t)rand() : 0;
        if (stage_crc32(start, buf + off, len) !=
            (uint32_t)crc32(start, buf + off, (uInt)len))
            bad = t + 1;
    }
    TAP_OK(!bad, "3000 random slices agree with zlib (first difference: case %d)", bad);
    TAP_OK(stage_crc32(0, (const unsigned char *)"123456789", 9) == 0xCBF43926u,
           "the check value of CRC-32");
    /* chained calls equal one call */
    uint32_t a = stage_crc32(0, buf, 1000);
    a = stage_crc32(a, buf + 1000, 77777);
    TAP_OK(a == stage_crc32(0, buf, 78777), "chained calls equal one call");
    free(buf);
    return tap_done();
}
