# Entry of the freestanding C guests in long mode: minivmm passes the vCPU
# index in RDI and a stack of its own in RSP, so this just calls
# guest_main(cpu) and halts when it returns.
	.code64
	.globl _start
_start:
	call guest_main
1:	hlt
	jmp 1b
