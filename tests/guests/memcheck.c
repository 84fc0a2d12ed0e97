/* Freestanding C guest for --prefault: writes a mark into every 4 KiB page
 * from 2 MiB to the end of the 64 MiB guest while minivmm faults the same
 * memory in from another thread, then reads every mark back.  Prints
 * "memory ok" or the first page that lost its mark, and exits with 0 or 1
 * through port 0x501. */
#include <stdint.h>

#define START (2ull << 20)
#define END (64ull << 20) /* stops short of the stacks at the top */
#define PAGE 4096ull
#define MARK 0x6d656d636865636bull

static void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void print(const char *s)
{
	while (*s)
		outb(0xe9, (uint8_t)*s++);
}

static void print_hex(uint64_t v)
{
	for (int shift = 60; shift >= 0; shift -= 4)
		outb(0xe9, (uint8_t) "0123456789abcdef"[(v >> shift) & 0xf]);
}

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	/* The top 64 KiB hold the vCPU stacks: leave them alone. */
	const uint64_t end = END - (64ull << 10);

	(void)cpu;
	for (uint64_t p = START; p < end; p += PAGE)
		*(volatile uint64_t *)(p + 8) = MARK ^ p;
	for (uint64_t p = START; p < end; p += PAGE) {
		if (*(volatile uint64_t *)(p + 8) != (MARK ^ p)) {
			print("memory lost its mark at 0x");
			print_hex(p);
			print("\n");
			outb(0x501, 1);
		}
	}
	print("memory ok\n");
	outb(0x501, 0);
}
