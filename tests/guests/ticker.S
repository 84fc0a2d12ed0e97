# Flat 32-bit protected mode (an ELF, for the API tests' boot-source):
# prints "." on the 0xE9 debug console after every 2^12 loop turns, forever,
# so that a test sees the output grow while the VM runs and stop while it
# is paused.  The test ends it with a signal.
	.code32
	.globl _start
_start:
	xorl %ecx, %ecx
spin:
	incl %ecx
	testl $0x00000fff, %ecx
	jnz spin
	movb $'.', %al
	outb %al, $0xe9
	jmp spin
