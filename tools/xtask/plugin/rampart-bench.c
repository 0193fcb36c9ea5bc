/*
 * rampart-bench: a QEMU TCG plugin that counts the guest instructions of
 * marked code, per CPU, split by exception level and security state.
 *
 * Firmware brackets what it measures with two unallocated HINT
 * instructions (NOPs on hardware and in QEMU without this plugin):
 *
 *   hint #0x7e   (0xd5032fdf)  begin; x16 holds the benchmark id
 *   hint #0x7f   (0xd5032fff)  end
 *
 * Between the two, every instruction the same vCPU executes is counted
 * (the markers themselves are not) in one of these buckets:
 *
 *   0 EL3   1 R-EL2   2 R-EL1/EL0   3 NS-EL2   4 NS-EL1/EL0   5 Secure
 *
 * The level is PSTATE.EL (the gdb "cpsr" register), the world SCR_EL3.NS
 * and SCR_EL3.NSE. A per-instruction callback counts exactly, even when an
 * exception cuts a translation block short; the bucket is re-read at the
 * start of every block, which is where a change of level first shows.
 * (QEMU 10.0's inline scoreboard add crashes under -icount once a second
 * vCPU starts, hence the callback.)
 *
 * Output (arg out=FILE), one line per measurement and per profile entry:
 *
 *   R <id> <vcpu> <b0> <b1> <b2> <b3> <b4> <b5>
 *   P <id> <bucket> <block vaddr> <x30> <instructions>
 *
 * Profile entries attribute whole blocks to the address they start at,
 * with the link register as the block started (in a leaf function such as
 * memcpy, where it was called from); xtask maps both to functions.
 *
 * QEMU's plugin header (qemu-plugin.h) is not installed on every machine,
 * so the few declarations this plugin uses are restated below. They are
 * the stable C ABI of plugin API version 3 (QEMU 9.0 and later); QEMU
 * checks qemu_plugin_version against the range it supports at load time.
 */

#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The QEMU plugin ABI (API version 3) ---- */

typedef uint64_t qemu_plugin_id_t;

typedef struct {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;

struct qemu_plugin_tb;
struct qemu_plugin_insn;
struct qemu_plugin_register;

enum qemu_plugin_cb_flags {
    QEMU_PLUGIN_CB_NO_REGS,
    QEMU_PLUGIN_CB_R_REGS,
    QEMU_PLUGIN_CB_RW_REGS,
};

typedef struct {
    struct qemu_plugin_register *handle;
    const char *name;
    const char *feature;
} qemu_plugin_reg_descriptor;

/* GLib's public array structs, as QEMU hands them over. */
typedef struct {
    char *data;
    unsigned int len;
} GArray;
typedef struct {
    uint8_t *data;
    unsigned int len;
} GByteArray;
extern GByteArray *g_byte_array_new(void);
extern GByteArray *g_byte_array_set_size(GByteArray *array, unsigned int len);
extern char *g_array_free(GArray *array, int free_segment);

typedef void (*qemu_plugin_vcpu_simple_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

extern void qemu_plugin_register_vcpu_init_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);
extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                                  qemu_plugin_vcpu_tb_trans_cb_t cb);
extern void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
                                                 qemu_plugin_vcpu_udata_cb_t cb,
                                                 enum qemu_plugin_cb_flags flags, void *userdata);
extern void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                                   qemu_plugin_vcpu_udata_cb_t cb,
                                                   enum qemu_plugin_cb_flags flags,
                                                   void *userdata);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                           void *userdata);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
extern struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
                                                        size_t idx);
extern size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn, void *dest, size_t len);
extern GArray *qemu_plugin_get_registers(void);
extern int qemu_plugin_read_register(struct qemu_plugin_register *handle, GByteArray *buf);

__attribute__((visibility("default"))) int qemu_plugin_version = 3;

/* ---- The plugin ---- */

