/* test_tune.c - the GLIBC_TUNABLES value `kbsyncd run` re-executes with. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tune.h"

static int is(const char *theirs, const char *want)
{
    char *got = tune_tunables(theirs);
    int ok = got && strcmp(got, want) == 0;
    if (!ok) printf("#   got '%s', want '%s'\n", got ? got : "(null)", want);
    free(got);
    return ok;
}

int main(void)
{
    TAP_OK(is(NULL, "glibc.malloc.tcache_count=0"), "unset: ours alone");
    TAP_OK(is("", "glibc.malloc.tcache_count=0"), "empty: ours alone");
    TAP_OK(is("glibc.malloc.trim_threshold=131072",
              "glibc.malloc.trim_threshold=131072:glibc.malloc.tcache_count=0"),
           "the user's tunables first, ours appended");
    TAP_OK(is("glibc.malloc.tcache_count=3:glibc.malloc.check=0",
              "glibc.malloc.tcache_count=3:glibc.malloc.check=0"),
           "a tcache setting of the user's wins");
    return tap_done();
}
