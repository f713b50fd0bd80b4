/* tcp_echo.c - tcp_echo.py in C: the documentation's echo server and
 * client in one program. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <weft.h>

static int handle_echo(weft_reader_t *reader, weft_writer_t *writer, void *arg) {
  (void)arg;
  char data[101];
  ssize_t n = weft_reader_read(reader, data, 100);
  if (n < 0) return (int)n;
  data[n] = '\0';
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  weft_writer_get_extra_info(writer, "peername", (struct sockaddr *)&addr, &len);
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
  printf("Received '%s' from %s\n", data, ip);
  printf("Send: '%s'\n", data);
  weft_writer_write(writer, data, (size_t)n);
  weft_writer_drain(writer);
  printf("Close the connection\n");
  weft_writer_close(writer);
  return weft_writer_wait_closed(writer);
}

static int tcp_echo_client(const char *message, int port) {
  weft_reader_t *reader;
  weft_writer_t *writer;
  int rc = weft_open_connection("127.0.0.1", port, &reader, &writer);
  if (rc) return rc;
  printf("Send: '%s'\n", message);
  weft_writer_write(writer, message, strlen(message));
  weft_writer_drain(writer);
  char data[101];
  ssize_t n = weft_reader_read(reader, data, 100);
  if (n < 0) { /* asyncio: the read raises (a reset, a failed send), main ends with it */
    fprintf(stderr, "tcp_echo: read: %s\n", weft_strerror((int)n));
    weft_writer_release(writer);
    weft_reader_release(reader);
    return (int)n;
  }
  data[n] = '\0';
  printf("Received: '%s'\n", data);
  printf("Close the connection\n");
  weft_writer_close(writer);
  weft_writer_wait_closed(writer);
  weft_writer_release(writer);
  weft_reader_release(reader);
  return 0;
}

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  weft_server_t *server;
  int rc = weft_start_server(NULL, "127.0.0.1", 0, handle_echo, NULL, NULL, &server);
  if (rc) return rc;
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  weft_server_sockname(server, (struct sockaddr *)&a, &len);
  WEFT_ASYNC_WITH(rc, weft_acm_server(), server) rc = tcp_echo_client("Hello World!", ntohs(a.sin_port));
  weft_server_destroy(server);
  return rc;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
