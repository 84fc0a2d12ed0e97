# 64-bit long mode: checks CR0.PG and CR4.PAE, writes above 4 GiB through the
# identity map (run with --mem 5G), then prints and exits with status 0.
	.code64
	.globl _start
_start:
	movq %cr0, %rax
	btq $31, %rax
	jnc fail
	movq %cr4, %rax
	btq $5, %rax
	jnc fail
	movabsq $0x110000000, %rbx	# 4 GiB + 256 MiB: the second memory slot
	movabsq $0x0123456789abcdef, %rax
	movq %rax, (%rbx)
	cmpq (%rbx), %rax
	jne fail
	leaq msg(%rip), %rsi
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
	.asciz "long mode ok\n"
