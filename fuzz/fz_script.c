/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_script.c - see fz_script.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <uvfio/dirty.h>
#include <uvfio/uvfio.h>

#include "fz_frame.h"
#include "fz_script.h"
#include "fz_util.h"

#define HOST_SIZE       FZ_SCRIPT_HOST_SIZE
#define IOVA_FD         FZ_SCRIPT_IOVA_FD
#define IOVA_MSG        FZ_SCRIPT_IOVA_MSG
#define IOVA_MSG_RO     FZ_SCRIPT_IOVA_MSG_RO

/* A dirty report of LOG_SPAN bytes at 4 KiB: 8 KiB of bitmap, two
 * windows at a 4 KiB max_data_xfer_size. */
#define LOG_SPAN        (1ull << 28)

struct script {
    struct uvfio_client *c;
    struct uvfio_guest_mem gm;
    uint8_t *host;              /* guest memory shared without an fd */
    uint8_t buf[4096 + 512];
    uint64_t bitmap[LOG_SPAN / 4096 / 64];
};

/* A result of a call that asked for `want` bytes. */
static void check_len(const char *what, ssize_t r, size_t want)
{
    if (r > (ssize_t)want || r < -4095)
        fz_fail("%s returned %zd for %zu bytes", what, r, want);
}

static void regions(struct script *s)
{
    static const uint32_t idx[] = { 0, 2, 7 };
    struct uvfio_client_region r;
    struct uvfio_client_device_info di;
    struct uvfio_client_irq_info ii;
    size_t i, len;
    void *p;

    uvfio_client_device_info(s->c, &di);
    for (i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
        if (uvfio_client_region_info(s->c, idx[i], &r) < 0)
            continue;
        if (r.nr_sparse && !r.sparse)
            fz_fail("sparse areas without an array");
        p = uvfio_client_region_mmap(s->c, &r, 0, &len);
        if (p)
            munmap(p, len);
        uvfio_client_region_free(&r);
    }
    uvfio_client_irq_info(s->c, UVFIO_PCI_MSIX_IRQ_INDEX, &ii);
}

static void region_access(struct script *s)
{
    static const uint8_t word[4] = { 1, 2, 3, 4 };
    ssize_t r;

    r = uvfio_client_region_read(s->c, 0, 0, s->buf, 64);
    check_len("region_read", r, 64);
    r = uvfio_client_region_read(s->c, 2, 0, s->buf, sizeof(s->buf));
    check_len("region_read (split)", r, sizeof(s->buf));
    r = uvfio_client_region_write(s->c, 0, 8, s->buf, 16);
    check_len("region_write", r, 16);
    r = uvfio_client_region_write(s->c, 2, 0, s->buf, sizeof(s->buf));
    check_len("region_write (split)", r, sizeof(s->buf));
    uvfio_client_region_write_posted(s->c, 0, 0, word, sizeof(word));
    uvfio_client_region_write_posted(s->c, 0, 4, word, sizeof(word));
    uvfio_client_region_write_posted(s->c, 0, 0x100, s->buf, 64);
    uvfio_client_flush(s->c);
}

static void irqs(struct script *s)
{
    static const uint8_t on[2] = { 1, 0 };
    int efd[2] = { eventfd(0, EFD_CLOEXEC), -1 };

    if (efd[0] < 0)
        fz_fail("eventfd: %s", strerror(errno));
    uvfio_client_set_irqs(s->c, UVFIO_IRQ_SET_DATA_EVENTFD |
                          UVFIO_IRQ_SET_ACTION_TRIGGER,
                          UVFIO_PCI_MSIX_IRQ_INDEX, 0, 2, NULL, efd);
    uvfio_client_set_irqs(s->c, UVFIO_IRQ_SET_DATA_BOOL |
                          UVFIO_IRQ_SET_ACTION_MASK,
                          UVFIO_PCI_MSIX_IRQ_INDEX, 0, 2, on, NULL);
    close(efd[0]);
}

