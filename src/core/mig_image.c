/* SPDX-License-Identifier: MIT */
/*
 * core/mig_image.c - the optional framed state image for drivers whose
 * migration state is one blob (uvfio/migration.h).
 *
 * Layout (little-endian on the hosts we run on, host-endian as the rest of
 * vfio-user):
 *   0  u32 frame magic "UVMI"     4  u32 frame version (1)
 *   8  u64 driver magic          16  u32 driver version
 *  20  u32 CRC-32 of the payload 24  u64 payload length
 *  32  payload
 * The frame lets the destination refuse, before applying anything, an
 * image from another kind of device or a newer driver (as soon as the
 * header has arrived), one that runs past its announced length, one that
 * stops short, and one whose bytes were damaged on the way.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/migration.h>

#define IMG_FRAME_MAGIC     0x494d5655u     /* "UVMI" */
#define IMG_FRAME_VERSION   1u

struct img_hdr {
    uint32_t frame_magic;
    uint32_t frame_version;
    uint64_t magic;
    uint32_t version;
    uint32_t crc;
    uint64_t length;
} __attribute__((packed));

_Static_assert(sizeof(struct img_hdr) == UVFIO_MIG_IMAGE_HDR_SIZE, "img hdr");

/* ---- CRC-32 (reflected polynomial 0xedb88320) ------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
    uint32_t i, c;
    int k;

    for (i = 0; i < 256; i++) {
        c = i;
        for (k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t uvfio_crc32(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    pthread_once(&crc_once, crc_table_init);
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- saving ------------------------------------------------------------ */

uint64_t uvfio_mig_image_size(size_t len)
{
    return (uint64_t)sizeof(struct img_hdr) + len;
}

int uvfio_mig_image_save(struct uvfio_mig_image *img, uint64_t magic,
                         uint32_t version, const void *state, size_t len)
{
    struct img_hdr h = {
        .frame_magic = IMG_FRAME_MAGIC, .frame_version = IMG_FRAME_VERSION,
        .magic = magic, .version = version,
        .crc = uvfio_crc32(0, state, len), .length = len,
    };
    uint8_t *buf;

    if (len > SIZE_MAX - sizeof(h))
        return -EFBIG;
    buf = malloc(sizeof(h) + len);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, &h, sizeof(h));
    if (len)
        memcpy(buf + sizeof(h), state, len);

    uvfio_mig_image_clear(img);
    img->buf_ = buf;
    img->len_ = sizeof(h) + len;
    img->magic_ = magic;
    img->version_ = version;
    return 0;
}

ssize_t uvfio_mig_image_read(struct uvfio_mig_image *img, void *buf,
                             size_t len)
{
    size_t n = uvfio_mig_image_remaining(img);

    if (img->loading_)
        return -EINVAL;
    if (n > len)
        n = len;
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    if (n)
        memcpy(buf, img->buf_ + img->pos_, n);
    img->pos_ += n;
    return (ssize_t)n;
}

size_t uvfio_mig_image_remaining(const struct uvfio_mig_image *img)
{
    if (img->loading_ || !img->buf_)
        return 0;
    return img->len_ - img->pos_;
}

/* ---- loading ----------------------------------------------------------- */

int uvfio_mig_image_load_begin(struct uvfio_mig_image *img, uint64_t magic,
                               uint32_t version, size_t max_len)
{
    uvfio_mig_image_clear(img);
    if (max_len > SIZE_MAX - sizeof(struct img_hdr))
        return -EINVAL;
    img->buf_ = malloc(sizeof(struct img_hdr));
    if (!img->buf_)
        return -ENOMEM;
    img->loading_ = true;
    img->magic_ = magic;
    img->version_ = version;
    img->max_ = max_len;
    return 0;
}

static uint64_t img_payload_len(const struct uvfio_mig_image *img)
{
    struct img_hdr h;

    memcpy(&h, img->buf_, sizeof(h));
    return h.length;
}

/* The header is complete: is this an image we can load? */
static int img_accept_header(struct uvfio_mig_image *img)
{
    struct img_hdr h;
    uint8_t *buf;

    memcpy(&h, img->buf_, sizeof(h));
    if (h.frame_magic != IMG_FRAME_MAGIC ||
        h.frame_version != IMG_FRAME_VERSION || h.magic != img->magic_ ||
        h.version > img->version_ || h.length > img->max_)
        return -EINVAL;
    buf = realloc(img->buf_, sizeof(h) + (size_t)h.length);
    if (!buf)
        return -ENOMEM;
    img->buf_ = buf;
    img->loaded_version_ = h.version;
    return 0;
}

static int img_append(struct uvfio_mig_image *img, const uint8_t *p,
                      size_t len)
{
    size_t n, total;
    int ret;

    while (len) {
        if (img->len_ < sizeof(struct img_hdr)) {
            n = sizeof(struct img_hdr) - img->len_;
            n = n < len ? n : len;
            memcpy(img->buf_ + img->len_, p, n);
            img->len_ += n;
            p += n;
            len -= n;
            if (img->len_ == sizeof(struct img_hdr)) {
                ret = img_accept_header(img);
                if (ret)
                    return ret;
            }
            continue;
        }
        total = sizeof(struct img_hdr) + (size_t)img_payload_len(img);
        if (len > total - img->len_)
            return -EFBIG;
        memcpy(img->buf_ + img->len_, p, len);
        img->len_ += len;
        len = 0;
    }
    return 0;
}

int uvfio_mig_image_write(struct uvfio_mig_image *img, const void *buf,
                          size_t len)
{
    if (!img->loading_)
        return -EINVAL;
    if (!img->err_)
        img->err_ = img_append(img, buf, len);
    return img->err_;
}

size_t uvfio_mig_image_needed(const struct uvfio_mig_image *img)
{
    if (!img->loading_ || img->err_)
        return 0;
    if (img->len_ < sizeof(struct img_hdr))
        return sizeof(struct img_hdr) - img->len_;
    return sizeof(struct img_hdr) + (size_t)img_payload_len(img) - img->len_;
}

int uvfio_mig_image_load_end(struct uvfio_mig_image *img, const void **state,
                             size_t *len, uint32_t *version)
{
    struct img_hdr h;

    if (!img->loading_)
        return -EINVAL;
    if (img->err_)
        return img->err_;
    if (img->len_ < sizeof(h))
        return -EINVAL;
    memcpy(&h, img->buf_, sizeof(h));
    if (img->len_ - sizeof(h) != h.length)
        return -EINVAL;
    if (uvfio_crc32(0, img->buf_ + sizeof(h), (size_t)h.length) != h.crc)
        return -EBADMSG;
    *state = img->buf_ + sizeof(h);
    *len = (size_t)h.length;
    if (version)
        *version = h.version;
    return 0;
}

void uvfio_mig_image_clear(struct uvfio_mig_image *img)
{
    free(img->buf_);
    memset(img, 0, sizeof(*img));
}
