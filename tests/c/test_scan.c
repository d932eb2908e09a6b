/* test_scan.c - the scanner on odd names, symlinks, fifos, unreadable
 * folders and a tree of 10,000 files. */
#include "scan.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[256];

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    chmod(path, 0700); /* an unreadable folder left by a test */
    return remove(path);
}

static void rm_rf(const char *path)
{
    chmod(path, 0700);
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_of(char *buf, size_t len, const char *folder, const char *name)
{
    snprintf(buf, len, "%s/%s%s%s", root, folder, name ? "/" : "",
             name ? name : "");
}

static void mkfolder(const char *folder)
{
    char p[1024];
    path_of(p, sizeof p, folder, NULL);
    if (mkdir(p, 0755) != 0) perror(p);
}

static void write_file(const char *folder, const char *name, const char *data)
{
    char p[1024];
    path_of(p, sizeof p, folder, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        return;
    }
    fputs(data, f);
    fclose(f);
}

static const scan_entry_t *find(const scan_list_t *l, const char *name,
                                size_t len)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->entries[i].name_len == len && !memcmp(l->entries[i].name, name, len))
            return &l->entries[i];
    return NULL;
}

static const scan_list_t *find_folder(const scan_result_t *r, const char *name)
{
    for (size_t i = 0; i < r->folder_count; i++)
        if (!strcmp(r->folders[i].dir_name, name)) return &r->folders[i];
    return NULL;
}

static void test_odd_names(void)
{
    static const char *names[] = {"with space.csv", "quo\"te's.csv",
                                  "new\nline.csv", "ünïcödé €.csv",
                                  "-leading-dash.csv", ".hidden.csv"};
    char longname[256];
    memset(longname, 'x', 255);
    memcpy(longname + 251, ".csv", 5); /* exactly 255 bytes */
    mkfolder("odd");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        write_file("odd", names[i], "a,b\n1,2\n");
    write_file("odd", longname, "a\n");

    scan_list_t l;
    TAP_OK(scan_folder(root, "odd", 3, &l) == 0, "odd folder lists");
    TAP_OK(l.count == 7, "every odd name is listed (%zu)", l.count);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const scan_entry_t *e = find(&l, names[i], strlen(names[i]));
        TAP_OK(e && e->type == SCAN_FILE && e->size == 8,
               "odd name %zu is a file of 8 bytes", i);
    }
    const scan_entry_t *e = find(&l, longname, 255);
    TAP_OK(e && e->name_len == 255 && e->name[255] == '\0',
           "255-byte name is counted and terminated");
    TAP_OK(e && e->mtime_ns > 1000000000LL * 1000000000LL,
           "mtime is in nanoseconds");
    struct stat st;
    char p[1024];
    path_of(p, sizeof p, "odd", longname);
    TAP_OK(e && stat(p, &st) == 0 && e->ino == (uint64_t)st.st_ino &&
               e->dev == (uint64_t)st.st_dev && e->mode == (uint32_t)st.st_mode,
           "ino, dev and mode match lstat");
    scan_list_free(&l);

    /* A folder name with a newline works too. */
    mkfolder("odd\nfolder");
    write_file("odd\nfolder", "x.csv", "1\n");
    TAP_OK(scan_folder(root, "odd\nfolder", 10, &l) == 0 && l.count == 1,
           "folder name with a newline lists");
    scan_list_free(&l);
}

static void test_symlinks_and_fifo(void)
{
    char p[1024], q[1024];
    mkfolder("links");
    write_file("links", "real.csv", "a\n");
    path_of(p, sizeof p, "links", "to-real.csv");
    TAP_OK(symlink("real.csv", p) == 0, "symlink created");
    path_of(p, sizeof p, "links", "loop-a");
    TAP_OK(symlink("loop-b", p) == 0, "loop a created");
    path_of(p, sizeof p, "links", "loop-b");
    TAP_OK(symlink("loop-a", p) == 0, "loop b created");
    path_of(p, sizeof p, "links", "dangling");
    TAP_OK(symlink("/nonexistent/nowhere", p) == 0, "dangling link created");
    path_of(p, sizeof p, "links", "pipe");
    TAP_OK(mkfifo(p, 0644) == 0, "fifo created");
    path_of(p, sizeof p, "links", "sub");
    mkdir(p, 0755);

    /* A symlink in the root pointing at a folder is not a folder. */
    path_of(p, sizeof p, "links", NULL);
    path_of(q, sizeof q, "linked-folder", NULL);
    TAP_OK(symlink(p, q) == 0, "root symlink to a folder created");

    scan_list_t l;
    TAP_OK(scan_folder(root, "links", 5, &l) == 0, "links folder lists");
    const scan_entry_t *e = find(&l, "to-real.csv", 11);
    TAP_OK(e && e->type == SCAN_SYMLINK && e->size == strlen("real.csv"),
           "symlink is reported as such, lstat size");
    e = find(&l, "loop-a", 6);
    TAP_OK(e && e->type == SCAN_SYMLINK, "symlink loop is not followed");
    e = find(&l, "dangling", 8);
    TAP_OK(e && e->type == SCAN_SYMLINK, "dangling symlink is listed");
    e = find(&l, "pipe", 4);
    TAP_OK(e && e->type == SCAN_FIFO, "fifo typed as fifo");
    e = find(&l, "sub", 3);
    TAP_OK(e && e->type == SCAN_DIR, "deeper folder typed as dir");
    TAP_OK(!strcmp(scan_type_name(SCAN_FIFO), "fifo") &&
               !strcmp(scan_type_name(SCAN_SYMLINK), "symlink"),
           "type names");
    scan_list_free(&l);

    TAP_OK(scan_folder(root, "linked-folder", 13, &l) != 0 && l.err != 0 &&
               l.count == 0,
           "listing a symlinked folder fails instead of following (%s)",
           strerror(l.err));
    scan_list_free(&l);
}

