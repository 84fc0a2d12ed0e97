.globl _start
    .code16

_start:
    xorw %ax, %ax

loop:
    out %ax, $0xFF
    inc %ax
    jmp loop