#define MARK_BEGIN 0xd5032fdfu /* hint #0x7e */
#define MARK_END 0xd5032fffu   /* hint #0x7f */

enum { EL3, R_EL2, R_EL1, NS_EL2, NS_EL1, SECURE, BUCKETS };

#define SCR_NS (1ull << 0)
#define SCR_NSE (1ull << 62)

struct vcpu {
    struct qemu_plugin_register *cpsr, *scr, *x16, *x30;
    GByteArray *buf;
    bool active;
    uint64_t id;
    int bucket;
    /* Instructions this vCPU executed, markers aside. */
    uint64_t executed;
    uint64_t last;
    uint64_t counts[BUCKETS];
};

/* One translated block, for the profile. */
struct block {
    uint64_t vaddr;
    uint64_t insns;
};

/* Profile: (id, bucket, block, x30) -> instructions, open addressing. */
#define PROFILE_SLOTS (1u << 17)
struct slot {
    uint64_t id;
    uint64_t vaddr;
    uint64_t lr;
    uint64_t insns;
    int bucket;
    bool used;
};

static struct vcpu *vcpus;
static int max_vcpus;
static struct slot *profile;
static bool profile_full;
static FILE *out;

static uint64_t read_reg(struct vcpu *v, struct qemu_plugin_register *reg)
{
    uint64_t value = 0;
    g_byte_array_set_size(v->buf, 0);
    int n = qemu_plugin_read_register(reg, v->buf);
    if (n > 0) {
        memcpy(&value, v->buf->data, (size_t)n < sizeof(value) ? (size_t)n : sizeof(value));
    }
    return value;
}

static int classify(struct vcpu *v)
{
    uint64_t el = (read_reg(v, v->cpsr) >> 2) & 3;
    if (el == 3) {
        return EL3;
    }
    uint64_t scr = read_reg(v, v->scr);
    /* {NSE, NS}: {1, 1} Realm, {0, 1} Non-secure, {0, 0} Secure (RME). */
    bool ns = scr & SCR_NS, nse = scr & SCR_NSE;
    if (ns) {
        return nse ? (el == 2 ? R_EL2 : R_EL1) : (el == 2 ? NS_EL2 : NS_EL1);
    }
    return SECURE;
}

static void profile_add(uint64_t id, int bucket, uint64_t vaddr, uint64_t lr, uint64_t insns)
{
    uint64_t h = (vaddr >> 2) * 0x9e3779b97f4a7c15ull ^ (lr >> 2) * 0xc4ceb9fe1a85ec53ull ^
                 id * 0xff51afd7ed558ccdull ^ (uint64_t)bucket;
    for (unsigned probe = 0; probe < PROFILE_SLOTS; probe++) {
        struct slot *s = &profile[(h + probe) & (PROFILE_SLOTS - 1)];
        if (!s->used) {
            *s = (struct slot){
                .id = id, .vaddr = vaddr, .lr = lr, .insns = insns, .bucket = bucket, .used = true};
            return;
        }
        if (s->id == id && s->vaddr == vaddr && s->lr == lr && s->bucket == bucket) {
            s->insns += insns;
            return;
        }
    }
    profile_full = true;
}

/* Charges what ran since the last look to the bucket it ran in. */
static void settle(struct vcpu *v)
{
    v->counts[v->bucket] += v->executed - v->last;
    v->last = v->executed;
}

static void on_insn(unsigned int vcpu_index, void *userdata)
{
    (void)userdata;
    vcpus[vcpu_index].executed++;
}

static void on_block(unsigned int vcpu_index, void *userdata)
{
    struct vcpu *v = &vcpus[vcpu_index];
    if (!v->active) {
        return;
    }
    settle(v);
    v->bucket = classify(v);
    const struct block *b = userdata;
    profile_add(v->id, v->bucket, b->vaddr, read_reg(v, v->x30), b->insns);
}

