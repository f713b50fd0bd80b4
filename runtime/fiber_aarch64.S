/*
 * fiber_aarch64.S - the AArch64 AAPCS64 context switch.
 *
 * void weft__fiber_raw_switch(void **save_sp, void *load_sp)
 *   Saves x19-x30 (x29 frame pointer, x30 link register) and d8-d15 in a
 *   176-byte frame on the current stack, stores sp in *save_sp, loads
 *   load_sp, restores the same frame and returns through x30. The FPCR
 *   slot is left as it is: the floating-point control state stays the
 *   thread's (fiber.h).
 *
 * void weft__fiber_raw_switch_fp(void **save_sp, void *load_sp)
 *   The same, also saving FPCR in its slot and loading the resumed
 *   fiber's (an msr to FPCR synchronizes the FP pipeline on most cores),
 *   for fibers that keep their own floating-point control state. A fiber
 *   is only ever resumed by the switch its kind saves with (fiber.c).
 *
 * Frame at a saved sp: x19..x30 at 0..88, d8..d15 at 96..152, fpcr at 160.
 * weft__fiber_trampoline: a new fiber's x30; x19 holds the argument, x20 the
 * entry function.
 */
    .text
/* One body for both switches; \fp: save and load FPCR. */
.macro WEFT_SWITCH name, fp
    .globl \name
    .hidden \name
    .type \name, %function
    .p2align 4
\name:
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
.if \fp
    mrs x9, fpcr
    str x9, [sp, #160]
.endif
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
.if \fp
    ldr x9, [sp, #160]
    msr fpcr, x9
.endif
    add sp, sp, #176
    ret
    .size \name, .-\name
.endm

    WEFT_SWITCH weft__fiber_raw_switch, 0
    WEFT_SWITCH weft__fiber_raw_switch_fp, 1

    .globl weft__fiber_trampoline
    .hidden weft__fiber_trampoline
    .type weft__fiber_trampoline, %function
    .p2align 4
weft__fiber_trampoline:
    mov x0, x19
    blr x20
    brk #0
    .size weft__fiber_trampoline, .-weft__fiber_trampoline

    .section .note.GNU-stack,"",%progbits
