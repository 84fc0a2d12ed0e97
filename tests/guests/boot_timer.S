# Firecracker's boot timer, seen from a raw protected-mode ELF guest: prints
# on port 0xE9 the 4 bytes at 0xd0000000 (the boot timer reads 0; without
# it, virtio slot 0's "virt" magic, or all ones if nothing is there), then
# the 4 bytes at 0xd0001000 (with the boot timer, the first virtio device's
# magic), writes the magic byte 123 to 0xd0000000 (twice: Firecracker logs
# every such write), a 123 at offset 1 and a 7 at offset 0 (both ignored),
# and exits with status 7.
	.code32
	.globl _start
_start:
	movl 0xd0000000, %eax
	call put4
	movl 0xd0001000, %eax
	call put4
	movb $123, 0xd0000000
	movb $123, 0xd0000000
	movb $123, 0xd0000001
	movb $7, 0xd0000000
	movw $0x501, %dx
	movb $7, %al
	outb %al, %dx
	hlt

# The 4 bytes of %eax, low byte first, to the debug console.
put4:
	movw $0xe9, %dx
	movl $4, %ecx
1:	outb %al, %dx
	shrl $8, %eax
	loop 1b
	ret
