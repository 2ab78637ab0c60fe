/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test_negotiate.c - connecting and VERSION negotiation.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_session.h"

/* Scripts that only need the handshake and then a clean end. */
static void script_none(struct fake *f)
{
    (void)f;
}

/* Answer one DEVICE_GET_INFO, so the test sees the link works. */
static void script_one_info(struct fake *f)
{
    struct uvfio_wire_device_info di = { 16, UVFIO_DEVICE_FLAGS_PCI, 9, 5 };
    struct uvfio_msg m;

    if (!fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m))
        return;
    fake_reply(f, &m, &di, sizeof(di), NULL, 0);
    uvfio_msg_free(&m);
}

static void test_default_offer(void **state)
{
    struct uvfio_client_device_info info;
    const struct uvfio_client_caps *k;
    struct uvfio_client *c;
    struct fake f;

    (void)state;
    fake_init(&f, script_one_info);
    f.caps_json = "{\"capabilities\":{\"max_msg_fds\":4,"
                  "\"max_data_xfer_size\":65536,\"write_multiple\":true,"
                  "\"max_dma_maps\":100,\"pgsizes\":4096}}";
    assert_int_equal(fake_connect(&f, NULL, &c), 0);
    k = uvfio_client_caps(c);
    assert_int_equal(k->major, 0);
    assert_int_equal(k->minor, 0);
    assert_int_equal(k->max_msg_fds, 4);
    assert_int_equal(k->max_data_xfer_size, 65536);
    assert_int_equal(k->max_dma_maps, 100);
    assert_int_equal(k->pgsizes, 4096);
    assert_true(k->write_multiple);
    assert_false(k->twin_socket);
    assert_false(k->precopy_info);
    assert_int_equal(uvfio_client_device_info(c, &info), 0);
    assert_int_equal(info.num_regions, 9);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);

    /* What the client offered, as the server parsed it. */
    assert_int_equal(f.offer_parsed, 0);
    assert_int_equal(f.offer_version.major, UVFIO_PROTO_MAJOR);
    assert_int_equal(f.offer_version.minor, UVFIO_PROTO_MINOR);
    assert_int_equal(f.offer.max_msg_fds, 16);
    assert_int_equal(f.offer.max_data_xfer_size, 1u << 20);
    assert_true(f.offer.write_multiple);
    assert_false(f.offer.twin_socket);
    assert_int_equal(f.offer.extensions, 0);
}

static void test_opts_offer(void **state)
{
    struct uvfio_client_opts o = {
        .max_msg_fds = 3,
        .max_data_xfer_size = 8192,
        .no_write_multiple = true,
        .precopy_info = true,
    };
    const struct uvfio_client_caps *k;
    struct uvfio_client *c;
    struct fake f;

    (void)state;
    fake_init(&f, script_none);
    /* Numbers above the offer are the server's own limits: the client
     * keeps the smaller max_data_xfer_size. */
    f.caps_json = "{\"capabilities\":{\"max_msg_fds\":64,"
                  "\"max_data_xfer_size\":1048576,"
                  "\"uvfio\":{\"precopy_info\":true}}}";
    assert_int_equal(fake_connect(&f, &o, &c), 0);
    k = uvfio_client_caps(c);
    assert_int_equal(k->max_msg_fds, 64);
    assert_int_equal(k->max_data_xfer_size, 8192);
    assert_false(k->write_multiple);
    assert_true(k->precopy_info);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    assert_int_equal(f.offer_parsed, 0);
    assert_int_equal(f.offer.max_msg_fds, 3);
    assert_int_equal(f.offer.max_data_xfer_size, 8192);
    assert_false(f.offer.write_multiple);
    assert_int_equal(f.offer.extensions, UVFIO_EXT_PRECOPY_INFO);
}

/* A reply without JSON means the spec's defaults. */
static void test_no_json_reply(void **state)
{
    const struct uvfio_client_caps *k;
    struct uvfio_client *c;
    struct fake f;

    (void)state;
    fake_init(&f, script_none);
    f.caps_json = NULL;
    assert_int_equal(fake_connect(&f, NULL, &c), 0);
    k = uvfio_client_caps(c);
    assert_int_equal(k->max_msg_fds, 1);
    assert_int_equal(k->max_data_xfer_size, 1u << 20);
    assert_int_equal(k->max_dma_maps, 65535);
    assert_int_equal(k->pgsizes, 4096);
    assert_false(k->write_multiple);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
}

