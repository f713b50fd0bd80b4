/*
 * errno.c - weft_strerror and weft_err_name, generated from WEFT_ERRNO_MAP
 * for weft's own codes and from the C library for errno values; errno's
 * address asked anew (weft_errno_location), which the library's own code
 * reads errno through (CMakeLists.txt force-includes weft/errno.h with
 * WEFT_ERRNO_ANEW into every library source).
 */
#include "weft/errno.h"

#include <errno.h>
#include <string.h>

/* A call into this file, never inlined elsewhere (no LTO), so no caller
 * can reuse one call's answer for the next: weft/errno.h. */
int *weft_errno_location(void) { return __errno_location(); }

const char *weft_strerror(int err) {
  switch (err) {
#define XX(name, value, text) \
  case (value):               \
    return text;
    WEFT_ERRNO_MAP(XX)
#undef XX
  default:
    break;
  }
  if (err < 0) err = -err;
  if (err == 0) return "success";
  const char *s = strerrordesc_np(err);
  return s ? s : "unknown error";
}

const char *weft_err_name(int err) {
  switch (err) {
#define XX(name, value, text) \
  case (value):               \
    return "WEFT_" #name;
    WEFT_ERRNO_MAP(XX)
#undef XX
  default:
    break;
  }
  if (err < 0) err = -err;
  if (err == 0) return "OK";
  const char *s = strerrorname_np(err);
  return s ? s : "UNKNOWN";
}
