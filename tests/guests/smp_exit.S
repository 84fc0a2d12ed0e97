# --cpus N, long mode: vCPU 0 waits until every other vCPU has checked in
# (they then spin forever), then writes 7 to the exit port.  minivmm must stop
# the spinning vCPUs promptly and exit with status 7.
	.code64
	.globl _start
_start:
	testq %rdi, %rdi
	jz boss
	lock incl count(%rip)
spin:
	jmp spin
boss:
	movl ncpus(%rip), %ecx
wait:
	pause
	movl count(%rip), %eax
	incl %eax
	cmpl %ecx, %eax
	jb wait
	movw $0x501, %dx
	movb $7, %al
	outb %al, %dx
	hlt
	.balign 4
count:	.long 0
ncpus:	.long 4
