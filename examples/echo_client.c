/*
 * echo_client.c - the TCP echo client from asyncio's streams documentation.
 *
 *   echo_client [port [message]]
 *
 * Python equivalent:
 *   async def tcp_echo_client(message):
 *       reader, writer = await asyncio.open_connection('127.0.0.1', 8888)
 *       print(f'Send: {message!r}')
 *       writer.write(message.encode())
 *       await writer.drain()
 *       data = await reader.read(100)
 *       print(f'Received: {data.decode()!r}')
 *       print('Close the connection')
 *       writer.close()
 *       await writer.wait_closed()
 *   asyncio.run(tcp_echo_client('Hello World!'))
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

struct args {
  int port;
  const char *message;
};

static int tcp_echo_client(void *arg, void **result) {
  (void)result;
  struct args *a = arg;
  weft_reader_t *reader;
  weft_writer_t *writer;
  int rc = weft_open_connection("127.0.0.1", a->port, &reader, &writer);
  if (rc < 0) {
    fprintf(stderr, "open_connection: %s\n", weft_strerror(rc));
    return rc;
  }
  printf("Send: '%s'\n", a->message);
  weft_writer_write(writer, a->message, strlen(a->message));
  weft_writer_drain(writer);
  char data[100];
  ssize_t n = weft_reader_read(reader, data, sizeof data);
  if (n >= 0) printf("Received: '%.*s'\n", (int)n, data);
  printf("Close the connection\n");
  weft_writer_close(writer);
  weft_writer_wait_closed(writer);
  weft_writer_release(writer);
  weft_reader_release(reader);
  return n < 0 ? (int)n : 0;
}

int main(int argc, char **argv) {
  struct args a = {argc > 1 ? atoi(argv[1]) : 8888, argc > 2 ? argv[2] : "Hello World!"};
  return weft_run(tcp_echo_client, &a, NULL) == 0 ? 0 : 1;
}
