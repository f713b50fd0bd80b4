/*
 * fdlife.h - the lives of the fds weft owns. See fdlife.c.
 */
#ifndef WEFT_IO_FDLIFE_H
#define WEFT_IO_FDLIFE_H

#include <stdint.h>

/* @fd is now owned by weft (a stream took it): a new life begins. Any
 * thread. Where no table entry can be had (no memory, an fd of 2^20 or
 * more) the fd simply stays unowned. */
void weft__fd_adopt(int fd);
/* @fd's owner is about to close it: its life ends. Any thread. */
void weft__fd_release(int fd);
/* @fd's life: odd while owned (a number that changes at each adopt and
 * release), 0 if weft never owned it. Any thread; a relaxed read. */
uint32_t weft__fd_life(int fd);

#endif
