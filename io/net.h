/*
 * net.h (private) - helpers of net.c shared by the stream layer (server.c,
 * connect.c).
 */
#ifndef WEFT_IO_NET_H
#define WEFT_IO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <netdb.h>

/* getaddrinfo's EAI_* result as 0 or a negative errno. */
int weft__map_eai(int eai);
/* @host:@port as stream-socket addresses (@passive: for listening), through
 * weft_getaddrinfo_timeout in a task, plain getaddrinfo outside one (a
 * loop's owner setting up, not running). Free with freeaddrinfo. */
int weft__resolve(const char *host, int port, bool passive, struct addrinfo **res,
                  int64_t timeout_ns);
/* TCP_NODELAY on @fd; harmless on sockets that have no such option. */
void weft__set_nodelay(int fd);

#endif
