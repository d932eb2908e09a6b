/* tap.h - a tiny TAP producer for the C unit tests.
 *
 * Every test program prints "ok N - what" or "not ok N - what" per check and
 * ends with tap_done(), whose value is the exit code.  tests/run counts these
 * lines across every suite, so a check that is not printed does not count. */
#ifndef KBSYNCD_TAP_H
#define KBSYNCD_TAP_H
#include <stdio.h>

static int tap_n, tap_failed;

#define TAP_OK(cond, ...)                                                      \
    do {                                                                       \
        int tap_c_ = (cond) ? 1 : 0;                                           \
        tap_n++;                                                               \
        if (!tap_c_) tap_failed++;                                             \
        printf("%sok %d - ", tap_c_ ? "" : "not ", tap_n);                     \
        printf(__VA_ARGS__);                                                   \
        printf("\n");                                                          \
        if (!tap_c_) printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__,   \
                            #cond);                                            \
        fflush(stdout);                                                        \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}
#endif
