# A triple fault in long mode: an empty IDT, then an exception.  KVM reports
# a shutdown (or, on kvm_pvm, which cannot deliver exceptions to emulated
# code, an emulation failure); either way minivmm must end cleanly with a
# register dump and status 2.
	.code64
	.globl _start
_start:
	lidt idtr(%rip)
	movabsq $0xdeadbeef, %rax
	ud2
idtr:
	.word 0
	.quad 0
