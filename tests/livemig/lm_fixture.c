// SPDX-License-Identifier: MIT
/* tests/livemig/lm_fixture.c - see lm_fixture.h. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lm_fixture.h"

const char *lm_edu_bin, *lm_migrate_bin, *lm_serial_bin;

void lm_args(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s UVFIO-EDU UVFIO-MIGRATE UVFIO-SERIAL\n",
                argv[0]);
        exit(2);
    }
    lm_edu_bin = argv[1];
    lm_migrate_bin = argv[2];
    lm_serial_bin = argv[3];
    /* a peer that goes away is an error return, not our death */
    signal(SIGPIPE, SIG_IGN);
}

void lm_mkdir(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/uvfio-lm-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

void lm_rmdir(const char *dir)
{
    char path[512];
    struct dirent *e;
    DIR *d = opendir(dir);

    if (!d)
        return;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

int lm_server_start(struct lm_server *s, const char *bin, const char *dir,
                    const char *name, const char *extra, bool valgrind)
{
    char opt[160];
    char *argv[] = { (char *)bin, opt, (char *)extra, NULL };
    int r;

    snprintf(s->path, sizeof(s->path), "%s/%s.sock", dir, name);
    snprintf(s->log, sizeof(s->log), "%s/%s.log", dir, name);
    snprintf(opt, sizeof(opt), "--socket-path=%s", s->path);
    r = child_start(&s->ch, argv, s->log, valgrind);
    if (r)
        return r;
    return child_wait_socket(&s->ch, s->path,
                             s->ch.valgrind ? 30000 : 5000);
}

int lm_server_stop(struct lm_server *s)
{
    int status = 0, r;

    if (s->ch.pid <= 0)
        return 0;
    r = child_stop(&s->ch, SIGTERM, s->ch.valgrind ? 60000 : 5000, &status);
    if (!r && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        r = -EIO;
    return r;
}

int lm_device_state(const char *path, enum uvfio_mig_state *st)
{
    struct uvfio_client_opts o = { .timeout_ms = 5000 };
    struct uvfio_client *c;
    int r;

    r = uvfio_client_connect(path, &o, &c);
    if (r)
        return r;
    r = uvfio_client_mig_get_state(c, st);
    uvfio_client_close(c);
    return r;
}

uint64_t lm_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t lm_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t lm_seed(const char *test)
{
    const char *env = getenv("LIVEMIG_SEED");
    struct timespec ts;
    uint64_t seed;

    if (env && *env) {
        seed = strtoull(env, NULL, 0);
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^
               (uint64_t)getpid() << 20;
    }
    printf("%s: seed %#llx (LIVEMIG_SEED=%#llx reproduces it)\n", test,
           (unsigned long long)seed, (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

static void *end_main(void *arg)
{
    struct lm_party *e = arg;

    e->ret = e->source ? live_source_fd(&e->o, e->fd, &e->r) :
                         live_dest_fd(&e->o, e->fd, &e->r);
    return NULL;
}

void lm_party_start(struct lm_party *e, bool source, const struct live_opts *o,
                  int fd)
{
    e->o = *o;
    e->fd = fd;
    e->source = source;
    if (pthread_create(&e->th, NULL, end_main, e)) {
        perror("pthread_create");
        exit(1);
    }
}

int lm_party_join(struct lm_party *e, unsigned int timeout_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    if (pthread_timedjoin_np(e->th, NULL, &ts)) {
        fprintf(stderr, "a migration end did not finish within %u ms\n",
                timeout_ms);
        abort();        /* a hang is a failure, loudly */
    }
    return e->ret;
}

void lm_small_opts(struct live_opts *o, const char *src, const char *dst,
                   uint64_t size)
{
    memset(o, 0, sizeof(*o));
    o->src_path = src;
    o->dst_path = dst;
    o->mem_size = size;
    o->downtime_ms = 300;
    o->max_rounds = 10;
    o->timeout_ms = 5000;
    o->seed = 1;
    o->tracker = WPTRACK_AUTO;
    o->corrupt_page = -1;
}
