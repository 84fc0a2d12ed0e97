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

struct exit_stats {
	uint64_t count[VCPU_EXIT_REASONS];
	uint64_t ns[VCPU_EXIT_REASONS];
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_created;
	struct exit_stats stats;
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

#endif
