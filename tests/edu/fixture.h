/* SPDX-License-Identifier: MIT */
/*
 * tests/edu/fixture.h - a uvfio-edu device driven the way the server
 * drives it: through the core's handlers (region access, SET_IRQS,
 * DMA_MAP/UNMAP, DEVICE_FEATURE, MIG_DATA_*), with a stand-in client whose
 * message-path DMA reads and writes test memory.
 *
 * Every helper asserts what it must; those returning an int give the
 * core's result for the tests that expect a failure.
 */
#ifndef TESTS_EDU_FIXTURE_H
#define TESTS_EDU_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvfio/device.h>
#include <uvfio/migration.h>
#include <uvfio/pci.h>

#include "edu.h"
#include "regs.h"

#define FX_MSG_WINDOWS  4

/* Memory behind message-path maps: the stand-in client serves it. */
struct fx_msg_window {
    uint64_t iova;
    uint8_t *host;
    size_t size;
};

struct fx {
    struct edu *edu;
    struct uvfio_device *dev;
    struct fx_msg_window msg[FX_MSG_WINDOWS];
    unsigned int dma_rw_calls;
    bool attached;
};

/* A device (opts may be NULL), attached to the stand-in client, with
 * memory decode and bus mastering on. */
struct fx *fx_create(const struct edu_opts *opts);
void fx_destroy(struct fx *f);

/* BAR0. */
uint32_t rd32(struct fx *f, uint32_t off);
uint64_t rd64(struct fx *f, uint32_t off);
void wr32(struct fx *f, uint32_t off, uint32_t v);
void wr64(struct fx *f, uint32_t off, uint64_t v);
ssize_t bar_rw(struct fx *f, uint64_t off, void *buf, size_t len, bool write);

/* Config space. */
uint32_t cfg_rd(struct fx *f, uint32_t off, unsigned int len);
void cfg_wr(struct fx *f, uint32_t off, uint32_t v, unsigned int len);
void fx_bus_master(struct fx *f, bool on);
/* Offset of the MSI capability. */
uint32_t fx_msi_cap(struct fx *f);

/* Guest memory: a memfd of `size` bytes mapped here; *fd stays ours. */
void *fx_memfd(size_t size, int *fd);
void fx_memfd_free(void *p, size_t size, int fd);
int fx_map_fd(struct fx *f, uint64_t iova, uint64_t size, int fd,
              uint32_t prot);
/* Without an fd: DMA to it reaches fx's dma_rw, served from `host`. */
int fx_map_msg(struct fx *f, uint64_t iova, uint64_t size, void *host,
               uint32_t prot);
int fx_unmap(struct fx *f, uint64_t iova, uint64_t size);

/* IRQs: eventfd on (index, vector 0) - a dup is handed over. */
int fx_irq_eventfd(struct fx *f, uint32_t index, int efd);
int fx_irq_unmask(struct fx *f, uint32_t index);
int efd_new(void);
/* Events counted and cleared. */
uint64_t efd_take(int fd);

/* Serve the driver's watched fds (the copy queue's hand-offs) for ms. */
void fx_pump(struct fx *f, int ms);
/* Sleep ms. */
void fx_sleep_ms(int ms);

/* Migration, through DEVICE_FEATURE and MIG_DATA_*. */
int fx_set_state(struct fx *f, enum uvfio_mig_state s);
int fx_get_state(struct fx *f);
int fx_precopy_info(struct fx *f, uint64_t *initial, uint64_t *dirty);
int fx_data_size(struct fx *f, uint64_t *len);
/* Read the saving stream until a short read: bytes appended to *buf. */
ssize_t fx_read_stream(struct fx *f, uint8_t **buf, size_t *len);
/* One MIG_DATA_WRITE per `chunk` bytes; the first error. */
int fx_write_stream(struct fx *f, const void *buf, size_t len, size_t chunk);

/* What a guest reads of the device without changing it: every register
 * and config space, for "state equal" checks. */
struct fx_snapshot {
    uint64_t regs[32];
    uint8_t config[256];
};
void fx_snapshot(struct fx *f, struct fx_snapshot *s);
void fx_snapshot_equal(const struct fx_snapshot *a,
                       const struct fx_snapshot *b);
/* The DMA buffer, copied out by the DMA engine to `iova` (mapped, `host`
 * its bytes here).  This is a DMA command: it changes DMA_SRC/DST/CNT. */
void fx_read_buffer(struct fx *f, uint64_t iova, const void *host,
                    uint8_t out[EDU_DMA_BUF_SIZE]);
/* The DMA buffer loaded from `iova` (holding `data`, copied there). */
void fx_load_buffer(struct fx *f, uint64_t iova, void *host,
                    const uint8_t data[EDU_DMA_BUF_SIZE]);
/* Program and start a DMA command; returns DMA_ERROR. */
uint32_t fx_dma(struct fx *f, uint64_t src, uint64_t dst, uint64_t cnt,
                uint32_t cmd);

/* Assert every page of [host, host+size) (window at iova) holds what
 * `passes` complete passes and `pos` pages more predict. */
void fx_check_window(const void *host, uint64_t iova, uint64_t size,
                     uint64_t passes, uint64_t pos);

#endif /* TESTS_EDU_FIXTURE_H */
