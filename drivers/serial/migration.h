/* SPDX-License-Identifier: MIT */
/*
 * serial/migration.h - live migration of uvfio-serial (migration v2 with
 * P2P and PRE_COPY), see migration.c for the stream and the line rules.
 *
 * The glue (serial.c) embeds a struct serial_mig in its device, names
 * serial_mig_ops in its uvfio_device_config, and asks serial_mig_line_open()
 * before it moves a byte between the UART and the chardev: migration closes
 * the line while the device must not change from outside.
 */
#ifndef UVFIO_SERIAL_MIGRATION_H
#define UVFIO_SERIAL_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/migration.h>

#include "uart.h"

struct serial;

#define SERIAL_MIG_FLAGS (UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P | \
                          UVFIO_MIGRATION_PRE_COPY)

extern const struct uvfio_migration_ops serial_mig_ops;

/*
 * The stream, as the source writes it and the destination checks it (a
 * compatibility interface between uvfio-serial versions): records framed
 * by the core's image helper with this magic and version, each payload
 * opening with struct serial_rec_hdr.  migration.c explains the kinds.
 */
#define SERIAL_MIG_MAGIC        0x4c41495245535655ull   /* "UVSERIAL" */
#define SERIAL_MIG_VERSION      1u

enum serial_rec_kind {
    SERIAL_REC_CONFIG = 1,      /* + struct serial_rec_config */
    SERIAL_REC_STATE = 2,       /* + struct uart_state */
    SERIAL_REC_FINAL = 3,       /* + struct uart_state + PCI blob */
};

struct serial_rec_hdr {
    uint8_t kind;
    uint8_t uart_version;       /* UART_STATE_VERSION */
    uint16_t reserved;          /* 0 */
    uint32_t pci_len;           /* FINAL: bytes of the PCI blob, else 0 */
} __attribute__((packed));

struct serial_rec_config {
    uint8_t lcr, dll, dlm, ier, fcr, mcr, scr, reserved;
} __attribute__((packed));

/* Fields are migration.c's own. */
struct serial_mig {
    struct serial *serial;
    struct uart *uart;
    void (*resync)(struct serial *s);   /* re-watch the chardev */
    bool line_open;             /* bytes may move to and from the chardev */
    bool frozen;                /* the character timer is held */
    struct uvfio_mig_records rec;       /* the stream: the core's helper */
};

/* `resync` is called whenever the line opens or closes, so the glue can
 * watch the chardev for what it may do now. */
void serial_mig_init(struct serial_mig *m, struct serial *s, struct uart *u,
                     void (*resync)(struct serial *s));
void serial_mig_clear(struct serial_mig *m);

/* Whether the UART may take input from or give output to the chardev. */
bool serial_mig_line_open(const struct serial_mig *m);

#endif /* UVFIO_SERIAL_MIGRATION_H */
