# Real mode: prints through the 0xE9 debug console, checks the ABI (DI holds
# the vCPU index, CS is 0x1000 by default) and exits with status 0.
	.code16
	.globl _start
_start:
	cmpw $0, %di
	jne fail
	movw %cs, %ax
	cmpw $0x1000, %ax
	jne fail
	movw $msg, %si
print:
	lodsb
	testb %al, %al
	jz done
	outb %al, $0xe9
	jmp print
done:
	movw $0x501, %dx
	movb $0, %al
	outb %al, %dx
	hlt
fail:
	movw $0x501, %dx
	movb $1, %al
	outb %al, %dx
	hlt
msg:
	.asciz "real mode ok\n"
