/* cpu.h - which SIMD variants this CPU can run, for the tests that compare
 * every variant with the reference.  A variant the CPU lacks is a skip
 * whose reason starts with "CPU lacks " (the one kind of skip CI accepts);
 * a variant the CPU has but the code refuses is a failure. */
#ifndef KBSYNCD_TEST_CPU_H
#define KBSYNCD_TEST_CPU_H
#include <stdio.h>
#include <string.h>

#include "tap.h"

/* 1 when name is a SIMD variant ("ssse3", "avx2") this CPU runs, 0 when it
 * is one the CPU lacks, -1 when name is not a SIMD variant at all. */
static inline int cpu_runs(const char *name)
{
    if (strcmp(name, "ssse3") != 0 && strcmp(name, "avx2") != 0) return -1;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (strcmp(name, "ssse3") == 0) return __builtin_cpu_supports("ssse3") ? 1 : 0;
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

/* A variant the selector refused (select_rc < 0): a skip when the CPU lacks
 * it, a failure when the CPU has it.  */
static inline void cpu_refused(const char *impl, const char *selector)
{
    if (cpu_runs(impl) == 0) {
        char reason[64];
        snprintf(reason, sizeof reason, "CPU lacks %s", impl);
        TAP_SKIP(reason, "%s: every check of this variant", impl);
    } else {
        TAP_OK(0, "%s: %s accepts it (this CPU runs it)", impl, selector);
    }
}
#endif
