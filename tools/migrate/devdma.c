// SPDX-License-Identifier: MIT
/*
 * migrate/devdma.c - programming uvfio-edu's copy queue from the VMM side
 * (devdma.h), with the register map of drivers/edu/regs.h: the device's
 * published interface to guest drivers.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <uvfio/uvfio.h>

#include "devdma.h"
#include "regs.h"

#define PCI_VENDOR_OFF          0x00
#define PCI_COMMAND_OFF         0x04
#define PCI_COMMAND_MEMORY      0x2u
#define PCI_COMMAND_MASTER      0x4u

static int cfg_read(struct uvfio_client *c, uint64_t off, void *v, size_t n)
{
    ssize_t r = uvfio_client_region_read(c, UVFIO_PCI_CONFIG_REGION, off, v,
                                         n);

    return r < 0 ? (int)r : (size_t)r == n ? 0 : -EIO;
}

static int cfg_write(struct uvfio_client *c, uint64_t off, const void *v,
                     size_t n)
{
    ssize_t r = uvfio_client_region_write(c, UVFIO_PCI_CONFIG_REGION, off, v,
                                          n);

    return r < 0 ? (int)r : (size_t)r == n ? 0 : -EIO;
}

static int reg_read(struct uvfio_client *c, uint32_t reg, uint64_t *v,
                    size_t n)
{
    ssize_t r;

    /* registers are little-endian: n bytes land in the low end */
    *v = 0;
    r = uvfio_client_region_read(c, UVFIO_PCI_BAR0_REGION, reg, v, n);
    *v = le64toh(*v);
    return r < 0 ? (int)r : (size_t)r == n ? 0 : -EIO;
}

static int reg_write(struct uvfio_client *c, uint32_t reg, uint64_t v,
                     size_t n)
{
    ssize_t r;

    v = htole64(v);
    r = uvfio_client_region_write(c, UVFIO_PCI_BAR0_REGION, reg, &v, n);
    return r < 0 ? (int)r : (size_t)r == n ? 0 : -EIO;
}

/* 1234:11e8 with uvfio's register extension. */
static int check_edu(struct uvfio_client *c)
{
    uint16_t id[2];
    uint64_t ext;
    int r;

    r = cfg_read(c, PCI_VENDOR_OFF, id, sizeof(id));
    if (r)
        return r;
    if (le16toh(id[0]) != EDU_VENDOR_ID || le16toh(id[1]) != EDU_DEVICE_ID)
        return -ENODEV;
    r = reg_read(c, EDU_REG_EXT_VERSION, &ext, 4);
    if (r)
        return r;
    return ext >= EDU_EXT_VERSION ? 0 : -ENODEV;
}

/* Memory decoding for the BAR, bus mastering for the DMA. */
static int enable_function(struct uvfio_client *c)
{
    uint16_t cmd;
    int r;

    r = cfg_read(c, PCI_COMMAND_OFF, &cmd, sizeof(cmd));
    if (r)
        return r;
    cmd = htole16(le16toh(cmd) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    return cfg_write(c, PCI_COMMAND_OFF, &cmd, sizeof(cmd));
}

int devdma_start(struct uvfio_client *c, uint64_t iova, uint64_t size,
                 uint64_t rate)
{
    uint64_t kib = rate / 1024, status;
    int r;

    if (!size || iova % EDU_CQ_PAGE_SIZE || size % EDU_CQ_PAGE_SIZE ||
        size - 1 > UINT64_MAX - iova)
        return -EINVAL;
    if (!kib)
        kib = 1;
    if (kib > EDU_CQ_MAX_RATE)
        return -ERANGE;
    r = check_edu(c);
    if (!r)
        r = enable_function(c);
    /* the window only takes a new value while the queue is stopped */
    if (!r)
        r = reg_write(c, EDU_REG_CQ_CTRL, 0, 4);
    if (!r)
        r = reg_write(c, EDU_REG_CQ_ADDR, iova, 8);
    if (!r)
        r = reg_write(c, EDU_REG_CQ_SIZE, size, 8);
    if (!r)
        r = reg_write(c, EDU_REG_CQ_RATE, kib, 4);
    if (!r)
        r = reg_write(c, EDU_REG_CQ_CTRL, EDU_CQ_CTRL_ENABLE, 4);
    if (!r)
        r = reg_read(c, EDU_REG_CQ_STATUS, &status, 4);
    if (!r && !(status & EDU_CQ_STATUS_ACTIVE))
        r = -EIO;
    return r;
}

int devdma_status(struct uvfio_client *c, struct devdma_status *st)
{
    uint64_t v;
    int r;

    memset(st, 0, sizeof(*st));
    r = reg_read(c, EDU_REG_CQ_STATUS, &v, 4);
    st->status = (uint32_t)v;
    if (!r)
        r = reg_read(c, EDU_REG_CQ_ERROR, &v, 4);
    st->error = (uint32_t)v;
    if (!r)
        r = reg_read(c, EDU_REG_CQ_PASSES, &st->passes, 8);
    if (!r)
        r = reg_read(c, EDU_REG_CQ_POS, &st->pos, 8);
    if (!r)
        r = reg_read(c, EDU_REG_CQ_BYTES, &st->bytes, 8);
    return r;
}
