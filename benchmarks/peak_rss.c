/*
 * peak_rss.c - run a command and report its peak resident set size.
 *
 *   weft-peak-rss OUTFILE COMMAND [ARG...]
 *
 * Runs COMMAND (stdin, stdout and stderr are ours), waits for it, writes
 * "PEAK_KIB EXIT_STATUS" to OUTFILE and exits with COMMAND's status. Why a
 * helper: Linux's ru_maxrss for a child counts the memory of the process
 * that exec'ed it (exec records the old image's high-water mark), so a
 * child forked from a 14 MiB Python would never report less than 14 MiB.
 * Forked from this small program, the floor is this program's ~1 MiB.
 * benchmarks/report.py runs every benchmark through it, for every runtime
 * alike.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: weft-peak-rss OUTFILE COMMAND [ARG...]\n");
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("weft-peak-rss: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    perror("weft-peak-rss: exec");
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("weft-peak-rss: wait4");
    return 2;
  }
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE *f = fopen(argv[1], "w");
  if (!f || fprintf(f, "%ld %d\n", ru.ru_maxrss, rc) < 0 || fclose(f) != 0) {
    perror("weft-peak-rss: OUTFILE");
    return 2;
  }
  return rc;
}
