# Real mode, --platform pc: prints "boot\n" on COM1 and resets the machine
# through port 0xCF9 at once, so that --on-reboot restart keeps minivmm
# between two boots most of the time (the stop-signal and append tests).
	.code16
	.globl _start
_start:
	movw $0x3f8, %dx
	movw $msg, %si
print:
	lodsb
	testb %al, %al
	jz reset
	outb %al, %dx
	jmp print
reset:
	movw $0xcf9, %dx
	movb $0x06, %al		# SYS_RST | RST_CPU: a hard reset
	outb %al, %dx
	hlt
	jmp reset
msg:
	.asciz "boot\n"
