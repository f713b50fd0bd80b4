/*
 * weft.h - the umbrella header: asyncio's programming model in C, on a
 * multi-threaded work-stealing runtime of fibers. Include only this file.
 * docs/asyncio.md maps every asyncio name to its weft counterpart.
 */
#ifndef WEFT_H
#define WEFT_H

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

#include "weft/errno.h"
#include "weft/runtime.h"
#include "weft/future.h"
#include "weft/task.h"
#include "weft/time.h"
#include "weft/sync.h"
#include "weft/io.h"
#include "weft/stream.h"
#include "weft/process.h"
#include "weft/compose.h"
#include "weft/executor.h"
#include "weft/gen.h"
#include "weft/context.h"
#include "weft/with.h"
#include "weft/debug.h"

#endif
