/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test_requests.c - every call's request bytes on the wire,
 * and how the replies come back to the caller.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_session.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- device and IRQ info ----------------------------------------------- */

static void test_device_info(void **state)
{
    struct uvfio_wire_device_info req = { 16, 0, 0, 0 };
    struct uvfio_wire_device_info rep = {
        16, UVFIO_DEVICE_FLAGS_RESET | UVFIO_DEVICE_FLAGS_PCI, 10, 5 };
    struct fake_step st[] = { {
        .cmd = UVFIO_CMD_DEVICE_GET_INFO,
        .req = &req, .req_len = sizeof(req),
        .rep = &rep, .rep_len = sizeof(rep),
    } };
    struct uvfio_client_device_info info;
    struct fake_session s;

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_device_info(s.c, &info), 0);
    assert_int_equal(info.flags, rep.flags);
    assert_int_equal(info.num_regions, 10);
    assert_int_equal(info.num_irqs, 5);
    fake_session_finish(&s);
}

static void test_irq_info(void **state)
{
    struct uvfio_wire_irq_info req = { 16, 0, 2, 0 };
    struct uvfio_wire_irq_info rep = {
        16, UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_NORESIZE, 2, 32 };
    struct uvfio_wire_irq_info other = { 16, 0, 3, 1 };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_DEVICE_GET_IRQ_INFO, .req = &req,
          .req_len = sizeof(req), .rep = &rep, .rep_len = sizeof(rep) },
        /* The answer is for another index: refused. */
        { .cmd = UVFIO_CMD_DEVICE_GET_IRQ_INFO, .req = &req,
          .req_len = sizeof(req), .rep = &other, .rep_len = sizeof(other) },
    };
    struct uvfio_client_irq_info info;
    struct fake_session s;

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_irq_info(s.c, 2, &info), 0);
    assert_int_equal(info.flags, rep.flags);
    assert_int_equal(info.count, 32);
    assert_int_equal(uvfio_client_irq_info(s.c, 2, &info), -EPROTO);
    fake_session_finish(&s);
}

/* ---- region info ------------------------------------------------------- */

