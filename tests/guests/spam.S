# Real mode, --platform pc: prints "spam\n" on COM1 forever, so that a test
# can stall or close minivmm's stdout under it.  With --defsym E9=1 it
# prints on the 0xE9 debug console instead (any platform).
	.code16
	.globl _start
_start:
.ifdef E9
	movw $0xe9, %dx
.else
	movw $0x3f8, %dx
.endif
loop:
	movw $msg, %si
print:
	lodsb
	testb %al, %al
	jz loop
	outb %al, %dx
	jmp print
msg:
	.asciz "spam\n"
