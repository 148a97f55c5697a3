/* Guest entry and CPU exception stubs. The host enters _start in 64-bit
 * long mode with RSP at the top of the stack and RDI = boot config. */
    .section .text.start, "ax"
    .globl _start
_start:
    xor %rbp, %rbp
    call instar_guest_main
1:  hlt
    jmp 1b

/* Exceptions that push an error code: 8, 10-14, 17, 21, 29, 30. The others
 * get a zero pushed so every frame has the same layout. */
.macro isr_noerr vec
    .globl isr_\vec
isr_\vec:
    pushq $0
    pushq $\vec
    jmp isr_common
.endm
.macro isr_err vec
    .globl isr_\vec
isr_\vec:
    pushq $\vec
    jmp isr_common
.endm

    .text
isr_noerr 0
isr_noerr 1
isr_noerr 2
isr_noerr 3
isr_noerr 4
isr_noerr 5
isr_noerr 6
isr_noerr 7
isr_err   8
isr_noerr 9
isr_err   10
isr_err   11
isr_err   12
isr_err   13
isr_err   14
isr_noerr 15
isr_noerr 16
isr_err   17
isr_noerr 18
isr_noerr 19
isr_noerr 20
isr_err   21
isr_noerr 22
isr_noerr 23
isr_noerr 24
isr_noerr 25
isr_noerr 26
isr_noerr 27
isr_noerr 28
isr_err   29
isr_err   30
isr_noerr 31

isr_common:
    /* Frame: vector, error code, RIP, CS, RFLAGS, RSP, SS. The handler
     * reports it and never returns. */
    mov %rsp, %rdi
    and $-16, %rsp
    call instar_exception_handler
2:  hlt
    jmp 2b

    .section .rodata
    .globl instar_isr_table
    .align 8
instar_isr_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad isr_\v
    .endr

    .section .note.GNU-stack, "", @progbits
