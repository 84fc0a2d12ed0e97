# Flat 32-bit protected mode: checks CR0.PE with paging off, that a flat data
# segment reaches high memory, then prints and exits with status 0.
	.code32
	.globl _start
_start:
	movl %cr0, %eax
	testl $1, %eax
	jz fail
	testl $0x80000000, %eax
	jnz fail
	movl $0x0ff00000, %ebx		# 255 MiB, inside a 256 MiB guest
	movl $0xcafef00d, (%ebx)
	cmpl $0xcafef00d, (%ebx)
	jne fail
	movl $msg, %esi
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
	.asciz "protected mode ok\n"
