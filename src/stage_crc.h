/* stage_crc.h - CRC-32 (the gzip/zlib polynomial) as fast as the CPU allows.
 *
 * Same value as zlib's crc32(crc, p, n) - the fingerprint must not depend on
 * the machine - but on x86-64 with PCLMULQDQ it folds 64 bytes per round
 * with carry-less multiplication, about twice zlib's table speed, which
 * matters when the whole staging pass has a budget of ~2 cycles per byte.
 * Pure C. */
#ifndef KBSYNCD_STAGE_CRC_H
#define KBSYNCD_STAGE_CRC_H
#include <stddef.h>
#include <stdint.h>

uint32_t stage_crc32(uint32_t crc, const unsigned char *p, size_t n);
#endif