static int make_memfd(size_t size)
{
    int fd = memfd_create("test-region", MFD_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    return fd;
}

static bool same_file(int a, int b)
{
    struct stat sa, sb;

    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
           sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

static void test_region_info_mmap(void **state)
{
    struct uvfio_wire_region_info req = { .argsz = 512, .index = 2 };
    struct uvfio_wire_region_info rep = {
        .argsz = 32, .index = 2, .size = 0x2000, .offset = 0x1000,
        .flags = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE |
                 UVFIO_REGION_FLAG_MMAP };
    int mfd = make_memfd(0x3000);
    struct fake_step st[] = { {
        .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO,
        .req = &req, .req_len = sizeof(req),
        .rep = &rep, .rep_len = sizeof(rep),
        .rep_fds = &mfd, .rep_nfds = 1,
    } };
    struct uvfio_client_region r;
    struct fake_session s;
    uint8_t *p, *own;
    size_t len = 0;

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_region_info(s.c, 2, &r), 0);
    assert_int_equal(r.index, 2);
    assert_int_equal(r.flags, rep.flags);
    assert_int_equal(r.size, 0x2000);
    assert_int_equal(r.offset, 0x1000);
    assert_int_equal(r.nr_sparse, 0);
    assert_false(r.has_type);
    assert_true(r.fd >= 0);
    assert_true(same_file(r.fd, mfd));

    /* No sparse cap: area 0 is the whole region, at its mmap offset. */
    p = uvfio_client_region_mmap(s.c, &r, 0, &len);
    assert_non_null(p);
    assert_int_equal(len, 0x2000);
    own = mmap(NULL, 0x3000, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    assert_true(own != MAP_FAILED);
    p[5] = 0xab;
    assert_int_equal(own[0x1000 + 5], 0xab);
    assert_null(uvfio_client_region_mmap(s.c, &r, 1, &len));
    assert_int_equal(errno, EINVAL);
    munmap(own, 0x3000);
    munmap(p, len);
    uvfio_client_region_free(&r);
    assert_int_equal(r.fd, -1);
    close(mfd);
    fake_session_finish(&s);
}

/* A reply with sparse (2 areas), type and MSI-X-mappable caps. */
struct chain_reply {
    struct uvfio_wire_region_info info;
    struct uvfio_wire_cap_sparse_mmap sparse;
    struct uvfio_wire_sparse_area areas[2];
    struct uvfio_wire_cap_type type;
    struct uvfio_wire_cap_header msix;
} __attribute__((packed));

static void fill_chain(struct chain_reply *c)
{
    memset(c, 0, sizeof(*c));
    c->info.argsz = sizeof(*c);
    c->info.flags = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE |
                    UVFIO_REGION_FLAG_MMAP | UVFIO_REGION_FLAG_CAPS;
    c->info.index = 9;
    c->info.cap_offset = offsetof(struct chain_reply, sparse);
    c->info.size = 0x4000;
    c->info.offset = 0;
    c->sparse.header = (struct uvfio_wire_cap_header){
        UVFIO_REGION_CAP_SPARSE_MMAP, 1, offsetof(struct chain_reply, type) };
    c->sparse.nr_areas = 2;
    c->areas[0] = (struct uvfio_wire_sparse_area){ 0, 0x1000 };
    c->areas[1] = (struct uvfio_wire_sparse_area){ 0x2000, 0x2000 };
    c->type.header = (struct uvfio_wire_cap_header){
        UVFIO_REGION_CAP_TYPE, 1, offsetof(struct chain_reply, msix) };
    c->type.type = UVFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x1af4;
    c->type.subtype = 7;
    c->msix = (struct uvfio_wire_cap_header){
        UVFIO_REGION_CAP_MSIX_MAPPABLE, 1, 0 };
}

static void test_region_info_chain(void **state)
{
    struct uvfio_wire_region_info req = { .argsz = 512, .index = 9 };
    struct chain_reply rep;
    int mfd = make_memfd(0x4000);
    struct fake_step st[] = { {
        .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO,
        .req = &req, .req_len = sizeof(req),
        .rep = &rep, .rep_len = sizeof(rep),
        .rep_fds = &mfd, .rep_nfds = 1,
    } };
    struct uvfio_client_region r;
    struct fake_session s;
    uint8_t *p;
    size_t len;

    (void)state;
    fill_chain(&rep);
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_region_info(s.c, 9, &r), 0);
    assert_int_equal(r.nr_sparse, 2);
    assert_int_equal(r.sparse[0].offset, 0);
    assert_int_equal(r.sparse[0].size, 0x1000);
    assert_int_equal(r.sparse[1].offset, 0x2000);
    assert_int_equal(r.sparse[1].size, 0x2000);
    assert_true(r.has_type);
    assert_int_equal(r.type, rep.type.type);
    assert_int_equal(r.subtype, 7);
    assert_true(r.msix_mappable);

    /* Area 1 maps the window at region offset 0x2000. */
    p = uvfio_client_region_mmap(s.c, &r, 1, &len);
    assert_non_null(p);
    assert_int_equal(len, 0x2000);
    munmap(p, len);
    assert_null(uvfio_client_region_mmap(s.c, &r, 2, &len));
    uvfio_client_region_free(&r);
    close(mfd);
    fake_session_finish(&s);
}

/* The first answer says "I need 976 bytes"; the client asks again. */
struct big_reply {
    struct uvfio_wire_region_info info;
    struct uvfio_wire_cap_sparse_mmap sparse;
    struct uvfio_wire_sparse_area areas[58];
} __attribute__((packed));

static void test_region_info_retry(void **state)
{
    struct uvfio_wire_region_info req1 = { .argsz = 512, .index = 0 };
    struct uvfio_wire_region_info req2 = { .argsz = sizeof(struct big_reply) };
    struct uvfio_wire_region_info trunc = {
        .argsz = sizeof(struct big_reply), .index = 0, .size = 58 * 0x1000,
        .flags = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_CAPS };
    struct big_reply *rep = calloc(1, sizeof(*rep));
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO, .req = &req1,
          .req_len = sizeof(req1), .rep = &trunc, .rep_len = sizeof(trunc) },
        { .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO, .req = &req2,
          .req_len = sizeof(req2), .rep = rep, .rep_len = sizeof(*rep) },
    };
    struct uvfio_client_region r;
    struct fake_session s;
    int i;

    (void)state;
    assert_non_null(rep);
    rep->info = trunc;
    rep->info.cap_offset = sizeof(rep->info);
    rep->sparse.header = (struct uvfio_wire_cap_header){
        UVFIO_REGION_CAP_SPARSE_MMAP, 1, 0 };
    rep->sparse.nr_areas = 58;
    for (i = 0; i < 58; i++)
        rep->areas[i] = (struct uvfio_wire_sparse_area){ i * 0x1000ull, 0x800 };
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_region_info(s.c, 0, &r), 0);
    assert_int_equal(r.nr_sparse, 58);
    assert_int_equal(r.sparse[57].offset, 57 * 0x1000);
    assert_int_equal(r.fd, -1);
    assert_null(uvfio_client_region_mmap(s.c, &r, 0, NULL));
    assert_int_equal(errno, ENODEV);
    uvfio_client_region_free(&r);
    fake_session_finish(&s);
    free(rep);
}

