/*
 * echo_server.c - the TCP echo server from asyncio's streams documentation.
 *
 *   echo_server [--dump-on SIGNAL] [port [connections [grace_ms]]]
 *
 * Listens on 127.0.0.1:port (default 8888; 0 picks a free port and prints
 * it) and echoes what each client sends once, then closes the connection.
 * With a connection count (> 0), the server closes after serving that many
 * (the tests use it); otherwise it serves until SIGTERM.
 *
 * SIGTERM is the graceful shutdown recipe (docs/io.md): stop accepting,
 * give the open connections grace_ms (default 5000) to finish, abort the
 * rest, exit 0.
 *
 * --dump-on SIGUSR1 (or USR1, or a number): on that signal the server
 * writes a dump of every task with its stack to stderr and keeps serving
 * (weft/debug.h, docs/debug.md): `kill -USR1 <pid>` shows each connection's
 * handler waiting in its read, the acceptor, and main in serve_forever.
 *
 * Python equivalent:
 *   async def handle_echo(reader, writer):
 *       data = await reader.read(100)
 *       message = data.decode()
 *       addr = writer.get_extra_info('peername')
 *       print(f"Received {message!r} from {addr!r}")
 *       print(f"Send: {message!r}")
 *       writer.write(data)
 *       await writer.drain()
 *       print("Close the connection")
 *       writer.close()
 *       await writer.wait_closed()
 *
 *   async def main():
 *       server = await asyncio.start_server(handle_echo, '127.0.0.1', 8888)
 *       addrs = ', '.join(str(sock.getsockname()) for sock in server.sockets)
 *       print(f'Serving on {addrs}')
 *       async with server:
 *           await server.serve_forever()
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

static int remaining = -1; /* connections left to serve, or -1: forever */
static long grace_ms = 5000;
static weft_server_t *server;

static int handle_echo(weft_reader_t *reader, weft_writer_t *writer, void *arg) {
  (void)arg;
  char data[100];
  ssize_t n = weft_reader_read(reader, data, sizeof data);
  if (n < 0) return (int)n;
  struct sockaddr_in peer;
  socklen_t len = sizeof peer;
  weft_writer_get_extra_info(writer, "peername", (struct sockaddr *)&peer, &len);
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
  printf("Received '%.*s' from ('%s', %d)\n", (int)n, data, ip, ntohs(peer.sin_port));
  printf("Send: '%.*s'\n", (int)n, data);
  weft_writer_write(writer, data, (size_t)n);
  weft_writer_drain(writer);
  printf("Close the connection\n");
  fflush(stdout);
  weft_writer_close(writer);
  weft_writer_wait_closed(writer);
  if (remaining > 0 && --remaining == 0) weft_server_close(server); /* one worker: no race */
  return 0;
}

static int main_task(void *arg, void **result) {
  (void)result;
  int port = *(int *)arg;
  int rc = weft_start_server(NULL, "127.0.0.1", port, handle_echo, NULL, NULL, &server);
  if (rc < 0) {
    fprintf(stderr, "start_server: %s\n", weft_strerror(rc));
    return rc;
  }
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  weft_server_sockname(server, (struct sockaddr *)&a, &len);
  printf("Serving on ('127.0.0.1', %d)\n", ntohs(a.sin_port));
  fflush(stdout);
  /* Like asyncio, serve_forever ends only by cancellation: -ECANCELED also
   * when the server was closed from elsewhere (here, after the last
   * connection), which is this program's normal end. */
  rc = weft_serve_forever(server);
  if (rc == -ECANCELED && weft_task_cancelling(weft_task_current()) == 0) rc = 0;
  weft_server_wait_closed(server);
  weft_server_destroy(server);
  return rc;
}

/* The graceful shutdown, as a task: stop accepting (serve_forever then
 * waits for the connections), give them the grace period, abort the rest.
 * serve_forever returns once the last handler has returned. */
static int shutdown_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  printf("SIGTERM: closing, %ld ms of grace\n", grace_ms);
  fflush(stdout);
  weft_server_close(server);
  if (weft_server_wait_closed_timeout(server, grace_ms * 1000000) == -ETIMEDOUT)
    weft_server_abort_clients(server);
  return 0;
}

static void on_sigterm(void *arg) {
  (void)arg;
  if (server) weft_spawn(shutdown_task, NULL, NULL); /* callbacks run on a worker */
}

/* "SIGUSR1", "USR1" or a number; 0 if none of those. */
static int signal_named(const char *s) {
  static const struct { const char *name; int sig; } names[] = {
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP}, {"QUIT", SIGQUIT}, {"WINCH", SIGWINCH}};
  if (strncmp(s, "SIG", 3) == 0) s += 3;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(s, names[i].name) == 0) return names[i].sig;
  return atoi(s);
}

int main(int argc, char **argv) {
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  const char *pos[3] = {NULL, NULL, NULL};
  int npos = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--dump-on") == 0 && i + 1 < argc) {
      cfg.dump_signal = signal_named(argv[++i]);
      if (cfg.dump_signal <= 0) {
        fprintf(stderr, "echo_server: unknown signal %s\n", argv[i]);
        return 2;
      }
    } else if (npos < 3) {
      pos[npos++] = argv[i];
    }
  }
  int port = pos[0] ? atoi(pos[0]) : 8888;
  if (pos[1] && atoi(pos[1]) > 0) remaining = atoi(pos[1]);
  if (pos[2]) grace_ms = atol(pos[2]);
  weft_loop_t *loop = NULL;
  int rc = weft_loop_new(&cfg, &loop);
  if (rc < 0) fprintf(stderr, "echo_server: %s\n", weft_strerror(rc));
  if (rc == 0) rc = weft_loop_add_signal_handler(loop, SIGTERM, on_sigterm, NULL);
  if (rc == 0) rc = weft_loop_run_task(loop, main_task, &port, NULL);
  if (loop) weft_loop_close(loop);
  return rc == 0 ? 0 : 1;
}
