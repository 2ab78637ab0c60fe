/* SPDX-License-Identifier: MIT */
/*
 * serial/serial.h - the uvfio-serial PCI function: a 16550A (uart.h) in an
 * 8-byte I/O BAR, its interrupt on INTx pin A, its line on a chardev.
 *
 * It carries the identity of QEMU's own pci-serial, so a guest binds it
 * with the driver it already has (Linux: 8250_pci, "Red Hat serial").
 */
#ifndef UVFIO_SERIAL_SERIAL_H
#define UVFIO_SERIAL_SERIAL_H

#include <uvfio/device.h>

#include "chardev.h"
#include "uart.h"

#define SERIAL_VENDOR_ID        0x1b36  /* Red Hat, Inc. */
#define SERIAL_DEVICE_ID        0x0002  /* QEMU PCI 16550A adapter */
#define SERIAL_SUBSYS_VENDOR_ID 0x1af4
#define SERIAL_SUBSYS_ID        0x1100
#define SERIAL_REVISION         1
#define SERIAL_CLASS_CODE       0x070002 /* serial controller, 16550 */
#define SERIAL_BAR_SIZE         UART_NR_REGS

struct serial;
struct serial_mig;

/* Creates the device around `cd`, which it owns from then on (also on
 * failure). */
int serial_create(struct chardev *cd, struct serial **out);
/* The device must no longer be served. */
void serial_destroy(struct serial *s);
struct uvfio_device *serial_device(struct serial *s);
/* The UART, for saving and restoring its state. */
struct uart *serial_uart(struct serial *s);
/* Its migration state (migration.c). */
struct serial_mig *serial_mig(struct serial *s);

#endif /* UVFIO_SERIAL_SERIAL_H */