/* A sparse capability with no areas: nothing of the region is mappable. */
struct empty_sparse {
    struct uvfio_wire_region_info info;
    struct uvfio_wire_cap_sparse_mmap sparse;
} __attribute__((packed));

static void test_region_info_empty_sparse(void **state)
{
    struct empty_sparse rep = {
        { sizeof(rep), UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_MMAP |
                       UVFIO_REGION_FLAG_CAPS, 0, 32, 0x1000, 0 },
        { { UVFIO_REGION_CAP_SPARSE_MMAP, 1, 0 }, 0, 0 } };
    int mfd = make_memfd(0x1000);
    struct fake_step st[] = { {
        .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO,
        .rep = &rep, .rep_len = sizeof(rep), .rep_fds = &mfd, .rep_nfds = 1,
    } };
    struct uvfio_client_region r;
    struct fake_session s;
    size_t len;

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_region_info(s.c, 0, &r), 0);
    assert_int_equal(r.nr_sparse, 0);
    assert_true(r.fd >= 0);
    assert_null(uvfio_client_region_mmap(s.c, &r, 0, &len));
    assert_int_equal(errno, EINVAL);
    uvfio_client_region_free(&r);
    close(mfd);
    fake_session_finish(&s);
}

/* ---- region read / write ----------------------------------------------- */

struct rw_msg {
    struct uvfio_wire_region_rw rw;
    uint8_t data[4096];
} __attribute__((packed));

#define SMALL_XFER_CAPS \
    "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":4096}}"

static void test_region_read_split(void **state)
{
    static const uint32_t counts[3] = { 4096, 4096, 1808 };
    struct uvfio_wire_region_rw req[3];
    struct rw_msg *rep = calloc(3, sizeof(*rep));
    struct fake_step st[3];
    uint8_t buf[10000];
    struct fake_session s;
    int i, k;

    (void)state;
    assert_non_null(rep);
    for (i = 0; i < 3; i++) {
        req[i] = (struct uvfio_wire_region_rw){ 0x100 + i * 4096ull, 2,
                                                counts[i] };
        rep[i].rw = req[i];
        for (k = 0; k < (int)counts[i]; k++)
            rep[i].data[k] = (uint8_t)(i * 4096 + k);
        st[i] = (struct fake_step){
            .cmd = UVFIO_CMD_REGION_READ, .req = &req[i],
            .req_len = sizeof(req[i]), .rep = &rep[i],
            .rep_len = sizeof(rep[i].rw) + counts[i] };
    }
    fake_session_steps(&s, st, 3, SMALL_XFER_CAPS, NULL);
    assert_int_equal(uvfio_client_caps(s.c)->max_data_xfer_size, 4096);
    assert_int_equal(uvfio_client_region_read(s.c, 2, 0x100, buf,
                                               sizeof(buf)), sizeof(buf));
    for (k = 0; k < (int)sizeof(buf); k++)
        assert_int_equal(buf[k], (uint8_t)k);
    fake_session_finish(&s);
    free(rep);
}