static void on_begin(unsigned int vcpu_index, void *userdata)
{
    (void)userdata;
    struct vcpu *v = &vcpus[vcpu_index];
    if (v->active) {
        fprintf(out, "E %" PRIu64 " %u nested-begin\n", v->id, vcpu_index);
    }
    v->active = true;
    v->id = read_reg(v, v->x16);
    v->bucket = classify(v);
    v->last = v->executed;
    memset(v->counts, 0, sizeof(v->counts));
}

static void on_end(unsigned int vcpu_index, void *userdata)
{
    (void)userdata;
    struct vcpu *v = &vcpus[vcpu_index];
    if (!v->active) {
        fprintf(out, "E 0 %u end-without-begin\n", vcpu_index);
        return;
    }
    settle(v);
    v->active = false;
    fprintf(out, "R %" PRIu64 " %u", v->id, vcpu_index);
    for (int b = 0; b < BUCKETS; b++) {
        fprintf(out, " %" PRIu64, v->counts[b]);
    }
    fputc('\n', out);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    struct block *b = malloc(sizeof(*b));
    if (b == NULL) {
        abort();
    }
    /* Blocks are retranslated rarely; the few bytes are kept for good. */
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    b->insns = n;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_R_REGS, b);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint32_t opcode = 0;
        qemu_plugin_insn_data(insn, &opcode, sizeof(opcode));
        if (opcode == MARK_BEGIN) {
            b->insns--;
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_R_REGS, NULL);
        } else if (opcode == MARK_END) {
            b->insns--;
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_R_REGS, NULL);
        } else {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
    }
}

static struct qemu_plugin_register *find_register(GArray *regs, const char *name)
{
    qemu_plugin_reg_descriptor *d = (qemu_plugin_reg_descriptor *)regs->data;
    for (unsigned int i = 0; i < regs->len; i++) {
        if (strcmp(d[i].name, name) == 0) {
            return d[i].handle;
        }
    }
    fprintf(stderr, "rampart-bench: the CPU has no register %s\n", name);
    abort();
}

static void on_vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index)
{
    (void)id;
    if ((int)vcpu_index >= max_vcpus) {
        fprintf(stderr, "rampart-bench: vCPU %u beyond the %d expected\n", vcpu_index, max_vcpus);
        abort();
    }
    struct vcpu *v = &vcpus[vcpu_index];
    GArray *regs = qemu_plugin_get_registers();
    v->cpsr = find_register(regs, "cpsr");
    v->scr = find_register(regs, "SCR_EL3");
    v->x16 = find_register(regs, "x16");
    v->x30 = find_register(regs, "x30");
    g_array_free(regs, 1);
    v->buf = g_byte_array_new();
}

static void report_profile(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    for (unsigned int i = 0; i < PROFILE_SLOTS; i++) {
        struct slot *s = &profile[i];
        if (s->used) {
            fprintf(out, "P %" PRIu64 " %d 0x%" PRIx64 " 0x%" PRIx64 " %" PRIu64 "\n", s->id,
                    s->bucket, s->vaddr, s->lr, s->insns);
        }
    }
    if (profile_full) {
        fprintf(out, "E 0 0 profile-full\n");
    }
    fclose(out);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t *info, int argc,
                                                               char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            path = argv[i] + 4;
        } else {
            fprintf(stderr, "rampart-bench: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    if (path == NULL || !info->system_emulation || strcmp(info->target_name, "aarch64") != 0) {
        fprintf(stderr, "rampart-bench: needs out=FILE and aarch64 system emulation\n");
        return -1;
    }
    out = fopen(path, "w");
    max_vcpus = info->system.max_vcpus;
    vcpus = calloc((size_t)max_vcpus, sizeof(*vcpus));
    profile = calloc(PROFILE_SLOTS, sizeof(*profile));
    if (out == NULL || vcpus == NULL || profile == NULL) {
        fprintf(stderr, "rampart-bench: cannot open %s or allocate\n", path);
        return -1;
    }
    qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, report_profile, NULL);
    return 0;
}
