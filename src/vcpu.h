/* vCPU threads: the KVM_RUN loop and the dispatch of each exit to its
 * handler. */
#ifndef MINIVMM_VCPU_H
#define MINIVMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct vm;

#define VCPU_EXIT_REASONS 64

/* count, io_in and mmio_write are kept always (the metrics read them from
 * another thread: relaxed atomics, one writer); ns only with --stats. */
struct exit_stats {
	uint64_t count[VCPU_EXIT_REASONS];
	uint64_t ns[VCPU_EXIT_REASONS];
	uint64_t io_in;	     /* of count[KVM_EXIT_IO] */
	uint64_t mmio_write; /* of count[KVM_EXIT_MMIO] */
};

/* Where a vCPU was when its thread ended (--stats): for a guest that hung,
 * which vCPUs were halted and where the others ran. */
struct vcpu_end {
	bool valid;
	uint32_t mp_state; /* KVM_MP_STATE_* */
	uint64_t rip;
	uint64_t rflags;
	unsigned cpl;
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_created;
	struct exit_stats stats;
	struct vcpu_end end;
	char name[16]; /* "fc_vcpu 0": its log lines */
};

int vcpu_create(struct vm *vm, unsigned id, struct vcpu *c);
void vcpu_destroy(struct vcpu *c);
/* Thread body: runs the vCPU until it halts or the VM stops. */
void *vcpu_thread(void *arg);
/* Forces the vCPU out of KVM_RUN (immediate_exit and a signal). */
void vcpu_kick(struct vcpu *c);
/* Installs the (empty) handler of the kick signal; once per process. */
int vcpu_kick_init(void);
/* General, segment and control registers, for fatal exits. */
void vcpu_dump(struct vcpu *c, FILE *f);
const char *vcpu_exit_name(unsigned reason);
/* One line: the vCPU's state when its thread ended, e.g.
 * "vcpu 1: halted, rip 0xffffffff81b2c3d4 (cpl 0), interrupts on". */
void vcpu_print_end(const struct vcpu *c, FILE *f);

#endif
