/* Booting Linux: the bzImage boot protocol (Documentation/arch/x86/boot.rst)
 * and the PVH entry of ELF kernels (Xen's hvm_start_info), the structures
 * they share with the guest, and where minivmm puts them in guest memory. */
#ifndef MINIVMM_LINUX_H
#define MINIVMM_LINUX_H

#include "boot.h"
#include "../x86/platform.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Guest memory layout of a Linux boot (both protocols):
 *   0x00500-0x06FFF  minivmm's GDT and page tables (x86.h)
 *   0x07000-0x07FFF  bzImage: the zero page (struct boot_params)
 *   0x08000-0x08FFF  PVH: hvm_start_info, its module list and memory map
 *   0x20000-0x2FFFF  the kernel command line (NUL-terminated)
 *   0x9FC00-0xFFFFF  reserved in e820: EBDA, ACPI tables at 0xE0000, MP
 *                    table at 0xF0000 (x86/platform.h)
 *   0x100000-        bzImage: the kernel at its pref_address (1 MiB unless
 *                    the header says otherwise) up to runtime start +
 *                    init_size; PVH: the PT_LOAD segments, all >= 1 MiB
 *   top of low RAM   the initrd, page-aligned, as high as the kernel
 *                    allows (initrd_addr_max) below the end of region 0
 * vCPU stacks are not used: both entries set up their own.
 */
#define LINUX_ZERO_PAGE_ADDR 0x7000ull
#define LINUX_CMDLINE_ADDR 0x20000ull
#define LINUX_CMDLINE_MAX 0x10000ull /* bytes, the NUL included */
/* PVH has no cmdline_size: x86 Linux keeps COMMAND_LINE_SIZE (2048) bytes,
 * the NUL included, and would cut a longer line silently. */
#define PVH_CMDLINE_MAX 2048ull
/* How much of each PT_NOTE segment the PVH loader reads (a vmlinux has a
 * few hundred bytes of notes). */
#define PVH_NOTES_MAX 65536u
#define LINUX_KERNEL_MIN_ADDR 0x100000ull
#define PVH_START_INFO_ADDR 0x8000ull
#define PVH_MODLIST_ADDR 0x8040ull
#define PVH_MEMMAP_ADDR 0x8100ull
#define PVH_MEMMAP_MAX 32 /* entries that fit before 0x9000 */

/* The oldest protocol minivmm speaks: 2.06 (Linux 2.6.22) has cmdline_size
 * and the 32-bit boot protocol; 2.12 (Linux 3.8) adds xloadflags and a
 * documented 64-bit entry point. */
#define LINUX_PROTOCOL_MIN 0x0206
#define LINUX_PROTOCOL_XLOADFLAGS 0x020C

/* loadflags */
#define LINUX_LOADED_HIGH (1u << 0)
#define LINUX_CAN_USE_HEAP (1u << 7)
/* xloadflags */
#define LINUX_XLF_KERNEL_64 (1u << 0)
#define LINUX_XLF_CAN_BE_LOADED_ABOVE_4G (1u << 1)

#define LINUX_HDR_OFFSET 0x1F1 /* setup header, in the file and zero page */
#define LINUX_HDR_MAGIC "HdrS"
#define LINUX_BOOT_FLAG 0xAA55
#define LINUX_LOADER_UNDEFINED 0xFF
#define LINUX_HEAP_END 0xFE00

/* The setup header, at 0x1F1 in both the bzImage file and the zero page. */
struct setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

/* The zero page; minivmm fills only the fields named here, the rest is 0
 * (in particular the sentinel at 0x1EF, so the kernel trusts all of it). */
struct boot_params {
	uint8_t pad0[0x070];
	uint64_t acpi_rsdp_addr; /* 0x070 */
	uint8_t pad1[0x0C0 - 0x078];
	uint32_t ext_ramdisk_image; /* 0x0C0 */
	uint32_t ext_ramdisk_size;  /* 0x0C4 */
	uint32_t ext_cmd_line_ptr;  /* 0x0C8 */
	uint8_t pad2[0x1E8 - 0x0CC];
	uint8_t e820_entries; /* 0x1E8 */
	uint8_t pad3[0x1EF - 0x1E9];
	uint8_t sentinel; /* 0x1EF */
	uint8_t pad4;
	struct setup_header hdr; /* 0x1F1 */
	uint8_t pad5[0x2D0 - 0x1F1 - sizeof(struct setup_header)];
	struct e820_entry e820_table[E820_MAX_ENTRIES]; /* 0x2D0 */
	uint8_t pad6[0x1000 - 0x2D0 - E820_MAX_ENTRIES * 20];
} __attribute__((packed));

