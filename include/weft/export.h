/* weft/export.h - symbol visibility. The library builds with
 * -fvisibility=hidden and a version script; WEFT_EXTERN marks the API. */
#ifndef WEFT_EXPORT_H
#define WEFT_EXPORT_H
#if defined(__GNUC__)
#define WEFT_EXTERN __attribute__((visibility("default")))
#else
#define WEFT_EXTERN
#endif
#endif