static void test_region_write_split(void **state)
{
    static const uint32_t counts[3] = { 4096, 4096, 1808 };
    struct rw_msg *req = calloc(3, sizeof(*req));
    struct uvfio_wire_region_rw rep[3];
    struct fake_step st[3];
    uint8_t buf[10000];
    struct fake_session s;
    int i, k;

    (void)state;
    assert_non_null(req);
    for (k = 0; k < (int)sizeof(buf); k++)
        buf[k] = (uint8_t)(k * 7);
    for (i = 0; i < 3; i++) {
        rep[i] = (struct uvfio_wire_region_rw){ 0x10 + i * 4096ull, 1,
                                                counts[i] };
        req[i].rw = rep[i];
        memcpy(req[i].data, buf + i * 4096, counts[i]);
        st[i] = (struct fake_step){
            .cmd = UVFIO_CMD_REGION_WRITE, .req = &req[i],
            .req_len = sizeof(req[i].rw) + counts[i], .rep = &rep[i],
            .rep_len = sizeof(rep[i]) };
    }
    fake_session_steps(&s, st, 3, SMALL_XFER_CAPS, NULL);
    assert_int_equal(uvfio_client_region_write(s.c, 1, 0x10, buf,
                                                sizeof(buf)), sizeof(buf));
    fake_session_finish(&s);
    free(req);
}

static void test_region_rw_args(void **state)
{
    struct fake_session s;
    uint8_t b[4];

    (void)state;
    fake_session_steps(&s, NULL, 0, NULL, NULL);
    /* Nothing goes on the wire for these. */
    assert_int_equal(uvfio_client_region_read(s.c, 0, UINT64_MAX - 1, b, 4),
                     -EINVAL);
    assert_int_equal(uvfio_client_region_write(s.c, 0, 0, NULL, 4), -EINVAL);
    assert_int_equal(uvfio_client_region_read(s.c, 0, 0, b, 0), 0);
    fake_session_finish(&s);
}

/* ---- SET_IRQS ---------------------------------------------------------- */

struct irq_bool {
    struct uvfio_wire_irq_set s;
    uint8_t data[3];
} __attribute__((packed));

static void test_set_irqs_none_bool(void **state)
{
    struct uvfio_wire_irq_set none = {
        20, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER, 1, 0, 0 };
    struct irq_bool b = {
        { 23, UVFIO_IRQ_SET_DATA_BOOL | UVFIO_IRQ_SET_ACTION_MASK, 0, 0, 3 },
        { 1, 0, 1 } };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .req = &none,
          .req_len = sizeof(none) },
        { .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .req = &b, .req_len = sizeof(b) },
        { .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .err = EINVAL },
    };
    struct fake_session s;

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_set_irqs(s.c, none.flags, 1, 0, 0, NULL,
                                           NULL), 0);
    assert_int_equal(uvfio_client_set_irqs(s.c, b.s.flags, 0, 0, 3, b.data,
                                           NULL), 0);
    assert_int_equal(uvfio_client_set_irqs(s.c, none.flags, 7, 0, 0, NULL,
                                           NULL), -EINVAL);
    /* Encodings the client cannot build never reach the wire. */
    assert_int_equal(uvfio_client_set_irqs(s.c, UVFIO_IRQ_SET_DATA_NONE |
                                           UVFIO_IRQ_SET_DATA_BOOL |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER,
                                           0, 0, 1, b.data, NULL), -EINVAL);
    assert_int_equal(uvfio_client_set_irqs(s.c, b.s.flags, 0, 0, 3, NULL,
                                           NULL), -EINVAL);
    fake_session_finish(&s);
}

/* The eventfd the server kept and ours are one object. */
static void assert_same_eventfd(int ours, int theirs)
{
    uint64_t v = 1;

    assert_int_equal(write(theirs, &v, sizeof(v)), sizeof(v));
    v = 0;
    assert_int_equal(read(ours, &v, sizeof(v)), sizeof(v));
    assert_int_equal(v, 1);
    close(theirs);
}