static void test_bad_arguments(void)
{
    scan_list_t l;
    TAP_OK(scan_folder(root, "a/b", 3, &l) == EINVAL, "name with / refused");
    TAP_OK(scan_folder(root, "..", 2, &l) == EINVAL, ".. refused");
    TAP_OK(scan_folder(root, "nope", 4, &l) == ENOENT && l.err == ENOENT,
           "missing folder gives ENOENT");
    scan_list_free(&l);
    scan_result_t r;
    TAP_OK(scan_root("/nonexistent/root", &r) == ENOENT && r.folder_count == 0,
           "missing root gives ENOENT");
    TAP_OK(scan_folder(root, "", 0, &l) == 0 && find(&l, "odd", 3) &&
               find(&l, "odd", 3)->type == SCAN_DIR,
           "\"\" lists the root itself");
    scan_list_free(&l);
}

/* An unreadable folder must be an error entry.  root ignores permissions,
 * so when we are root the check runs in a child that gave them up. */
static int unreadable_check(void)
{
    scan_result_t r;
    if (scan_root(root, &r) != 0) return 10;
    const scan_list_t *f = find_folder(&r, "locked");
    int rc = !f ? 11 : f->err != EACCES ? 12 : 0;
    const scan_list_t *ok = find_folder(&r, "odd");
    if (!rc && (!ok || ok->err || ok->count != 7)) rc = 13;
    scan_result_free(&r);
    return rc;
}

static void test_unreadable(void)
{
    mkfolder("locked");
    write_file("locked", "secret.csv", "x\n");
    char p[1024];
    path_of(p, sizeof p, "locked", NULL);
    chmod(p, 0);
    chmod(root, 0755);
    int rc;
    if (geteuid() != 0) {
        rc = unreadable_check();
    } else {
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(20);
            _exit(unreadable_check());
        }
        int status = 0;
        waitpid(pid, &status, 0);
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 30;
    }
    TAP_OK(rc == 0, "unreadable folder is an EACCES entry, others list (%d)", rc);
    chmod(p, 0755);
}

static void test_root_scan(void)
{
    write_file("", "root-file.csv", "a\n");
    scan_result_t r;
    TAP_OK(scan_root(root, &r) == 0, "root scans");
    const scan_list_t *odd = find_folder(&r, "odd");
    TAP_OK(odd && odd->err == 0 && odd->count == 7, "odd folder in the scan");
    TAP_OK(find(&r.root_others, "root-file.csv", 13) &&
               find(&r.root_others, "root-file.csv", 13)->type == SCAN_FILE,
           "file in the root is reported among root_others");
    const scan_entry_t *lf = find(&r.root_others, "linked-folder", 13);
    TAP_OK(lf && lf->type == SCAN_SYMLINK && !find_folder(&r, "linked-folder"),
           "symlinked folder in the root is a symlink, not a folder");
    for (size_t i = 0; i < r.root_others.count; i++)
        if (r.root_others.entries[i].type == SCAN_DIR) TAP_OK(0, "dir in others");
    scan_result_free(&r);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 10,000 files in 100 folders.  Only correctness is asserted; the time is
 * printed as a diagnostic (timings belong to bench/, not to tests). */
static void test_many(void)
{
    char big[512], p[1024];
    snprintf(big, sizeof big, "%s/big", root);
    mkdir(big, 0755);
    for (int f = 0; f < 100; f++) {
        snprintf(p, sizeof p, "%s/f%03d", big, f);
        mkdir(p, 0755);
        for (int i = 0; i < 100; i++) {
            snprintf(p, sizeof p, "%s/f%03d/table_%03d.csv", big, f, i);
            int fd = open(p, O_CREAT | O_WRONLY, 0644);
            if (fd >= 0) close(fd);
        }
    }
    scan_result_t r;
    double t0 = now_ms();
    int err = scan_root(big, &r);
    double t1 = now_ms();
    size_t total = 0;
    for (size_t i = 0; i < r.folder_count; i++) total += r.folders[i].count;
    TAP_OK(err == 0 && r.folder_count == 100 && total == 10000,
           "10,000 files in 100 folders scanned (%zu folders, %zu files)",
           r.folder_count, total);
    printf("# scan_root of 10,000 files: %.1f ms\n", t1 - t0);
    scan_result_free(&r);
}

int main(void)
{
    snprintf(root, sizeof root, "%s/kbsyncd-scan-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_odd_names();
    test_symlinks_and_fifo();
    test_bad_arguments();
    test_unreadable();
    test_root_scan();
    test_many();
    rm_rf(root);
    return tap_done();
}
