/* subprocess_lines.c - subprocess_lines.py in C: a child's output read
 * line by line with async for, then its return code. */
#include <stdio.h>
#include <weft.h>

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  char *argv[] = {"printf", "alpha\nbeta\ngamma\n", NULL};
  struct weft_process_opts opts = {.stdout_mode = WEFT_STDIO_PIPE};
  weft_process_t *proc;
  int rc = weft_create_subprocess_exec("printf", argv, &opts, &proc);
  if (rc) return rc;
  char line[128];
  size_t len;
  int n = 0;
  WEFT_ASYNC_FOR(rc, weft_reader_next_line(weft_process_stdout(proc), line, sizeof line, &len)) {
    while (len && line[len - 1] == '\n') len--;
    printf("line %d: %.*s\n", ++n, (int)len, line);
  }
  int code;
  weft_process_wait(proc, &code);
  printf("exited with %d\n", code);
  weft_process_release(proc);
  return rc == WEFT_ESTOP ? 0 : rc;
}

int main(void) { return weft_run(main_task, NULL, NULL) ? 1 : 0; }
