/* main.c - the program: find the scripts, build the loop and the Lua
 * runtime, run lua/daemon.lua's main() as the first task, and turn signals
 * into runner calls.  Everything a user can configure is decided in Lua;
 * this file only owns process-level concerns (signals, reload swap, exit).
 *
 * Exit codes (also in docs/operations.md): whatever main() returns, else
 * 70 when a script fails to load or main() raises, 143/130 when a second
 * TERM/INT forces an immediate exit. */
#include <curl/curl.h>
#include <lauxlib.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "modules.h"
#include "runtime.h"

#ifndef KBSYNCD_SCRIPTS_DIR
#define KBSYNCD_SCRIPTS_DIR "/usr/local/share/kbsyncd/lua"
#endif

static struct {
    loop_t *loop;
    runtime_t *rt;      /* the runtime in charge */
    runtime_t *next_rt; /* a validated replacement waiting for rt to fade */
    char scripts[PATH_MAX];
    const char **args;
    int exit_code;
    int term_count;
    int term_signo; /* the first TERM/INT, 0 before it */
} app;

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --scripts, then $KBSYNCD_SCRIPTS, then ../lua beside the binary (a build
 * tree), then ../share/kbsyncd/lua (an install), then the built-in path. */
static void find_scripts(const char *argv0, const char *flag)
{
    const char *env = getenv("KBSYNCD_SCRIPTS");
    if (flag) {
        snprintf(app.scripts, sizeof app.scripts, "%s", flag);
        return;
    }
    if (env && *env) {
        snprintf(app.scripts, sizeof app.scripts, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) exe[n] = 0;
    else if (!realpath(argv0, exe)) exe[0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
        *slash = 0;
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof cand, "%s/../lua", exe);
        if (is_dir(cand) && realpath(cand, app.scripts)) return;
        snprintf(cand, sizeof cand, "%s/../share/kbsyncd/lua", exe);
        if (is_dir(cand) && realpath(cand, app.scripts)) return;
    }
    snprintf(app.scripts, sizeof app.scripts, "%s", KBSYNCD_SCRIPTS_DIR);
}

static void main_done(runtime_t *rt, int ok, lua_State *co, void *ud);

static void hook(loop_t *l, void *data)
{
    (void)l; (void)data;
    if (app.rt) runtime_run_ready(app.rt);
}

static void signal_runner(const char *name)
{
    const char *args[] = {name, NULL};
    char err[4096];
    if (app.rt && runtime_call(app.rt, "on_signal", args, err, sizeof err) < 0)
        log_event(LOG_ERROR, "signal_handler_failed", "signal", name, "error", err, NULL);
}

static void on_term(loop_t *l, int signo, void *data)
{
    (void)data;
    if (++app.term_count > 1) {
        log_event(LOG_WARN, "forced_exit", "signal", signo == SIGINT ? "INT" : "TERM", NULL);
        app.exit_code = 128 + signo;
        loop_stop(l);
        return;
    }
    app.term_signo = signo;
    signal_runner(signo == SIGINT ? "INT" : "TERM");
}

/* HUP: build the new runtime first; the old one fades only if it loads. */
static void on_hup(loop_t *l, int signo, void *data)
{
    (void)signo; (void)data;
    char err[4096];
    if (app.next_rt) return; /* a reload is already under way */
    runtime_t *fresh = runtime_new(l, app.scripts, err, sizeof err);
    if (!fresh || runtime_load_runner(fresh, err, sizeof err) < 0 ||
        runtime_call(fresh, "prepare_reload", app.args, err, sizeof err) < 0) {
        log_event(LOG_ERROR, "reload_failed", "error", err, "action",
                  "fix the config or scripts and send HUP again; the running config stays", NULL);
        runtime_free(fresh);
        return;
    }
    app.next_rt = fresh;
    signal_runner("HUP");
}

static void main_done(runtime_t *rt, int ok, lua_State *co, void *ud)
{
    (void)rt; (void)ud;
    if (!ok) {
        app.exit_code = 70;
    } else if (lua_type(co, -1) == LUA_TSTRING && strcmp(lua_tostring(co, -1), "reload") == 0 &&
               app.next_rt) {
        app.exit_code = -1; /* swap in the loop's next turn, outside this task */
    } else {
        app.exit_code = lua_isinteger(co, -1) ? (int)lua_tointeger(co, -1) : 0;
    }
    loop_stop(app.loop);
}

int main(int argc, char **argv)
{
    const char *scripts_flag = NULL;
    const char **args = calloc((size_t)argc + 1, sizeof *args);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scripts") == 0 && i + 1 < argc) scripts_flag = argv[++i];
        else if (strncmp(argv[i], "--scripts=", 10) == 0) scripts_flag = argv[i] + 10;
        else args[n++] = argv[i];
    }
    args[n] = NULL;
    app.args = args;
    find_scripts(argv[0], scripts_flag);
    signal(SIGPIPE, SIG_IGN);
    /* A core file would hold the token: never write one. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
#ifdef __GLIBC__
    /* Blocks of 64 KiB and more (HTTP bodies, the state file, the kv maps)
     * get mappings of their own, which go back to the OS when freed.
     * Setting the threshold also stops glibc from raising it after such a
     * block is freed, which would put the next big blocks on the heap,
     * where the small objects around them keep their pages resident. */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
#endif
    curl_global_init(CURL_GLOBAL_DEFAULT);

    app.loop = loop_new();
    if (!app.loop) {
        fprintf(stderr, "kbsyncd: cannot create the event loop\n");
        return 70;
    }
    loop_set_hook(app.loop, hook, NULL);
    loop_signal(app.loop, SIGTERM, on_term, NULL);
    loop_signal(app.loop, SIGINT, on_term, NULL);
    loop_signal(app.loop, SIGHUP, on_hup, NULL);

    char err[4096];
    app.rt = runtime_new(app.loop, app.scripts, err, sizeof err);
    if (!app.rt || runtime_load_runner(app.rt, err, sizeof err) < 0) {
        fprintf(stderr, "kbsyncd: cannot load the scripts in %s: %s\n", app.scripts, err);
        runtime_free(app.rt);
        loop_free(app.loop);
        free(args);
        return 70;
    }
    runtime_start_main(app.rt, args, main_done, NULL);
    for (;;) {
        app.exit_code = 0;
        loop_run(app.loop);
        if (app.exit_code != -1) break;
        /* Reload: the old runtime's main returned "reload"; the old state
         * goes (cancelling whatever it still ran), the new one starts. */
        runtime_free(app.rt);
        app.rt = app.next_rt;
        app.next_rt = NULL;
        runtime_start_main(app.rt, args, main_done, NULL);
        /* A TERM that came after the old runtime had committed to the
         * reload (its main had already returned "reload") is handed to the
         * new one, which then stops at once: a TERM always ends the run. */
        if (app.term_signo) signal_runner(app.term_signo == SIGINT ? "INT" : "TERM");
    }
    runtime_free(app.next_rt);
    runtime_free(app.rt);
    host_http_shutdown();
    loop_free(app.loop);
    log_close();
    log_redact_clear();
    curl_global_cleanup();
    free(args);
    return app.exit_code;
}
