// SPDX-License-Identifier: MIT
/*
 * tests/isolation/test_sigbus.c - the SIGBUS guard and the process budget
 * for guest memory, in-process, through the core's DMA_MAP.
 *
 * The guard must take only the faults that are its own - inside an
 * unsealed DMA window - and hand every other to whoever had SIGBUS before
 * (a handler, or the default action that kills the process); it must
 * protect a driver's pin as well as uvfio_dma_read/write; it must come
 * back in front when the program changes SIGBUS after it; and with the
 * guard off an unsealed fd is refused.  The budget gives each device its
 * share of the process's mappings, whatever another device's client does.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "core/core.h"

#define PG      4096u
#define IOVA    0x100000ull
#define RW      (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)

static ssize_t nop_read(struct uvfio_device *dev, uint32_t index,
                        uint64_t offset, void *buf, size_t count)
{
    (void)dev; (void)index; (void)offset; (void)buf;
    return (ssize_t)count;
}

static const struct uvfio_device_ops ops = { .name = "sigbus-test",
                                             .read = nop_read };

static struct uvfio_device *new_device(void)
{
    struct uvfio_device_config cfg = {
        .name = "sigbus-test", .ops = &ops, .num_regions = 1,
    };
    struct uvfio_device *dev = NULL;

    assert_int_equal(uvfio_device_create(&cfg, &dev), 0);
    return dev;
}

static int memfd(size_t size, bool sealed)
{
    int fd = memfd_create("guest", MFD_CLOEXEC |
                          (sealed ? MFD_ALLOW_SEALING : 0));

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    if (sealed)
        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    return fd;
}

/* DMA_MAP through a dup, as the server hands the core its fd. */
static int map(struct uvfio_device *dev, uint64_t iova, uint64_t size,
               int fd, uint64_t offset)
{
    struct uvfio_wire_dma_map req = {
        .argsz = sizeof(req), .flags = RW, .offset = offset, .addr = iova,
        .size = size,
    };
    int dup = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0), r;

    assert_true(fd < 0 || dup >= 0);
    r = uvfio_core_dma_map(dev, &req, &dup);
    if (dup >= 0)
        close(dup);
    return r;
}

static int unmap(struct uvfio_device *dev, uint64_t iova, uint64_t size)
{
    struct uvfio_wire_dma_unmap req = {
        .argsz = sizeof(req), .addr = iova, .size = size,
    };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r = uvfio_core_dma_unmap(dev, &req, NULL, 0, &rep);

    uvfio_buf_free(&rep);
    return r;
}

/* A fault that is nobody's: our own mapping of a file, past its end. */
static volatile char *foreign_hole(int *fd_out)
{
    int fd = memfd(PG, false);
    char *p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);

    assert_true(p != MAP_FAILED);
    *fd_out = fd;
    return p + PG;
}

/* ---- chaining ----------------------------------------------------------- */

static sigjmp_buf jump;
static volatile sig_atomic_t theirs_called;

static void theirs(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    theirs_called++;
    siglongjmp(jump, 1);
}

static void install_theirs(struct sigaction *old)
{
    struct sigaction sa = { .sa_sigaction = theirs, .sa_flags = SA_SIGINFO };

    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGBUS, &sa, old), 0);
}

static bool guard_in_front(void)
{
    struct sigaction cur;

    assert_int_equal(sigaction(SIGBUS, NULL, &cur), 0);
    return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction != theirs;
}

/* The value is kept: an unused load may be optimised away (valgrind's
 * JIT does), and then nothing faults. */
static volatile char sink;

static void touch(volatile char *p)
{
    sink = *p;
}

/* The program's handler was there first: faults not ours still reach it,
 * faults in a window never do. */
static void test_chains_to_previous_handler(void **state)
{
    struct uvfio_device *dev = new_device();
    volatile char *hole;
    struct sigaction old;
    int guest = memfd(2 * PG, false), other;
    char buf[16];

    (void)state;
    theirs_called = 0;
    install_theirs(&old);
    assert_int_equal(map(dev, IOVA, 2 * PG, guest, 0), 0);
    assert_true(guard_in_front());

    hole = foreign_hole(&other);
    if (sigsetjmp(jump, 1) == 0) {
        touch(hole);
        fail_msg("no fault past the end of the file");
    }
    assert_int_equal(theirs_called, 1);

    assert_int_equal(ftruncate(guest, 0), 0);
    assert_int_equal(uvfio_dma_read(dev, IOVA + PG, buf, sizeof(buf)),
                     -EFAULT);
    assert_int_equal(uvfio_dma_write(dev, IOVA, buf, sizeof(buf)), -EFAULT);
    assert_int_equal(theirs_called, 1);

    /* A sent SIGBUS is not a fault in a window either. */
    if (sigsetjmp(jump, 1) == 0) {
        raise(SIGBUS);
        fail_msg("raise(SIGBUS) returned");
    }
    assert_int_equal(theirs_called, 2);

    assert_int_equal(unmap(dev, IOVA, 2 * PG), 0);
    munmap((void *)(hole - PG), 2 * PG);
    close(other);
    close(guest);
    uvfio_device_destroy(dev);
    sigaction(SIGBUS, &old, NULL);
}