static int connect_with_reply(const char *json, uint16_t major, uint16_t minor,
                              const struct uvfio_client_opts *o)
{
    struct uvfio_client *c = NULL;
    struct fake f;
    int r;

    fake_init(&f, script_none);
    f.caps_json = json;
    f.major = major;
    f.minor = minor;
    r = fake_connect(&f, o, &c);
    assert_true(r == 0 ? c != NULL : c == NULL);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    return r;
}

static void test_not_subset(void **state)
{
    struct uvfio_client_opts no_wm = { .no_write_multiple = true };

    (void)state;
    assert_int_equal(connect_with_reply(
        "{\"capabilities\":{\"write_multiple\":true}}", 0, 0, &no_wm),
        -EPROTO);
    assert_int_equal(connect_with_reply(
        "{\"capabilities\":{\"twin_socket\":{\"supported\":true,"
        "\"fd_index\":0}}}", 0, 0, NULL), -EPROTO);
    assert_int_equal(connect_with_reply(
        "{\"capabilities\":{\"uvfio\":{\"precopy_info\":true}}}", 0, 0, NULL),
        -EPROTO);
    assert_int_equal(connect_with_reply(
        "{\"capabilities\":{\"pgsizes\":8192}}", 0, 0, NULL), -EPROTO);
}

static void test_bad_version(void **state)
{
    (void)state;
    assert_int_equal(connect_with_reply(NULL, 1, 0, NULL), -EPROTO);
    assert_int_equal(connect_with_reply(NULL, 0, UVFIO_PROTO_MINOR + 1, NULL),
                     -EPROTO);
    assert_int_equal(connect_with_reply(NULL, 0, UVFIO_PROTO_MINOR, NULL), 0);
}

static void test_bad_json(void **state)
{
    (void)state;
    assert_int_equal(connect_with_reply("{\"capabilities\":", 0, 0, NULL),
                     -EPROTO);
    assert_int_equal(connect_with_reply(
        "{\"capabilities\":{\"max_msg_fds\":\"many\"}}", 0, 0, NULL),
        -EPROTO);
    assert_int_equal(connect_with_reply("[1,2]", 0, 0, NULL), -EPROTO);
}

/* JSON not NUL-terminated inside the payload. */
static void script_unterminated(struct fake *f)
{
    const char body[] = "\0\0\0\0{\"capabilities\":{}}";
    struct uvfio_msg m;

    if (!fake_expect(f, UVFIO_CMD_VERSION, &m))
        return;
    fake_reply(f, &m, body, sizeof(body) - 1, NULL, 0);
    uvfio_msg_free(&m);
}

static void script_version_error(struct fake *f)
{
    struct uvfio_msg m;

    if (!fake_expect(f, UVFIO_CMD_VERSION, &m))
        return;
    fake_error(f, &m, ENOTSUP);
    uvfio_msg_free(&m);
}

/* The reply carries our msg_id but another command. */
static void script_wrong_cmd(struct fake *f)
{
    struct uvfio_wire_version v = { 0, 0 };
    struct uvfio_wire_hdr h;
    struct uvfio_msg m;

    if (!fake_expect(f, UVFIO_CMD_VERSION, &m))
        return;
    h = (struct uvfio_wire_hdr){ .msg_id = m.hdr.msg_id,
                                 .cmd = UVFIO_CMD_DEVICE_GET_INFO,
                                 .flags = UVFIO_HDR_TYPE_REPLY };
    fake_send(f, &h, &v, sizeof(v), NULL, 0);
    uvfio_msg_free(&m);
}

static void script_close_at_once(struct fake *f)
{
    struct uvfio_msg m;

    if (!fake_expect(f, UVFIO_CMD_VERSION, &m))
        return;
    uvfio_msg_free(&m);
    close(f->sock);
    f->sock = -1;
}

static int connect_raw(fake_script s, const struct uvfio_client_opts *o)
{
    struct uvfio_client *c = NULL;
    struct fake f;
    int fd, r;

    fake_init(&f, s);
    f.no_handshake = true;
    fake_start(&f, &fd);
    r = uvfio_client_connect_fd(fd, o, &c);
    assert_null(c);
    /* The client is gone: make the script's socket see EOF. */
    assert_int_equal(fake_join(&f), 0);
    return r;
}

