/*
 * connect.c - open_connection and open_unix_connection (weft/stream.h):
 * a connected socket wrapped in a reader/writer pair.
 *
 * Each resolved address is tried in turn within one deadline for the
 * whole call (resolution included); a cancellation or the deadline ends
 * the attempt at once, any other failure moves on to the next address,
 * and the last error is returned when none connects.
 */
#include "stream.h"
#include "net.h"
#include "op.h"
#include "task.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int weft_open_connection_timeout(const char *host, int port, weft_reader_t **reader,
                                 weft_writer_t **writer, int64_t timeout_ns) {
  if (!host || !reader || !writer || port < 0 || port > 65535) return -EINVAL;
  if (!weft__task_self()) return -EPERM;
  uint64_t deadline = weft__deadline(timeout_ns);
  struct addrinfo *ai;
  int rc = weft__resolve(host, port, false, &ai, timeout_ns);
  if (rc < 0) return rc;
  rc = -ENOENT;
  for (struct addrinfo *p = ai; p; p = p->ai_next) {
    int64_t left = weft__deadline_left(deadline);
    if (left == 0) {
      rc = -ETIMEDOUT;
      break;
    }
    int fd = weft_socket(p->ai_family, SOCK_STREAM, 0);
    if (fd < 0) {
      rc = fd;
      continue;
    }
    rc = weft_connect_timeout(fd, p->ai_addr, (socklen_t)p->ai_addrlen, left);
    if (rc == 0) {
      weft__set_nodelay(fd);
      rc = weft__stream_open_socket(fd, 0, reader, writer);
      if (rc < 0) close(fd);
      break;
    }
    close(fd);
    if (rc == -ECANCELED || rc == -ETIMEDOUT) break;
  }
  freeaddrinfo(ai);
  return rc;
}

int weft_open_connection(const char *host, int port, weft_reader_t **reader,
                         weft_writer_t **writer) {
  return weft_open_connection_timeout(host, port, reader, writer, -1);
}

int weft_open_unix_connection(const char *path, weft_reader_t **reader, weft_writer_t **writer) {
  if (!path || !reader || !writer) return -EINVAL;
  if (!weft__task_self()) return -EPERM;
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sun.sun_path) return -ENAMETOOLONG;
  strcpy(sun.sun_path, path);
  int fd = weft_socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return fd;
  int rc = weft_connect(fd, (struct sockaddr *)&sun, sizeof sun);
  if (rc == 0) rc = weft__stream_open_socket(fd, 0, reader, writer);
  if (rc < 0) close(fd);
  return rc;
}
