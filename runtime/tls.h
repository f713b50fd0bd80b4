/* tls.h - how weft's thread-locals are declared.
 *
 * WEFT__TLS is `__thread` with the initial-exec model: a read is one load
 * at a fixed offset from the thread pointer. The default for a shared
 * library (global-dynamic) calls __tls_get_addr through the PLT at every
 * read instead, and weft__worker_self alone runs several times per
 * suspension: a program linked to libweft.so ran 11-15% more instructions
 * in ping_pong, yield_many and chained_spawn than with the static library
 * (benchmarks/RESULTS.md, 2026-12-02 15:43Z).
 *
 * The cost of the model: libweft.so takes its thread-locals (three
 * pointers) from the static TLS block. Linked normally, nothing changes; a
 * program that dlopen()s libweft.so late needs glibc's surplus static TLS
 * (glibc.rtld.optional_static_tls, 512 bytes by default), which the
 * jemalloc weft links already required before this: on Debian 12 such a
 * dlopen fails in libjemalloc.so.2 with or without weft's model and works
 * with GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096 (checked).
 */
#ifndef WEFT_RUNTIME_TLS_H
#define WEFT_RUNTIME_TLS_H

#define WEFT__TLS __thread __attribute__((tls_model("initial-exec")))

#endif