static void test_hostile_handshake(void **state)
{
    (void)state;
    assert_int_equal(connect_raw(script_unterminated, NULL), -EPROTO);
    assert_int_equal(connect_raw(script_version_error, NULL), -ENOTSUP);
    assert_int_equal(connect_raw(script_wrong_cmd, NULL), -EPROTO);
    assert_int_equal(connect_raw(script_close_at_once, NULL), -ECONNRESET);
}

/* A server that never answers VERSION: connect times out. */
static void script_silent(struct fake *f)
{
    struct uvfio_msg m;

    if (!fake_expect(f, UVFIO_CMD_VERSION, &m))
        return;
    uvfio_msg_free(&m);
    /* Hold the socket open until the client gives up and closes. */
    FAKE_CHECK(f, fake_wait_eof(f, 5000));
}

static void test_version_timeout(void **state)
{
    struct uvfio_client_opts o = { .timeout_ms = 200 };
    int64_t t0 = fake_now_ms(), dt;
    struct uvfio_client *c = NULL;
    struct fake f;
    int fd;

    (void)state;
    fake_init(&f, script_silent);
    f.no_handshake = true;
    fake_start(&f, &fd);
    assert_int_equal(uvfio_client_connect_fd(fd, &o, &c), -ETIMEDOUT);
    dt = fake_now_ms() - t0;
    assert_true(dt >= 150 && dt < 3000);
    assert_int_equal(fake_join(&f), 0);
}

static void test_invalid_opts(void **state)
{
    struct uvfio_client_opts small = { .max_data_xfer_size = 100 };
    struct uvfio_client_opts big = { .max_data_xfer_size = (128u << 20) };
    struct uvfio_client_opts fds = { .max_msg_fds = 254 };
    struct uvfio_client *c;
    int sv[2];

    (void)state;
    /* The fd is the client's from the call on: closed on failure too. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(uvfio_client_connect_fd(sv[0], &small, &c), -EINVAL);
    assert_null(c);
    assert_int_equal(fcntl(sv[0], F_GETFD), -1);
    close(sv[1]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(uvfio_client_connect_fd(sv[0], &big, &c), -EINVAL);
    close(sv[1]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(uvfio_client_connect_fd(sv[0], &fds, &c), -EINVAL);
    close(sv[1]);
    assert_int_equal(uvfio_client_connect_fd(-1, NULL, &c), -EBADF);
}

static void test_connect_path(void **state)
{
    char longpath[200];
    struct uvfio_client *c;

    (void)state;
    assert_int_equal(uvfio_client_connect("/nonexistent/uvfio.sock", NULL, &c),
                     -ENOENT);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = 0;
    assert_int_equal(uvfio_client_connect(longpath, NULL, &c), -ENAMETOOLONG);
    assert_int_equal(uvfio_client_connect("", NULL, &c), -EINVAL);
}

/* A real listening socket: the fake accepts one connection. */
static void script_accept(struct fake *f)
{
    int lsock = f->sock;

    f->sock = accept(lsock, NULL, NULL);
    close(lsock);
    FAKE_CHECK(f, f->sock >= 0);
    if (!fake_handshake(f))
        return;
    script_one_info(f);
}

static void *accept_main(void *arg)
{
    script_accept(arg);
    return NULL;
}

static void test_connect_listening(void **state)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct uvfio_client_device_info info;
    struct uvfio_client *c;
    char dir[] = "/tmp/uvfio-client-XXXXXX";
    struct fake f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dev.sock", dir);
    fake_init(&f, script_accept);
    f.no_handshake = true;
    f.sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f.sock >= 0);
    assert_int_equal(bind(f.sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f.sock, 1), 0);
    assert_int_equal(pthread_create(&f.thread, NULL, accept_main, &f), 0);
    assert_int_equal(uvfio_client_connect(sa.sun_path, NULL, &c), 0);
    assert_int_equal(uvfio_client_device_info(c, &info), 0);
    assert_int_equal(info.num_irqs, 5);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    unlink(sa.sun_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_default_offer),
        FAKE_TEST(test_opts_offer),
        FAKE_TEST(test_no_json_reply),
        FAKE_TEST(test_not_subset),
        FAKE_TEST(test_bad_version),
        FAKE_TEST(test_bad_json),
        FAKE_TEST(test_hostile_handshake),
        FAKE_TEST(test_version_timeout),
        FAKE_TEST(test_invalid_opts),
        FAKE_TEST(test_connect_path),
        FAKE_TEST(test_connect_listening),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