static void test_set_irqs_eventfd_runs(void **state)
{
    const uint32_t fl = UVFIO_IRQ_SET_DATA_EVENTFD |
                        UVFIO_IRQ_SET_ACTION_TRIGGER;
    struct uvfio_wire_irq_set r1 = { 20, fl, 2, 1, 2 };
    struct uvfio_wire_irq_set r2 = { 20, fl, 2, 3, 2 };
    struct uvfio_wire_irq_set r3 = { 20, fl, 2, 5, 1 };
    struct uvfio_wire_irq_set zero = { 20, fl, 2, 0, 0 };
    int got1[2] = { -1, -1 }, got3[1] = { -1 };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .req = &r1, .req_len = 20,
          .req_nfds = 2, .keep_fds = got1 },
        { .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .req = &r2, .req_len = 20 },
        { .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .req = &r3, .req_len = 20,
          .req_nfds = 1, .keep_fds = got3 },
        { .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .req = &zero, .req_len = 20 },
    };
    int efd[3], fds[5];
    struct fake_session s;
    int i;

    (void)state;
    for (i = 0; i < 3; i++)
        efd[i] = eventfd(0, EFD_CLOEXEC);
    fds[0] = efd[0];
    fds[1] = efd[1];
    fds[2] = -1;
    fds[3] = -1;
    fds[4] = efd[2];
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_set_irqs(s.c, fl, 2, 1, 5, NULL, fds), 0);
    assert_int_equal(uvfio_client_set_irqs(s.c, fl, 2, 0, 0, NULL, NULL), 0);
    fds[1] = -7;
    assert_int_equal(uvfio_client_set_irqs(s.c, fl, 2, 0, 2, NULL, fds),
                     -EBADF);
    assert_int_equal(uvfio_client_set_irqs(s.c, fl, 2, 0, 2, NULL, NULL),
                     -EINVAL);
    assert_int_equal(uvfio_client_set_irqs(s.c, fl, 2, UINT32_MAX, 2, NULL,
                                           efd), -EINVAL);
    fake_session_finish(&s);
    assert_same_eventfd(efd[0], got1[0]);
    assert_same_eventfd(efd[1], got1[1]);
    assert_same_eventfd(efd[2], got3[0]);
    for (i = 0; i < 3; i++)
        close(efd[i]);
}

/* Runs of fds are cut at the server's max_msg_fds. */
static void test_set_irqs_fd_limit(void **state)
{
    const uint32_t fl = UVFIO_IRQ_SET_DATA_EVENTFD |
                        UVFIO_IRQ_SET_ACTION_TRIGGER;
    struct uvfio_wire_irq_set r1 = { 20, fl, 1, 0, 2 };
    struct uvfio_wire_irq_set r2 = { 20, fl, 1, 2, 1 };
    int got1[2] = { -1, -1 }, got2[1] = { -1 };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .req = &r1, .req_len = 20,
          .req_nfds = 2, .keep_fds = got1 },
        { .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .req = &r2, .req_len = 20,
          .req_nfds = 1, .keep_fds = got2 },
    };
    struct fake_session s;
    int efd[3], i;

    (void)state;
    for (i = 0; i < 3; i++)
        efd[i] = eventfd(0, EFD_CLOEXEC);
    fake_session_steps(&s, st, ARRAY_SIZE(st),
               "{\"capabilities\":{\"max_msg_fds\":2}}", NULL);
    assert_int_equal(uvfio_client_set_irqs(s.c, fl, 1, 0, 3, NULL, efd), 0);
    fake_session_finish(&s);
    assert_same_eventfd(efd[0], got1[0]);
    assert_same_eventfd(efd[1], got1[1]);
    assert_same_eventfd(efd[2], got2[0]);
    for (i = 0; i < 3; i++)
        close(efd[i]);
}

/* ---- reset and features ------------------------------------------------- */

struct feat8 {
    struct uvfio_wire_feature f;
    struct uvfio_wire_feature_mig_state st;
} __attribute__((packed));

