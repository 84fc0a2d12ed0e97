# Halts at once: the VM ends with status 0.
	.code16
	.globl _start
_start:
	hlt
