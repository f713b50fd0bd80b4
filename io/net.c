/*
 * net.c - socket operations (weft/io.h) and name resolution.
 *
 * getaddrinfo blocks in libc (files, DNS, NSS modules), so it runs on the
 * offload pool (offload.c: bounded, shared with the epoll backend's file
 * calls) and the task waits for it to complete. A lookup outlives a cancelled or timed-out caller: the job
 * owns copies of its inputs, and whoever finishes second (the thread, or
 * the caller giving up) frees it and any result nobody took.
 */
#include "weft/io.h"
#include "alloc.h"
#include "loop.h"
#include "offload.h"
#include "op.h"
#include "net.h"
#include "task.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>

#define NO_TIMEOUT (-1)

static ssize_t await(struct weft__io_req q, int64_t timeout_ns) {
  return weft__io_await(&q, weft__deadline(timeout_ns));
}

int weft_socket(int domain, int type, int protocol) {
  int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  return fd < 0 ? -errno : fd;
}

int weft_accept_timeout(int fd, struct sockaddr *addr, socklen_t *len, int flags,
                        int64_t timeout_ns) {
  if ((addr == NULL) != (len == NULL)) return -EINVAL;
  return (int)await((struct weft__io_req){.kind = WEFT__IO_ACCEPT, .fd = fd, .buf = addr,
                                          .aux = len, .flags = flags | SOCK_CLOEXEC},
                    timeout_ns);
}
int weft_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  return weft_accept_timeout(fd, addr, len, flags, NO_TIMEOUT);
}

int weft_connect_timeout(int fd, const struct sockaddr *addr, socklen_t len, int64_t timeout_ns) {
  if (!addr) return -EINVAL;
  return (int)await((struct weft__io_req){.kind = WEFT__IO_CONNECT, .fd = fd, .buf = (void *)addr,
                                          .len = len},
                    timeout_ns);
}
int weft_connect(int fd, const struct sockaddr *addr, socklen_t len) {
  return weft_connect_timeout(fd, addr, len, NO_TIMEOUT);
}

ssize_t weft_recv_timeout(int fd, void *buf, size_t n, int flags, int64_t timeout_ns) {
  return await((struct weft__io_req){.kind = WEFT__IO_RECV, .fd = fd, .buf = buf, .len = n,
                                     .flags = flags},
               timeout_ns);
}
ssize_t weft_recv(int fd, void *buf, size_t n, int flags) {
  return weft_recv_timeout(fd, buf, n, flags, NO_TIMEOUT);
}

ssize_t weft_send_timeout(int fd, const void *buf, size_t n, int flags, int64_t timeout_ns) {
  return await((struct weft__io_req){.kind = WEFT__IO_SEND, .fd = fd, .buf = (void *)buf,
                                     .len = n, .flags = flags},
               timeout_ns);
}
ssize_t weft_send(int fd, const void *buf, size_t n, int flags) {
  return weft_send_timeout(fd, buf, n, flags, NO_TIMEOUT);
}

ssize_t weft_recvmsg_timeout(int fd, struct msghdr *msg, int flags, int64_t timeout_ns) {
  if (!msg) return -EINVAL;
  return await((struct weft__io_req){.kind = WEFT__IO_RECVMSG, .fd = fd, .buf = msg,
                                     .flags = flags},
               timeout_ns);
}
ssize_t weft_recvmsg(int fd, struct msghdr *msg, int flags) {
  return weft_recvmsg_timeout(fd, msg, flags, NO_TIMEOUT);
}

ssize_t weft_sendmsg_timeout(int fd, const struct msghdr *msg, int flags, int64_t timeout_ns) {
  if (!msg) return -EINVAL;
  return await((struct weft__io_req){.kind = WEFT__IO_SENDMSG, .fd = fd, .buf = (void *)msg,
                                     .flags = flags},
               timeout_ns);
}
ssize_t weft_sendmsg(int fd, const struct msghdr *msg, int flags) {
  return weft_sendmsg_timeout(fd, msg, flags, NO_TIMEOUT);
}

ssize_t weft_recvfrom_timeout(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                              socklen_t *len, int64_t timeout_ns) {
  if ((addr == NULL) != (len == NULL)) return -EINVAL;
  struct iovec iov = {.iov_base = buf, .iov_len = n};
  struct msghdr msg = {.msg_name = addr, .msg_namelen = len ? *len : 0, .msg_iov = &iov,
                       .msg_iovlen = 1};
  ssize_t r = weft_recvmsg_timeout(fd, &msg, flags, timeout_ns);
  if (r >= 0 && len) *len = msg.msg_namelen;
  return r;
}
ssize_t weft_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                      socklen_t *len) {
  return weft_recvfrom_timeout(fd, buf, n, flags, addr, len, NO_TIMEOUT);
}

ssize_t weft_sendto_timeout(int fd, const void *buf, size_t n, int flags,
                            const struct sockaddr *addr, socklen_t len, int64_t timeout_ns) {
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};
  struct msghdr msg = {.msg_name = (void *)addr, .msg_namelen = addr ? len : 0, .msg_iov = &iov,
                       .msg_iovlen = 1};
  return weft_sendmsg_timeout(fd, &msg, flags, timeout_ns);
}
ssize_t weft_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                    socklen_t len) {
  return weft_sendto_timeout(fd, buf, n, flags, addr, len, NO_TIMEOUT);
}

int weft_shutdown_timeout(int fd, int how, int64_t timeout_ns) {
  return (int)await((struct weft__io_req){.kind = WEFT__IO_SHUTDOWN, .fd = fd, .flags = how},
                    timeout_ns);
}
int weft_shutdown(int fd, int how) { return weft_shutdown_timeout(fd, how, NO_TIMEOUT); }