_Static_assert(sizeof(struct setup_header) == 0x26C - 0x1F1, "setup header");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "rsdp");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0C0, "");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_size) == 0x0C4, "");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0C8, "");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1E8, "e820");
_Static_assert(offsetof(struct boot_params, sentinel) == 0x1EF, "sentinel");
_Static_assert(offsetof(struct boot_params, hdr) == LINUX_HDR_OFFSET, "hdr");
_Static_assert(offsetof(struct boot_params, hdr.boot_flag) == 0x1FE, "flag");
_Static_assert(offsetof(struct boot_params, hdr.header) == 0x202, "HdrS");
_Static_assert(offsetof(struct boot_params, hdr.version) == 0x206, "ver");
_Static_assert(offsetof(struct boot_params, hdr.type_of_loader) == 0x210, "");
_Static_assert(offsetof(struct boot_params, hdr.loadflags) == 0x211, "");
_Static_assert(offsetof(struct boot_params, hdr.code32_start) == 0x214, "");
_Static_assert(offsetof(struct boot_params, hdr.ramdisk_image) == 0x218, "");
_Static_assert(offsetof(struct boot_params, hdr.heap_end_ptr) == 0x224, "");
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "");
_Static_assert(offsetof(struct boot_params, hdr.initrd_addr_max) == 0x22C, "");
_Static_assert(offsetof(struct boot_params, hdr.kernel_alignment) == 0x230, "");
_Static_assert(offsetof(struct boot_params, hdr.relocatable_kernel) == 0x234,
	       "");
_Static_assert(offsetof(struct boot_params, hdr.xloadflags) == 0x236, "");
_Static_assert(offsetof(struct boot_params, hdr.cmdline_size) == 0x238, "");
_Static_assert(offsetof(struct boot_params, hdr.payload_offset) == 0x248, "");
_Static_assert(offsetof(struct boot_params, hdr.pref_address) == 0x258, "");
_Static_assert(offsetof(struct boot_params, hdr.init_size) == 0x260, "");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2D0, "e820");
_Static_assert(sizeof(struct boot_params) == 0x1000, "zero page");

/* PVH: xen/include/public/arch-x86/hvm/start_info.h, version 1. */
#define PVH_START_MAGIC 0x336ec578u
#define PVH_ELFNOTE_PHYS32_ENTRY 18 /* XEN_ELFNOTE_PHYS32_ENTRY */

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version 1 on */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* the e820 types */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 0x38, "start info");
_Static_assert(offsetof(struct hvm_start_info, rsdp_paddr) == 0x20, "rsdp");
_Static_assert(offsetof(struct hvm_start_info, memmap_entries) == 0x30, "");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "module entry");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry");
_Static_assert(PVH_START_INFO_ADDR + sizeof(struct hvm_start_info) <=
		       PVH_MODLIST_ADDR,
	       "start info overlaps the module list");
_Static_assert(PVH_MODLIST_ADDR + sizeof(struct hvm_modlist_entry) <=
		       PVH_MEMMAP_ADDR,
	       "module list overlaps the memory map");
_Static_assert(PVH_MEMMAP_ADDR + PVH_MEMMAP_MAX * 24 <= 0x9000,
	       "memory map overflows its page");

/* Loads a bzImage with an optional @initrd (NULL: none) and
 * @cmdline (NULL: empty) into @m, writes the zero page, the MP and ACPI
 * tables for @pd (vCPUs, virtio devices), and sets @e: long mode at
 * load + 0x200 for protocol 2.12+ 64-bit kernels, the 32-bit protocol
 * entry for 2.06-2.11, RSI = the zero page.  -errno and a one-line message
 * for anything the kernel or RAM refuses. */
int bzimage_load(struct vm_mem *m, const struct platform_desc *pd,
		 const struct boot_src *kernel, const struct boot_src *initrd,
		 const char *cmdline, struct boot_entry *e);

/* Where the compressed vmlinux is in the bzImage file: @off bytes from the
 * start of the file, @plen bytes long (protocol 2.08+), checked against
 * the file's length. */
int bzimage_payload(const struct boot_src *kernel, uint64_t *off,
		    uint64_t *plen);

/* True, with the 32-bit physical entry point in *@entry, if the ELF32/64 in
 * @elf has a XEN_ELFNOTE_PHYS32_ENTRY note ("Xen", type 18) in a PT_NOTE
 * segment.  Every offset is checked; a malformed file is just "no". */
bool pvh_find_entry(const struct boot_src *elf, uint32_t *entry);

/* True if the ELF in @elf looks like a Linux vmlinux (a "Linux" note, or
 * addresses in the kernel's 0xffffffff80000000 mapping), so a caller can
 * explain that it needs CONFIG_PVH rather than boot it as a plain ELF. */
bool elf_is_linux(const struct boot_src *elf);

/* Loads a PVH ELF kernel (PT_LOAD segments at p_paddr, all >= 1 MiB), the
 * initrd as module 0 and @cmdline, writes hvm_start_info with the memory
 * map and the MP and ACPI tables for @pd, and sets @e: 32-bit protected
 * mode at the PVH entry, EBX = PVH_START_INFO_ADDR. */
int pvh_load(struct vm_mem *m, const struct platform_desc *pd,
	     const struct boot_src *elf, const struct boot_src *initrd,
	     const char *cmdline, struct boot_entry *e);

/* Shared by both loaders: copies @cmdline (NULL: "") to LINUX_CMDLINE_ADDR
 * if it is at most @max bytes long (without the NUL). */
int linux_write_cmdline(struct vm_mem *m, const char *cmdline, uint64_t max,
			const char *limit_what);
/* Shared: places @initrd page-aligned as high as possible in [@low, @high)
 * (@high exclusive), reads it there, sets *@addr. */
int linux_place_initrd(struct vm_mem *m, const struct boot_src *initrd,
		       uint64_t low, uint64_t high, uint64_t *addr);

#endif