static void dma(struct script *s)
{
    const uint32_t rw = UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE;

    uvfio_client_dma_map(s->c, IOVA_FD, HOST_SIZE, rw, s->gm.fd, 0);
    uvfio_client_dma_map_msg(s->c, IOVA_MSG, HOST_SIZE, rw, s->host);
    uvfio_client_dma_map_msg(s->c, IOVA_MSG_RO, 4096,
                             UVFIO_DMA_MAP_FLAG_READ, s->host);
    /* Idle: only DMA requests already here are served. */
    uvfio_client_dispatch(s->c, 0);
}

/* A call that returns 0 or -errno. */
static void check_ret(const char *what, int r)
{
    if (r > 0 || r < -4095)
        fz_fail("%s returned %d", what, r);
}

static void logging(struct script *s)
{
    static const struct uvfio_dirty_range r[2] = {
        { IOVA_FD, HOST_SIZE }, { IOVA_MSG, HOST_SIZE },
    };
    uint64_t ps = 4096;
    uint8_t bits[2];

    check_ret("logging_start",
              uvfio_client_dma_logging_start(s->c, r, 2, &ps));
    /* The caller's page size, whatever START answered: the bitmap is
     * sized for it. */
    memset(s->bitmap, 0, sizeof(s->bitmap));
    check_ret("logging_report",
              uvfio_client_dma_logging_report(s->c, 0, LOG_SPAN, 4096,
                                              s->bitmap));
    check_ret("unmap_dirty",
              uvfio_client_dma_unmap_dirty(s->c, IOVA_MSG_RO, 4096, 4096,
                                           bits, sizeof(bits)));
    check_ret("logging_stop", uvfio_client_dma_logging_stop(s->c));
}

static void migration(struct script *s)
{
    struct uvfio_mig_precopy_info pi;
    enum uvfio_mig_state st;
    uint64_t v;
    uint8_t big[200];
    ssize_t r;

    uvfio_client_mig_get_flags(s->c, &v);
    uvfio_client_mig_get_state(s->c, &st);
    uvfio_client_mig_set_state(s->c, UVFIO_MIG_STATE_PRE_COPY);
    uvfio_client_mig_precopy_info(s->c, &pi);
    uvfio_client_mig_data_size(s->c, &v);
    r = uvfio_client_mig_read(s->c, s->buf, sizeof(s->buf));
    check_len("mig_read", r, sizeof(s->buf));
    uvfio_client_mig_write(s->c, s->buf, 5000);
    memset(big, 0, sizeof(big));
    uvfio_client_feature(s->c, UVFIO_FEATURE_GET |
                         UVFIO_FEATURE_DMA_LOGGING_REPORT, big, sizeof(big));
    uvfio_client_feature(s->c, UVFIO_FEATURE_PROBE | UVFIO_FEATURE_SET |
                         UVFIO_FEATURE_DMA_LOGGING_START, NULL, 0);
}

static void teardown(struct script *s)
{
    uvfio_client_dma_unmap(s->c, IOVA_MSG, HOST_SIZE);
    uvfio_client_dma_unmap_all(s->c);
    uvfio_client_reset(s->c);
    uvfio_client_dispatch(s->c, 0);
}

static void run_calls(struct script *s, uint8_t cfg, int sock)
{
    struct uvfio_client_opts o = {
        .max_msg_fds = 4,
        .max_data_xfer_size = fz_script_xfer(cfg),
        .twin_socket = cfg & FZC_CFG_TWIN,
        .precopy_info = true,
        .timeout_ms = 1000,
    };

    if (uvfio_client_connect_fd(sock, &o, &s->c) < 0)
        return;
    regions(s);
    region_access(s);
    irqs(s);
    dma(s);
    logging(s);
    migration(s);
    teardown(s);
    uvfio_client_close(s->c);
}

uint64_t fz_script_xfer(uint8_t cfg)
{
    return cfg & FZC_CFG_SMALL_XFER ? 4096 : 65536;
}

void fz_script_run(int sock, uint8_t cfg)
{
    struct script *s = calloc(1, sizeof(*s));

    if (!s || uvfio_guest_mem_create(HOST_SIZE, "fuzz-guest", &s->gm) < 0 ||
        !(s->host = calloc(1, HOST_SIZE)))
        fz_fail("cannot make guest memory");
    run_calls(s, cfg, sock);
    uvfio_guest_mem_destroy(&s->gm);
    free(s->host);
    free(s);
}
