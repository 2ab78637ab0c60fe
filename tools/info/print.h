/* SPDX-License-Identifier: MIT */
/*
 * info/print.h - uvfio-info's two outputs: lspci -vvv style text for
 * people (text.c), one JSON object for programs (json.c).
 */
#ifndef UVFIO_INFO_PRINT_H
#define UVFIO_INFO_PRINT_H

#include <stdio.h>

#include "gather.h"

void info_print_text(FILE *f, const struct info *in);
/* 0, or -ENOMEM. */
int info_print_json(FILE *f, const struct info *in);

/* Bit names of the device, region and IRQ info flags. */
struct info_flag {
    uint32_t bit;
    const char *name;
};
extern const struct info_flag info_device_flags[];
extern const struct info_flag info_region_flags[];
extern const struct info_flag info_irq_flags[];

/* Name of a prog-if the printers know, NULL otherwise. */
const char *info_prog_if_name(uint8_t base, uint8_t sub, uint8_t prog_if);

#endif /* UVFIO_INFO_PRINT_H */
