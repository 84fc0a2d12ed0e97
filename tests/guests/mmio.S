# MMIO in protected mode: a 4-byte write and a 4-byte read at an address in
# the MMIO hole where nothing is mapped.  The read must return all ones; the
# guest exits with status 0 if it did, 1 if not.
	.code32
	.globl _start
_start:
	movl $0xd0000000, %ebx
	movl $0x12345678, (%ebx)
	movl (%ebx), %eax
	cmpl $0xffffffff, %eax
	jne fail
	movw $0x501, %dx
	movb $0, %al
	outb %al, %dx
	hlt
fail:
	movw $0x501, %dx
	movb $1, %al
	outb %al, %dx
	hlt