/* A program that sets SIGBUS after the guard: the next unsealed map puts
 * the guard back in front, chained to the program's handler. */
static void test_comes_back_in_front(void **state)
{
    struct uvfio_device *dev = new_device();
    int a = memfd(PG, false), b = memfd(PG, false), other;
    volatile char *hole;
    struct sigaction old;
    char buf[8];

    (void)state;
    theirs_called = 0;
    assert_int_equal(map(dev, IOVA, PG, a, 0), 0);
    install_theirs(&old);
    assert_false(guard_in_front());
    assert_int_equal(map(dev, IOVA + PG, PG, b, 0), 0);
    assert_true(guard_in_front());

    assert_int_equal(ftruncate(a, 0), 0);
    assert_int_equal(uvfio_dma_read(dev, IOVA, buf, sizeof(buf)), -EFAULT);
    assert_int_equal(uvfio_dma_read(dev, IOVA + PG, buf, sizeof(buf)), 0);
    hole = foreign_hole(&other);
    if (sigsetjmp(jump, 1) == 0) {
        touch(hole);
        fail_msg("no fault past the end of the file");
    }
    assert_int_equal(theirs_called, 1);

    munmap((void *)(hole - PG), 2 * PG);
    close(other);
    close(a);
    close(b);
    uvfio_device_destroy(dev);
    sigaction(SIGBUS, &old, NULL);
}

/* Run fn in a child; its exit status or signal. */
static int in_child(void (*fn)(int pipe_fd), char *said, size_t len)
{
    int p[2], status = 0;
    ssize_t n;
    pid_t pid;

    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        fn(p[1]);
        _exit(0);
    }
    close(p[1]);
    n = read(p[0], said, len - 1);
    said[n > 0 ? n : 0] = 0;
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void say(int fd, const char *what)
{
    if (write(fd, what, strlen(what)) < 0)
        _exit(3);
}

/* With SIGBUS at its default, a window fault is survived and any other
 * fault still kills the process, with SIGBUS. */
static void child_default(int out)
{
    struct uvfio_device *dev;
    int guest, other;
    char buf[8];

    signal(SIGBUS, SIG_DFL);
    dev = new_device();
    guest = memfd(PG, false);
    if (map(dev, IOVA, PG, guest, 0) || ftruncate(guest, 0) ||
        uvfio_dma_read(dev, IOVA, buf, sizeof(buf)) != -EFAULT)
        _exit(1);
    say(out, "survived;");
    touch(foreign_hole(&other));
    say(out, "not killed;");
    _exit(2);
}

static void test_default_action_still_kills(void **state)
{
    char said[64];
    int st;

    (void)state;
    st = in_child(child_default, said, sizeof(said));
    assert_string_equal(said, "survived;");
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGBUS);
}

/* ---- pins ---------------------------------------------------------------- */

/* A driver's pin is a raw pointer: after the client shrank the file, it
 * reads and writes scratch memory instead of crashing the process, and
 * the window refuses new pins and copies. */
static void test_pin_survives(void **state)
{
    struct uvfio_device *dev = new_device();
    int guest = memfd(2 * PG, false);
    struct uvfio_dma_pin pin, again;
    volatile uint8_t *p;
    char buf[8];

    (void)state;
    assert_int_equal(map(dev, IOVA, 2 * PG, guest, 0), 0);
    assert_int_equal(uvfio_dma_pin(dev, IOVA, 2 * PG, true, &pin), 0);
    p = pin.host;
    p[PG + 1] = 0x5a;
    assert_int_equal(ftruncate(guest, 0), 0);
    p[PG + 1] = 0xa5;
    assert_int_equal(p[PG + 1], 0xa5);
    assert_int_equal(p[7], 0);
    assert_int_equal(uvfio_dma_pin(dev, IOVA, 8, false, &again), -EFAULT);
    assert_int_equal(uvfio_dma_read(dev, IOVA, buf, sizeof(buf)), -EFAULT);
    uvfio_dma_unpin(dev, &pin);
    assert_int_equal(unmap(dev, IOVA, 2 * PG), 0);
    close(guest);
    uvfio_device_destroy(dev);
}

/* ---- many threads --------------------------------------------------------- */

struct reader {
    struct uvfio_device *dev;
    uint64_t iova;
    atomic_bool stop;
    atomic_ulong ok, efault, other;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    uint8_t buf[PG];

    while (!atomic_load(&r->stop)) {
        int e = uvfio_dma_read(r->dev, r->iova, buf, sizeof(buf));

        if (e == 0)
            atomic_fetch_add(&r->ok, 1);
        else if (e == -EFAULT)
            atomic_fetch_add(&r->efault, 1);
        else
            atomic_fetch_add(&r->other, 1);
    }
    return NULL;
}

