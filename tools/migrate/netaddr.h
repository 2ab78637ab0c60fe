/* SPDX-License-Identifier: MIT */
/*
 * migrate/netaddr.h - the two ends of a migration between hosts: the
 * destination listens (--incoming tcp:ADDR:PORT), the source connects
 * (--to tcp:HOST:PORT).  HOST may be a name, an IPv4 address or an IPv6
 * one in brackets ("tcp:[fd00::2]:4444").
 */
#ifndef UVFIO_TOOLS_MIGRATE_NETADDR_H
#define UVFIO_TOOLS_MIGRATE_NETADDR_H

#include <stddef.h>

struct netaddr {
    char host[256];
    char port[8];
};

/* Parse "tcp:HOST:PORT": -EINVAL for anything else (a port of 1..65535;
 * an empty HOST means every address, for --incoming). */
int netaddr_parse(const char *spec, struct netaddr *a);

/* Listen on the address and accept one connection, within timeout_ms: a
 * connected socket fd, or -errno (-ETIMEDOUT). */
int netaddr_accept_one(const struct netaddr *a, int timeout_ms);
/* Connect, retrying while nobody listens yet, within timeout_ms. */
int netaddr_connect(const struct netaddr *a, int timeout_ms);

#endif /* UVFIO_TOOLS_MIGRATE_NETADDR_H */
