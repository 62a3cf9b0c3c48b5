/*
 * store_open.c -- cl_store_open: a store is first read in a throw-away child
 * process, then here (store_read.c does the reading).
 */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * HDF5 checks most metadata with checksums, but not all of it: a damaged
 * global heap (where variable-length strings live) makes libhdf5 1.10 copy
 * far past its buffers, and a file in the old format has no checksums at
 * all. So every store is first opened in a throw-away child process, which
 * reads all the metadata cl_store_open reads and reports back through a
 * pipe. This process reads the file only if the child opened it; a store the
 * child refused is refused with the child's message (the library never runs
 * here on a file it choked on, nor prints its own complaints at exit), and
 * if the library crashed in the child, or spent 20 s there (a damaged
 * global heap can send it round a loop; the metadata of a store with a
 * million modules reads in a few seconds), the store is refused as
 * damaged. A fork costs well under a millisecond; where fork is
 * unavailable the store is read in-process as before, and a caller that
 * trusts the file skips the child with CL_STORE_NO_CHILD (cl_store.h).
 */
enum { CHILD_OPENED = 0x5a, CHILD_REFUSED = 0x5b, CHILD_SECONDS = 20 };

static int open_in_child(const char *path, cl_error *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return CL_OK;
    fflush(NULL); /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return CL_OK;
    }
    if (pid == 0) {
        /* The child says nothing (a sanitizer's or the library's report of a
         * crash goes to /dev/null) and never runs exit handlers: it must not
         * flush what the parent has open. */
        close(fds[0]);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) {
            dup2(dn, 1);
            dup2(dn, 2);
        }
        /* the bound must hold whatever the caller did with SIGALRM (a
         * handler, as libFuzzer installs, or SIG_IGN, or a blocked mask) */
        signal(SIGALRM, SIG_DFL);
        sigset_t al;
        sigemptyset(&al);
        sigaddset(&al, SIGALRM);
        sigprocmask(SIG_UNBLOCK, &al, NULL);
        alarm(CHILD_SECONDS);
        cl_store *s;
        cl_error e;
        memset(&e, 0, sizeof e);
        int rc = cl_store_open_direct(path, &s, &e);
        if (rc == CL_OK)
            cl_store_free(s);
        else if (write(fds[1], &e, sizeof e) != (ssize_t)sizeof e)
            rc = CL_OK; /* the parent finds out for itself */
        _exit(rc == CL_OK ? CHILD_OPENED : CHILD_REFUSED);
    }
    close(fds[1]);
    cl_error e;
    size_t got = 0;
    while (got < sizeof e) {
        ssize_t n = read(fds[0], (char *)&e + got, sizeof e - got);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0 || errno != EINTR)
            break;
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return CL_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OPENED)
        return CL_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_REFUSED && got == sizeof e &&
        e.code != CL_OK) {
        e.msg[sizeof e.msg - 1] = 0;
        *err = e;
        return e.code;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_REFUSED)
        return CL_OK; /* no message came: read it here and find out */
    char why[96];
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        snprintf(why, sizeof why, "did not finish in %d s", CHILD_SECONDS);
    else if (WIFSIGNALED(status))
        snprintf(why, sizeof why, "crashed (%s)", strsignal(WTERMSIG(status)));
    else
        snprintf(why, sizeof why, "crashed (a memory error stopped it, exit status %d)",
                 WEXITSTATUS(status));
    return cl_error_set(err, CL_ERR_FORMAT,
                        "%s: HDF5 metadata: damaged: reading it in a test process, the HDF5 "
                        "library %s; the file is refused",
                        path, why);
}

int cl_store_open_with(const char *path, unsigned flags, cl_store **out, cl_error *err)
{
    *out = NULL;
    if (flags & ~(unsigned)CL_STORE_NO_CHILD)
        return cl_error_set(err, CL_ERR_ARG, "%s: cl_store_open_with: unknown flags 0x%x", path,
                            flags & ~(unsigned)CL_STORE_NO_CHILD);
    int rc = flags & CL_STORE_NO_CHILD ? CL_OK : open_in_child(path, err);
    return rc ? rc : cl_store_open_direct(path, out, err);
}

int cl_store_open(const char *path, cl_store **out, cl_error *err)
{
    return cl_store_open_with(path, 0, out, err);
}

/* Read one snapshot's slab of a 3-D adapter dataset. */
