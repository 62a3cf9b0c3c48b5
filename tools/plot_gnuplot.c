/* plot_gnuplot.c -- drawing a figure's CSV with plots/<figure>.gp. gnuplot
 * runs with fork/exec: no shell, and every user string reaches it only as a
 * quoted gnuplot string inside -e, never as a command line to parse. */
#include "plot.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef COLLIDE_PLOTS_DIR
#define COLLIDE_PLOTS_DIR "plots"
#endif

/* ------------------------------------------------------------ variables */

static void put(plot_vars *v, const char *s, size_t n)
{
    if (v->len + n + 1 > v->cap) {
        size_t cap = v->cap ? v->cap : 1024;
        while (v->len + n + 1 > cap)
            cap *= 2;
        char *b = realloc(v->buf, cap);
        if (!b) {
            fputs("collide-plot: out of memory\n", stderr);
            exit(CLI_EXIT_FAIL);
        }
        v->buf = b;
        v->cap = cap;
    }
    memcpy(v->buf + v->len, s, n);
    v->len += n;
    v->buf[v->len] = 0;
}

static void puts_(plot_vars *v, const char *s) { put(v, s, strlen(s)); }

/* A gnuplot single-quoted string: '' stands for ', and nothing else is
 * special. A line break is spliced in as the expression '...'."\n"'...'
 * (a raw one would end the -e command); a carriage return becomes a space. */
void plot_var_s(plot_vars *v, const char *name, const char *value)
{
    puts_(v, name);
    puts_(v, "='");
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\'')
            puts_(v, "''");
        else if (*p == '\n')
            puts_(v, "'.\"\\n\".'");
        else if (*p == '\r')
            puts_(v, " ");
        else
            put(v, p, 1);
    }
    puts_(v, "'; ");
}

void plot_var_f(plot_vars *v, const char *name, double value)
{
    char buf[64];
    if (isfinite(value))
        snprintf(buf, sizeof buf, "=%.17g; ", value);
    else
        snprintf(buf, sizeof buf, "=NaN; ");
    puts_(v, name);
    puts_(v, buf);
}

void plot_var_i(plot_vars *v, const char *name, int64_t value)
{
    char buf[96];
    snprintf(buf, sizeof buf, "%s=%lld; ", name, (long long)value);
    puts_(v, buf);
}

void plot_var_ps(plot_vars *v, const char *name, int p, const char *value)
{
    char n[64];
    snprintf(n, sizeof n, "%s%d", name, p);
    plot_var_s(v, n, value);
}

void plot_var_pi(plot_vars *v, const char *name, int p, int64_t value)
{
    char n[64];
    snprintf(n, sizeof n, "%s%d", name, p);
    plot_var_i(v, n, value);
}

void plot_var_pf(plot_vars *v, const char *name, int p, double value)
{
    char n[64];
    snprintf(n, sizeof n, "%s%d", name, p);
    plot_var_f(v, n, value);
}

void plot_vars_free(plot_vars *v)
{
    free(v->buf);
    memset(v, 0, sizeof *v);
}

/* ------------------------------------------------------------ finding */

static int is_file(const char *p, int exec)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && (!exec || access(p, X_OK) == 0);
}

/* plots/: $COLLIDE_PLOTS, then beside the executable (build/bin/../../plots
 * is <source>/plots), then the source folder baked in at build time. */
static int find_plots(char *out, size_t n)
{
    char probe[PATH_MAX + 32];
    const char *env = getenv("COLLIDE_PLOTS");
    if (env && env[0]) {
        snprintf(out, n, "%s", env);
        snprintf(probe, sizeof probe, "%s/common.gp", out);
        return is_file(probe, 0);
    }
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            static const char *rel[] = {"/../../plots", "/../../../plots", "/../share/collide/plots"};
            for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
                snprintf(out, n, "%s%s", exe, rel[i]);
                snprintf(probe, sizeof probe, "%s/common.gp", out);
                if (is_file(probe, 0))
                    return 1;
            }
        }
    }
    snprintf(out, n, "%s", COLLIDE_PLOTS_DIR);
    snprintf(probe, sizeof probe, "%s/common.gp", out);
    return is_file(probe, 0);
}

/* gnuplot: $COLLIDE_GNUPLOT (a path; a missing one means "no gnuplot"),
 * else the first gnuplot on PATH. */
static int find_gnuplot(char *out, size_t n)
{
    const char *env = getenv("COLLIDE_GNUPLOT");
    if (env) {
        snprintf(out, n, "%s", env);
        return env[0] && is_file(out, 1);
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        snprintf(out, n, "%.*s/gnuplot", (int)len, len ? path : ".");
        if (is_file(out, 1))
            return 1;
        path += len + (end ? 1 : 0);
    }
    return 0;
}

/* ------------------------------------------------------------ running */

/* Run gnuplot; its messages are collected into msg. Returns the exit
 * status, or -1 when it could not be started. */
