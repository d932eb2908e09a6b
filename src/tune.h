/* tune.h - settings a long-running daemon needs before the process starts.
 *
 * Some libraries read their settings from the environment when the
 * process starts, before main(): glibc's allocator tunables and GnuTLS's
 * implicit initialisation.  tune_process() makes `kbsyncd run` execute
 * itself once more with them set (same PID, same arguments); tune.c says
 * which and why. */
#ifndef KBSYNCD_TUNE_H
#define KBSYNCD_TUNE_H

/* Returns only when no re-execution happened (another command, already
 * tuned, under valgrind, not Linux/glibc, or exec failed). */
void tune_process(int argc, char **argv);

/* The GLIBC_TUNABLES value to run with, given the user's (NULL if unset):
 * theirs with ours appended, unless they set the tcache themselves.  A
 * string to free(), or NULL when out of memory. */
char *tune_tunables(const char *theirs);
#endif
