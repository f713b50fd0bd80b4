/*
 * cat.c - a subprocess over pipes: run `cat`, feed its stdin, collect its
 * stdout (asyncio's create_subprocess_exec + communicate example).
 *
 * Python equivalent:
 *   async def main():
 *       proc = await asyncio.create_subprocess_exec(
 *           'cat', stdin=PIPE, stdout=PIPE, stderr=PIPE)
 *       stdout, stderr = await proc.communicate(b'hello\nworld\n')
 *       print(f'[cat exited with {proc.returncode}]')
 *       if stdout: print(f'[stdout]\n{stdout.decode()}')
 *       if stderr: print(f'[stderr]\n{stderr.decode()}')
 */
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

static int main_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  char *const argv[] = {"cat", NULL};
  struct weft_process_opts o = {.stdin_mode = WEFT_STDIO_PIPE, .stdout_mode = WEFT_STDIO_PIPE,
                                .stderr_mode = WEFT_STDIO_PIPE};
  weft_process_t *proc;
  int rc = weft_create_subprocess_exec("cat", argv, &o, &proc);
  if (rc < 0) {
    fprintf(stderr, "create_subprocess_exec: %s\n", weft_strerror(rc));
    return rc;
  }
  char *out, *err;
  size_t outlen, errlen;
  int code;
  rc = weft_process_communicate(proc, "hello\nworld\n", 12, &out, &outlen, &err, &errlen, &code);
  if (rc == 0) {
    printf("[cat exited with %d]\n", code);
    if (outlen) printf("[stdout]\n%s\n", out);
    if (errlen) printf("[stderr]\n%s\n", err);
    free(out);
    free(err);
  }
  weft_process_release(proc);
  return rc;
}

int main(void) { return weft_run(main_task, NULL, NULL) == 0 ? 0 : 1; }
