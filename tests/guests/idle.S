# Real mode, --platform pc: halts with interrupts off for good; the
# in-kernel irqchip keeps the vCPU asleep, so minivmm should use no CPU
# (the console-input test reads its CPU time).
	.code16
	.globl _start
_start:
	cli
	hlt
	jmp _start
