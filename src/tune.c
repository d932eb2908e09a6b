/* tune.c - see tune.h.
 *
 * Why each setting, measured on an idle `kbsyncd run` with 1,000 CSVs in
 * 100 folders (bench/idle.py; docs/benchmarks.md):
 *
 *   GLIBC_TUNABLES=glibc.malloc.tcache_count=0
 *     glibc keeps recently freed small blocks in a per-thread cache.  They
 *     count as in use, so malloc_trim() cannot give back the pages they sit
 *     on, and after the start-up burst they are spread over the whole heap:
 *     0.45 MB stayed resident for nothing.  The cost is a slower malloc of
 *     small blocks, which the hot paths do not use (staging and uploads
 *     work in large buffers).
 *   GNUTLS_NO_IMPLICIT_INIT=1
 *     Debian's libcurl uses OpenSSL, but links libldap and librtmp, which
 *     pull in GnuTLS, whose constructor initialises it in every process:
 *     0.8 MB resident, never used by kbsyncd.
 *
 * A user's own GLIBC_TUNABLES are kept (ours is appended unless they set
 * the tcache themselves), and so is a GNUTLS_NO_IMPLICIT_INIT they set.
 * Other commands are short-lived and are left alone; so is a run under
 * valgrind, whose re-executed image would escape the tool. */
#include "tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUNED_MARK "KBSYNCD_TUNED"

/* True unless an argument names another command (cli.lua has the full
 * grammar; "run" is its default, so a plain `kbsyncd -c x` is a run). */
static int is_run(int argc, char **argv)
{
    static const char *const others[] = {"once",   "check",   "status",    "inspect", "--exec",
                                         "--help", "-h",      "--version", "-V",      NULL};
    for (int i = 1; i < argc; i++)
        for (int k = 0; others[k]; k++)
            if (strcmp(argv[i], others[k]) == 0) return 0;
    return 1;
}

char *tune_tunables(const char *theirs)
{
    static const char ours[] = "glibc.malloc.tcache_count=0";
    if (!theirs || !*theirs) return strdup(ours);
    if (strstr(theirs, "glibc.malloc.tcache_count")) return strdup(theirs);
    size_t n = strlen(theirs) + sizeof ours + 1;
    char *both = malloc(n);
    if (both) snprintf(both, n, "%s:%s", theirs, ours);
    return both;
}

void tune_process(int argc, char **argv)
{
#if defined(__linux__) && defined(__GLIBC__)
    if (getenv(TUNED_MARK)) {
        unsetenv(TUNED_MARK); /* this is the tuned image */
        return;
    }
    if (!is_run(argc, argv)) return;
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) return;

    char *tunables = tune_tunables(getenv("GLIBC_TUNABLES"));
    if (!tunables) return;
    setenv("GLIBC_TUNABLES", tunables, 1);
    free(tunables);
    setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
    setenv(TUNED_MARK, "1", 1);
    execv("/proc/self/exe", argv);
    /* still here: run as we are, with the settings in place for nothing */
    unsetenv(TUNED_MARK);
#else
    (void)argc;
    (void)argv;
#endif
}
