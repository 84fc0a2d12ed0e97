/* Freestanding C guest for --cpus N: every vCPU prints its index on a line
 * of its own (a spinlock keeps lines whole) and halts; the VM ends when all
 * have halted. */
#include <stdint.h>

static volatile int console_lock;

static void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void print(const char *s)
{
	while (*s)
		outb(0xe9, (uint8_t)*s++);
}

static void print_uint(unsigned v)
{
	char buf[12];
	int i = sizeof(buf) - 1;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	print(&buf[i]);
}

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE))
		__asm__ volatile("pause");
	print("hello from vcpu ");
	print_uint(cpu);
	print("\n");
	__atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
}