static int run_gnuplot(const char *exe, const char *vars, const char *script, char *msg,
                       size_t n)
{
    int fd[2];
    msg[0] = 0;
    if (pipe(fd))
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], 2);
        dup2(fd[1], 1);
        close(fd[0]), close(fd[1]);
        /* -d: ignore the user's ~/.gnuplot, so every figure looks the same */
        execl(exe, exe, "-d", "-e", vars, script, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t got = 0;
    char buf[4096];
    ssize_t k;
    while ((k = read(fd[0], buf, sizeof buf)) > 0 || (k < 0 && errno == EINTR)) {
        if (k <= 0)
            continue;
        /* keep the tail: the error is at the end */
        for (ssize_t i = 0; i < k; i++) {
            if (got + 1 >= n) {
                memmove(msg, msg + n / 2, got - n / 2);
                got -= n / 2;
            }
            msg[got++] = buf[i];
        }
    }
    msg[got] = 0;
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Width and height from a PNG's IHDR; 0 when it is not a PNG. */
static void png_size(const char *path, int *w, int *h)
{
    unsigned char b[24];
    *w = *h = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t k = fread(b, 1, sizeof b, f);
    fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (k < 24 || memcmp(b, sig, 8) || memcmp(b + 12, "IHDR", 4))
        return;
    *w = (int)((uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19]);
    *h = (int)((uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23]);
}

/* Say once why there is no image; the run then exits PLOT_EXIT_NO_IMAGE.
 * reason is a short static string for the report. */
static void no_image(plot_run *r, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void no_image(plot_run *r, const char *reason, const char *fmt, ...)
{
    cli_progress_done(&r->c);
    va_list ap;
    va_start(ap, fmt);
    fputs("collide-plot: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (!r->no_image)
        fprintf(stderr, "collide-plot: no image drawn; the data files are written (exit status %d)\n",
                PLOT_EXIT_NO_IMAGE);
    r->no_image = reason;
}

static const char *datafile(const plot_run *r)
{
    for (int i = r->n_files - 1; i >= 0; i--)
        if (!strcmp(r->files[i].format, "csv"))
            return r->files[i].path;
    return "";
}

int plot_render(plot_run *r, plot_vars *v, int width, int height, cl_error *err)
{
    const plot_opts *o = r->o;
    if (o->data_only)
        return CL_OK;
    char gp[PATH_MAX], dir[PATH_MAX], script[PATH_MAX + 64];
    if (!find_gnuplot(gp, sizeof gp)) {
        if (getenv("COLLIDE_GNUPLOT"))
            no_image(r, "gnuplot not found",
                     "gnuplot not found: COLLIDE_GNUPLOT=%s is not an executable file (unset it to "
                     "use the gnuplot on PATH)", gp);
        else
            no_image(r, "gnuplot not found",
                     "gnuplot not found on PATH: install it (Debian: apt-get install gnuplot-nox)");
        return CL_OK;
    }
    if (!find_plots(dir, sizeof dir)) {
        no_image(r, "plots/ not found",
                 "the gnuplot scripts were not found (%s/common.gp); set COLLIDE_PLOTS to the "
                 "plots folder of the collide source", dir);
        return CL_OK;
    }
    snprintf(script, sizeof script, "%s/%s.gp", dir, o->fig->name);
    const char *fmts[3];
    int nf = 0;
    fmts[nf++] = "png";
    if (o->svg)
        fmts[nf++] = "svg";
    if (o->pdf)
        fmts[nf++] = "pdf";
    for (int i = 0; i < nf; i++) {
        size_t n = strlen(o->outdir) + strlen(o->name) + 64;
        char *final = malloc(n), *tmp = malloc(n);
        if (!final || !tmp) {
            free(final), free(tmp);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        snprintf(final, n, "%s/%s.%s", o->outdir, o->name, fmts[i]);
        snprintf(tmp, n, "%s/.%s.%s.tmp.%ld", o->outdir, o->name, fmts[i], (long)getpid());
        plot_vars all = {0};
        puts_(&all, v->buf ? v->buf : "");
        plot_var_s(&all, "datafile", datafile(r));
        plot_var_s(&all, "outfile", tmp);
        plot_var_s(&all, "fmt", fmts[i]);
        plot_var_s(&all, "plotdir", dir);
        plot_var_i(&all, "width", width);
        plot_var_i(&all, "height", height);
        char msg[4096];
        int st = run_gnuplot(gp, all.buf, script, msg, sizeof msg);
        plot_vars_free(&all);
        struct stat sb;
        if (st != 0 || stat(tmp, &sb) != 0 || sb.st_size == 0) {
            unlink(tmp);
            if (st < 0)
                no_image(r, "gnuplot could not be started", "%s could not be started: %s", gp,
                         strerror(errno));
            else
                no_image(r, "gnuplot failed", "gnuplot failed drawing %s with %s (exit %d)%s%s",
                         final, script, st, msg[0] ? ":\n" : "", msg);
            free(final), free(tmp);
            return CL_OK;
        }
        if (msg[0]) /* warnings: a figure should draw without any */
            fprintf(stderr, "collide-plot: gnuplot (%s): %s", script, msg);
        if (rename(tmp, final)) {
            int e = errno;
            unlink(tmp);
            free(tmp);
            cl_error_set(err, CL_ERR_IO, "%s: cannot rename into place: %s", final, strerror(e));
            free(final);
            return CL_ERR_IO;
        }
        free(tmp);
        if (r->n_files == PLOT_MAX_FILES) {
            free(final);
            return cl_error_set(err, CL_ERR_ARG, "internal error: too many files");
        }
        plot_file *pf = &r->files[r->n_files++];
        *pf = (plot_file){.path = final, .format = fmts[i]};
        png_size(final, &pf->width, &pf->height);
    }
    return CL_OK;
}