static int wait_mask(int fd, unsigned mask, int64_t timeout_ns) {
  return (int)await((struct weft__io_req){.kind = WEFT__IO_POLL, .fd = fd, .mask = mask},
                    timeout_ns);
}
int weft_wait_readable_timeout(int fd, int64_t timeout_ns) { return wait_mask(fd, POLLIN, timeout_ns); }
int weft_wait_readable(int fd) { return wait_mask(fd, POLLIN, NO_TIMEOUT); }
int weft_wait_writable_timeout(int fd, int64_t timeout_ns) {
  return wait_mask(fd, POLLOUT, timeout_ns);
}
int weft_wait_writable(int fd) { return wait_mask(fd, POLLOUT, NO_TIMEOUT); }

/* ---- getaddrinfo on the offload pool ---------------------------------------- */

/* The waker rule (runtime/future.h): the thread sets fired and wakes the
 * waiting task under lock; the task clears waiter under lock before it
 * leaves, so the thread never wakes a task that stopped waiting. No future
 * is involved, so a lookup that outlives its caller holds nothing of the
 * loop. */
struct gai_job {
  struct weft__pool_work work; /* first: run on the offload pool */
  struct weft__mutex lock;
  _Atomic uint32_t fired;      /* 1 once rc and res are final */
  _Atomic int refs;            /* the thread's and the caller's */
  struct weft_task *waiter;    /* under lock; NULL once the caller left */
  char *host, *service;
  struct addrinfo hints;
  bool has_hints;
  struct addrinfo *res;        /* the thread's result, until taken */
  int rc;
};

static void gai_job_put(struct gai_job *j) {
  /* acq_rel: the last one out sees everything the other wrote. */
  if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1) return;
  if (j->res) freeaddrinfo(j->res);
  weft__strfree(j->host);
  weft__strfree(j->service);
  weft__free(j, sizeof *j);
}

int weft__map_eai(int e) {
  switch (e) {
  case 0: return 0;
  case EAI_NONAME:
#ifdef EAI_NODATA
  case EAI_NODATA:
#endif
  case EAI_SERVICE: return -ENOENT;
  case EAI_AGAIN: return -EAGAIN;
  case EAI_MEMORY: return -ENOMEM;
  case EAI_BADFLAGS:
  case EAI_FAMILY:
  case EAI_SOCKTYPE: return -EINVAL;
  case EAI_SYSTEM: return errno ? -errno : -EIO;
  default: return -EIO;
  }
}

static void gai_run(struct weft__pool_work *w) {
  struct gai_job *j = (struct gai_job *)w;
  j->rc = weft__map_eai(getaddrinfo(j->host, j->service, j->has_hints ? &j->hints : NULL, &j->res));
  weft__mutex_lock(&j->lock);
  /* release: the caller's acquire load of fired sees rc and res. */
  atomic_store_explicit(&j->fired, 1, memory_order_release);
  if (j->waiter) weft__task_wake(j->waiter);
  weft__mutex_unlock(&j->lock);
  gai_job_put(j);
}

int weft_getaddrinfo_timeout(const char *host, const char *service, const struct addrinfo *hints,
                             struct addrinfo **res, int64_t timeout_ns) {
  if (!res || (!host && !service)) return -EINVAL;
  struct weft_task *t = weft__task_self();
  if (!t) return -EPERM;
  *res = NULL;
  struct gai_job *j = weft__calloc(sizeof *j);
  if (!j) return -ENOMEM;
  weft__mutex_init(&j->lock);
  atomic_init(&j->refs, 2);
  if ((host && !(j->host = weft__strdup(host))) ||
      (service && !(j->service = weft__strdup(service)))) {
    atomic_store_explicit(&j->refs, 1, memory_order_relaxed);
    gai_job_put(j);
    return -ENOMEM;
  }
  if (hints) {
    j->hints.ai_flags = hints->ai_flags;
    j->hints.ai_family = hints->ai_family;
    j->hints.ai_socktype = hints->ai_socktype;
    j->hints.ai_protocol = hints->ai_protocol;
    j->has_hints = true;
  }
  j->waiter = t;
  j->work.run = gai_run;
  if (weft__offload_submit(&j->work) != 0) {
    atomic_store_explicit(&j->refs, 1, memory_order_relaxed);
    gai_job_put(j);
    return -EAGAIN;
  }
  weft__task_blocked(t, WEFT__BLOCK_RESOLVE, NULL, 0);
  int rc = weft__task_wait(t, &j->fired, weft__deadline(timeout_ns));
  if (rc != 0 && weft__offload_unqueue(&j->work)) { /* never started: both references are ours */
    atomic_store_explicit(&j->refs, 1, memory_order_relaxed);
    gai_job_put(j);
    return rc;
  }
  weft__mutex_lock(&j->lock);
  j->waiter = NULL;
  weft__mutex_unlock(&j->lock);
  /* acquire: pairs with the thread's release store. A lookup that finished
   * while we were being cancelled is still handed over. */
  if (atomic_load_explicit(&j->fired, memory_order_acquire)) {
    if (rc == -ECANCELED) weft__task_recancel(t);
    rc = j->rc;
    *res = j->res;
    j->res = NULL;
  }
  gai_job_put(j);
  return rc;
}

int weft_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                     struct addrinfo **res) {
  return weft_getaddrinfo_timeout(host, service, hints, res, NO_TIMEOUT);
}

int weft__resolve(const char *host, int port, bool passive, struct addrinfo **res,
                  int64_t timeout_ns) {
  char service[8];
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG};
  if (weft__task_self()) return weft_getaddrinfo_timeout(host, service, &hints, res, timeout_ns);
  return weft__map_eai(getaddrinfo(host, service, &hints, res)); /* the owner, not running */
}

void weft__set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on Unix sockets */
}