static void test_reset_feature(void **state)
{
    struct feat8 get_req = {
        { 16, UVFIO_FEATURE_GET | UVFIO_FEATURE_MIG_DEVICE_STATE }, { 0, 0 } };
    struct feat8 get_rep = {
        { 16, UVFIO_FEATURE_GET | UVFIO_FEATURE_MIG_DEVICE_STATE },
        { UVFIO_MIG_STATE_RUNNING, 0 } };
    struct feat8 set_req = {
        { 16, UVFIO_FEATURE_SET | UVFIO_FEATURE_MIG_DEVICE_STATE },
        { UVFIO_MIG_STATE_STOP, 0 } };
    struct uvfio_wire_feature probe = {
        8, UVFIO_FEATURE_PROBE | UVFIO_FEATURE_SET |
           UVFIO_FEATURE_DMA_LOGGING_START };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_DEVICE_RESET, .req = "", .req_len = 0 },
        { .cmd = UVFIO_CMD_DEVICE_FEATURE, .req = &get_req,
          .req_len = sizeof(get_req), .rep = &get_rep,
          .rep_len = sizeof(get_rep) },
        { .cmd = UVFIO_CMD_DEVICE_FEATURE, .req = &set_req,
          .req_len = sizeof(set_req), .rep = &set_req,
          .rep_len = sizeof(set_req) },
        { .cmd = UVFIO_CMD_DEVICE_FEATURE, .req = &probe,
          .req_len = sizeof(probe), .rep = &probe, .rep_len = sizeof(probe) },
        { .cmd = UVFIO_CMD_DEVICE_FEATURE, .err = ENOTTY },
        /* A GET answered with fewer bytes than asked for. */
        { .cmd = UVFIO_CMD_DEVICE_FEATURE, .rep = &probe,
          .rep_len = sizeof(probe) },
    };
    struct uvfio_wire_feature_mig_state ms = { 0, 0 };
    struct fake_session s;

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_reset(s.c), 0);
    assert_int_equal(uvfio_client_feature(s.c, get_req.f.flags, &ms,
                                          sizeof(ms)), 0);
    assert_int_equal(ms.device_state, UVFIO_MIG_STATE_RUNNING);
    ms.device_state = UVFIO_MIG_STATE_STOP;
    assert_int_equal(uvfio_client_feature(s.c, set_req.f.flags, &ms,
                                          sizeof(ms)), 0);
    assert_int_equal(uvfio_client_feature(s.c, probe.flags, NULL, 0), 0);
    assert_int_equal(uvfio_client_feature(s.c, UVFIO_FEATURE_GET |
                                          UVFIO_FEATURE_MIGRATION, &ms,
                                          sizeof(ms)), -ENOTTY);
    assert_int_equal(uvfio_client_feature(s.c, get_req.f.flags, &ms,
                                          sizeof(ms)), -EPROTO);
    fake_session_finish(&s);
}

/* ---- DMA map / unmap --------------------------------------------------- */

static void test_dma_map_unmap(void **state)
{
    struct uvfio_wire_dma_map m1 = { 32, UVFIO_DMA_MAP_FLAG_READ |
                                     UVFIO_DMA_MAP_FLAG_WRITE, 0x1000,
                                     0x10000, 0x2000 };
    struct uvfio_wire_dma_map m2 = { 32, UVFIO_DMA_MAP_FLAG_READ, 0,
                                     0x20000, 0x1000 };
    struct uvfio_wire_dma_unmap u1 = { 24, 0, 0x10000, 0x2000 };
    struct uvfio_wire_dma_unmap ua = { 24, UVFIO_DMA_UNMAP_FLAG_ALL, 0, 0 };
    int got[1] = { -1 };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_DMA_MAP, .req = &m1, .req_len = 32, .req_nfds = 1,
          .keep_fds = got },
        { .cmd = UVFIO_CMD_DMA_MAP, .req = &m2, .req_len = 32 },
        { .cmd = UVFIO_CMD_DMA_UNMAP, .req = &u1, .req_len = 24, .rep = &u1,
          .rep_len = 24 },
        { .cmd = UVFIO_CMD_DMA_UNMAP, .req = &ua, .req_len = 24, .rep = &ua,
          .rep_len = 24 },
        { .cmd = UVFIO_CMD_DMA_MAP, .err = EEXIST },
    };
    struct uvfio_guest_mem gm;
    struct fake_session s;

    (void)state;
    assert_int_equal(uvfio_guest_mem_create(0x4000, "t", &gm), 0);
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_dma_map(s.c, 0x10000, 0x2000, m1.flags,
                                          gm.fd, 0x1000), 0);
    assert_int_equal(uvfio_client_dma_map_msg(s.c, 0x20000, 0x1000,
                                              UVFIO_DMA_MAP_FLAG_READ,
                                              gm.host), 0);
    /* Overlaps are refused locally, nothing is sent. */
    assert_int_equal(uvfio_client_dma_map_msg(s.c, 0x20800, 0x1000,
                                              UVFIO_DMA_MAP_FLAG_READ,
                                              gm.host), -EEXIST);
    assert_int_equal(uvfio_client_dma_map(s.c, 0xf000, 0x2000,
                                          UVFIO_DMA_MAP_FLAG_READ, gm.fd, 0),
                     -EEXIST);
    assert_int_equal(uvfio_client_dma_unmap(s.c, 0x10000, 0x2000), 0);
    assert_int_equal(uvfio_client_dma_unmap_all(s.c), 0);
    assert_int_equal(uvfio_client_dma_map_msg(s.c, 0x20000, 0x1000,
                                              UVFIO_DMA_MAP_FLAG_READ,
                                              gm.host), -EEXIST);
    /* Bad arguments, refused locally. */
    assert_int_equal(uvfio_client_dma_map(s.c, 0, 0x1000, 1, -1, 0), -EBADF);
    assert_int_equal(uvfio_client_dma_map(s.c, 0, 0, 1, gm.fd, 0), -EINVAL);
    assert_int_equal(uvfio_client_dma_map(s.c, 0, 0x1000, 0, gm.fd, 0),
                     -EINVAL);
    assert_int_equal(uvfio_client_dma_map(s.c, 0, 0x1000, 4, gm.fd, 0),
                     -EINVAL);
    assert_int_equal(uvfio_client_dma_map(s.c, UINT64_MAX - 0xfff, 0x2000, 1,
                                          gm.fd, 0), -EINVAL);
    assert_int_equal(uvfio_client_dma_map(s.c, 0, 0x2000, 1, gm.fd,
                                          UINT64_MAX - 0xfff), -EINVAL);
    assert_int_equal(uvfio_client_dma_map_msg(s.c, 0, 0x1000, 1, NULL),
                     -EINVAL);
    assert_int_equal(uvfio_client_dma_unmap(s.c, 0, 0), -EINVAL);
    fake_session_finish(&s);
    assert_true(same_file(got[0], gm.fd));
    close(got[0]);
    uvfio_guest_mem_destroy(&gm);
}

