/* tap.h - a tiny TAP producer for the C unit tests.
 *
 * Every test program prints "ok N - what" or "not ok N - what" per check and
 * ends with tap_done(), whose value is the exit code.  tests/run counts these
 * lines across every suite, so a check that is not printed does not count.
 * A check that cannot run here is TAP_SKIP(reason, what...): a skip with its
 * reason, never a pass.  A program with nothing to check on this system
 * returns tap_skip_all(reason) instead of tap_done(); tap_done() fails a
 * program that checked nothing, so a loop that never ran is not a pass. */
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

/* Reasons that start with "CPU lacks " are the only skips CI accepts. */
#define TAP_SKIP(reason, ...)                                                  \
    do {                                                                       \
        tap_n++;                                                               \
        printf("ok %d - ", tap_n);                                             \
        printf(__VA_ARGS__);                                                   \
        printf(" # SKIP %s\n", (reason));                                      \
        fflush(stdout);                                                        \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    if (tap_n == 0) printf("# no checks ran\n");
    fflush(stdout);
    return tap_failed || tap_n == 0 ? 1 : 0;
}

/* The whole program is skipped (its value is the exit code, 0). */
static inline int tap_skip_all(const char *reason)
{
    printf("1..0 # SKIP %s\n", reason);
    fflush(stdout);
    return 0;
}
#endif
