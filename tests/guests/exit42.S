# Writes 42 to the exit port: minivmm exits with status 42.
	.code16
	.globl _start
_start:
	movw $0x501, %dx
	movb $42, %al
	outb %al, %dx
	hlt