/* ---- error replies ------------------------------------------------------ */

static void test_error_replies(void **state)
{
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_REGION_READ, .err = EINVAL },
        { .cmd = UVFIO_CMD_REGION_WRITE, .err = EPERM },
        { .cmd = UVFIO_CMD_DEVICE_GET_INFO },
        { .cmd = UVFIO_CMD_DEVICE_GET_INFO, .error_reply = true },
        { .cmd = UVFIO_CMD_DEVICE_GET_INFO, .err = 100000 },
        { .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO, .err = ENOENT },
        { .cmd = UVFIO_CMD_DEVICE_RESET, .err = ENOTTY },
    };
    struct uvfio_client_device_info di;
    struct uvfio_client_region r;
    struct fake_session s;
    uint8_t b[4] = { 0 };

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_region_read(s.c, 0, 0, b, 4), -EINVAL);
    assert_int_equal(uvfio_client_region_write(s.c, 0, 0, b, 4), -EPERM);
    /* A success reply with no payload to GET_INFO is malformed. */
    assert_int_equal(uvfio_client_device_info(s.c, &di), -EPROTO);
    /* ERROR with errno 0 (allowed by the spec) and an absurd errno. */
    assert_int_equal(uvfio_client_device_info(s.c, &di), -EIO);
    assert_int_equal(uvfio_client_device_info(s.c, &di), -EIO);
    assert_int_equal(uvfio_client_region_info(s.c, 0, &r), -ENOENT);
    assert_int_equal(r.fd, -1);
    assert_int_equal(uvfio_client_reset(s.c), -ENOTTY);
    fake_session_finish(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_device_info),
        FAKE_TEST(test_irq_info),
        FAKE_TEST(test_region_info_mmap),
        FAKE_TEST(test_region_info_chain),
        FAKE_TEST(test_region_info_retry),
        FAKE_TEST(test_region_info_empty_sparse),
        FAKE_TEST(test_region_read_split),
        FAKE_TEST(test_region_write_split),
        FAKE_TEST(test_region_rw_args),
        FAKE_TEST(test_set_irqs_none_bool),
        FAKE_TEST(test_set_irqs_eventfd_runs),
        FAKE_TEST(test_set_irqs_fd_limit),
        FAKE_TEST(test_reset_feature),
        FAKE_TEST(test_dma_map_unmap),
        FAKE_TEST(test_error_replies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
