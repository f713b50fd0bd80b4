/*
 * fiber_x86_64.S - the x86-64 System V context switch.
 *
 * void weft__fiber_raw_switch(void **save_sp, void *load_sp)
 *   Pushes the callee-saved registers (rbp, rbx, r12-r15) and an 8-byte
 *   slot on the current stack, stores rsp in *save_sp, loads load_sp and
 *   pops the same frame. Caller-saved registers need no saving: the switch
 *   is an ordinary call as far as the compiler knows. The slot is left as
 *   it is: the floating-point control state stays the thread's (fiber.h).
 *
 * void weft__fiber_raw_switch_fp(void **save_sp, void *load_sp)
 *   The same, also saving the MXCSR and the x87 control word in the slot
 *   and loading the resumed fiber's: for fibers that keep their own
 *   floating-point control state. Saving them is ~3 ns of a switch on
 *   current x86 (stmxcsr and fnstcw wait for the FP pipeline), which is
 *   why it is not the default (RESULTS.md, 2026-12-05).
 *
 * Frame at a saved sp (low to high): [mxcsr:4 fpucw:4] r15 r14 r13 r12 rbx rbp ret
 * Both switches use it, so the dump's walk (backtrace.c) reads either. A
 * fiber is only ever resumed by the switch its kind saves with (fiber.c),
 * so raw_switch_fp never loads a slot raw_switch left unwritten.
 *
 * weft__fiber_trampoline: a new fiber's first "return address" (fiber.c lays
 * out the frame): r12 holds the argument, rbx the entry function.
 */
    .text
/* One body for both switches; \fp: save and load the FP control words. */
.macro WEFT_SWITCH name, fp
    .globl \name
    .hidden \name
    .type \name, @function
    .p2align 4
\name:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
.if \fp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
.endif
    movq %rsp, (%rdi)
    movq %rsi, %rsp
.if \fp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
.endif
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size \name, .-\name
.endm

    WEFT_SWITCH weft__fiber_raw_switch, 0
    WEFT_SWITCH weft__fiber_raw_switch_fp, 1

    .globl weft__fiber_trampoline
    .hidden weft__fiber_trampoline
    .type weft__fiber_trampoline, @function
    .p2align 4
weft__fiber_trampoline:
    .cfi_startproc
    .cfi_undefined rip      /* the outermost frame: debuggers stop here */
    movq %r12, %rdi
    callq *%rbx
    ud2                     /* entry functions never return */
    .cfi_endproc
    .size weft__fiber_trampoline, .-weft__fiber_trampoline

    .section .note.GNU-stack,"",@progbits