/* Until *counter reaches n (true), or 10 s pass. */
static bool wait_for(atomic_ulong *counter, unsigned long n)
{
    for (int i = 0; i < 10000; i++) {
        if (atomic_load(counter) >= n)
            return true;
        usleep(1000);
    }
    return false;
}

/* Threads copying from a window when it is shrunk under them: each copy
 * either completes or fails with EFAULT, and the window next to it is
 * untouched. */
static void test_shrunk_under_running_copies(void **state)
{
    struct uvfio_device *dev = new_device();
    int victim = memfd(16 * PG, false), bystander = memfd(16 * PG, true);
    struct reader r[3] = {
        { .dev = dev, .iova = IOVA + 15 * PG },
        { .dev = dev, .iova = IOVA + 15 * PG },
        { .dev = dev, .iova = IOVA + 16 * PG },
    };
    pthread_t t[3];
    int i;

    (void)state;
    assert_int_equal(map(dev, IOVA, 16 * PG, victim, 0), 0);
    assert_int_equal(map(dev, IOVA + 16 * PG, 16 * PG, bystander, 0), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
    /* Every thread copying before, the two on the victim failing after:
     * waited for, not slept for, on a busy machine. */
    assert_true(wait_for(&r[0].ok, 3) && wait_for(&r[1].ok, 3) &&
                wait_for(&r[2].ok, 3));
    assert_int_equal(ftruncate(victim, PG), 0);
    assert_true(wait_for(&r[0].efault, 3) && wait_for(&r[1].efault, 3));
    for (i = 0; i < 3; i++) {
        atomic_store(&r[i].stop, true);
        pthread_join(t[i], NULL);
    }
    for (i = 0; i < 2; i++) {
        assert_true(r[i].efault > 0);
        assert_int_equal(r[i].other, 0);
    }
    assert_true(r[2].ok > 0);
    assert_int_equal(r[2].efault + r[2].other, 0);
    close(victim);
    close(bystander);
    uvfio_device_destroy(dev);
}

/* ---- the guard off -------------------------------------------------------- */

static void child_require_seal(int out)
{
    struct uvfio_device *dev;
    struct sigaction cur;
    int loose, tight;

    signal(SIGBUS, SIG_DFL);
    if (uvfio_set_guest_mem_policy((enum uvfio_guest_mem_policy)7) != -EINVAL ||
        uvfio_set_guest_mem_policy(UVFIO_GUEST_MEM_REQUIRE_SEAL) != 0)
        _exit(1);
    dev = new_device();
    loose = memfd(PG, false);
    tight = memfd(PG, true);
    if (map(dev, IOVA, PG, loose, 0) != -EPERM)
        _exit(2);
    if (map(dev, IOVA, PG, tight, 0) != 0)
        _exit(3);
    if (sigaction(SIGBUS, NULL, &cur) || cur.sa_handler != SIG_DFL)
        _exit(4);
    say(out, "refused;");
    uvfio_device_destroy(dev);
}

static void test_require_seal_installs_nothing(void **state)
{
    char said[64];
    int st;

    (void)state;
    st = in_child(child_require_seal, said, sizeof(said));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_string_equal(said, "refused;");
}

/* ---- the budget ----------------------------------------------------------- */

static unsigned long max_map_count(void)
{
    unsigned long v = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");

    if (f) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

/* Eight devices share half the process's mappings: one client filling
 * its device's share leaves the others theirs. */
static void test_budget_shares(void **state)
{
    enum { NDEV = 8 };
    struct uvfio_device *dev[NDEV];
    unsigned long share = max_map_count() / 2 / NDEV, i;
    int fd = memfd(16 * PG, true), r = 0;

    (void)state;
    for (i = 0; i < NDEV; i++)
        dev[i] = new_device();
    for (i = 0; i < share + 1; i++) {
        /* Alternate offsets so the kernel cannot merge the mappings. */
        r = map(dev[0], IOVA + i * PG, PG, fd, (i % 2) * 2 * PG);
        if (r)
            break;
    }
    assert_int_equal(r, -ENOSPC);
    assert_int_equal(i, share);
    /* Windows reached by messages take no mapping: not counted. */
    assert_int_equal(map(dev[0], 0x80000000ull, PG, -1, 0), 0);
    for (i = 0; i < 64; i++)
        assert_int_equal(map(dev[1], IOVA + i * PG, PG, fd, 0), 0);
    assert_int_equal(unmap(dev[0], IOVA, PG), 0);
    assert_int_equal(map(dev[0], IOVA, PG, fd, 0), 0);
    assert_int_equal(map(dev[0], IOVA + (share + 5) * PG, PG, fd, 0),
                     -ENOSPC);
    for (i = 0; i < NDEV; i++)
        uvfio_device_destroy(dev[i]);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chains_to_previous_handler),
        cmocka_unit_test(test_comes_back_in_front),
        cmocka_unit_test(test_default_action_still_kills),
        cmocka_unit_test(test_pin_survives),
        cmocka_unit_test(test_shrunk_under_running_copies),
        cmocka_unit_test(test_require_seal_installs_nothing),
        cmocka_unit_test(test_budget_shares),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
