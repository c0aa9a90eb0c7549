// SPDX-License-Identifier: MIT OR Apache-2.0
//
// weft's uprobes on the Go runtime (amd64, Go 1.22+ register ABI).
//
// Self-contained on purpose: no kernel or libbpf headers, so any clang with
// the BPF target builds it. Each program reads what it needs from the
// registers at the probed instruction and the target's memory, and sends
// one fixed-size event through a ring buffer. Go moves goroutine stacks, so
// nothing here uses uretprobes: return values are read by probes placed on
// the function's RET instructions (the loader finds them).

typedef unsigned char __u8;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef long long __s64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

// The kernel's x86-64 `struct pt_regs`, which uprobe programs receive.
struct pt_regs {
	__u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	__u64 ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

// Helper ids from the kernel's uapi (stable ABI).
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_probe_read_user)(void *dst, __u32 size, const void *ptr) = (void *)112;
static long (*bpf_ringbuf_output)(void *rb, void *data, __u64 size, __u64 flags) = (void *)130;

#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_RINGBUF 27

// Written once by the loader before attaching: the target and where the
// runtime keeps the fields read here (they move between Go versions).
struct config {
	__u32 tgid;
	__u32 pad;
	__u64 goid_off;
	__u64 parent_goid_off;
	__u64 startpc_off;
	__u64 gopc_off;
	__u64 g_m_off;  // g.m
	__u64 m_curg_off; // m.curg; 0 when unknown
};

// One event; `kind` says which fields mean what (see src/lib.rs, `Event`).
struct event {
	__u32 kind;
	__u32 tid;
	__u64 ts_ns;
	__u64 goid;   // created / exiting / parking / woken goroutine
	__u64 other;  // parent (create), waker (ready)
	__u64 pc;     // start function (create), lock pointer (park)
	__u64 aux;    // go statement's pc (create), wait reason (park)
};

#define EV_CREATE 1
#define EV_EXIT 2
#define EV_PARK 3
#define EV_READY 4

// Per-CPU counters: hits per probe kind, and events the ring was too full for.
#define CNT_CREATE 0
#define CNT_EXIT 1
#define CNT_PARK 2
#define CNT_READY 3
#define CNT_DROPPED 4
#define CNT_BADREAD 5
#define CNT_LEN 8

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} weft_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_LEN);
	__type(key, __u32);
	__type(value, __u64);
} weft_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} weft_events SEC(".maps");

static __attribute__((always_inline)) void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&weft_counts, &which);
	if (c)
		*c += 1;
}

// The configuration, or 0 when the probe fired in another process.
static __attribute__((always_inline)) struct config *target(void)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&weft_config, &zero);
	if (!cfg)
		return 0;
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != cfg->tgid)
		return 0;
	return cfg;
}

static __attribute__((always_inline)) __u64 read_u64(__u64 addr, int *bad)
{
	__u64 v = 0;
	if (bpf_probe_read_user(&v, sizeof(v), (const void *)addr) != 0)
		*bad = 1;
	return v;
}

static __attribute__((always_inline)) void send(struct event *ev, int bad)
{
	if (bad)
		count(CNT_BADREAD);
	ev->tid = (__u32)bpf_get_current_pid_tgid();
	ev->ts_ns = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&weft_events, ev, sizeof(*ev), 0) != 0)
		count(CNT_DROPPED);
}

// On each RET of runtime.newproc1: AX holds the new g, whose goid,
// parentGoid, startpc and gopc are all set by then.
SEC("uprobe")
int weft_newproc1_ret(struct pt_regs *ctx)
{
	struct config *cfg = target();
	if (!cfg)
		return 0;
	count(CNT_CREATE);
	int bad = 0;
	__u64 g = ctx->ax;
	struct event ev = {};
	ev.kind = EV_CREATE;
	ev.goid = read_u64(g + cfg->goid_off, &bad);
	ev.other = read_u64(g + cfg->parent_goid_off, &bad);
	ev.pc = read_u64(g + cfg->startpc_off, &bad);
	ev.aux = read_u64(g + cfg->gopc_off, &bad);
	send(&ev, bad);
	return 0;
}

// Entry of runtime.goexit1: still on the exiting goroutine, so R14 is its g.
SEC("uprobe")
int weft_goexit1(struct pt_regs *ctx)
{
	struct config *cfg = target();
	if (!cfg)
		return 0;
	count(CNT_EXIT);
	int bad = 0;
	struct event ev = {};
	ev.kind = EV_EXIT;
	ev.goid = read_u64(ctx->r14 + cfg->goid_off, &bad);
	send(&ev, bad);
	return 0;
}

// Entry of runtime.gopark(unlockf, lock, reason, traceReason, traceskip):
// R14 is the parking g, BX the lock (a channel's for channel waits), CL the
// wait reason.
SEC("uprobe")
int weft_gopark(struct pt_regs *ctx)
{
	struct config *cfg = target();
	if (!cfg)
		return 0;
	count(CNT_PARK);
	int bad = 0;
	struct event ev = {};
	ev.kind = EV_PARK;
	ev.goid = read_u64(ctx->r14 + cfg->goid_off, &bad);
	ev.pc = ctx->bx;
	ev.aux = ctx->cx & 0xff;
	send(&ev, bad);
	return 0;
}

// Entry of runtime.ready(gp, traceskip, next): AX is the goroutine made
// runnable. (goready, its caller, is inlined everywhere.) ready runs on the
// scheduler's stack, so R14 is usually g0 (goid 0): the waker is then the
// goroutine its thread was running, g0.m.curg (0 if none).
SEC("uprobe")
int weft_ready(struct pt_regs *ctx)
{
	struct config *cfg = target();
	if (!cfg)
		return 0;
	count(CNT_READY);
	int bad = 0;
	struct event ev = {};
	ev.kind = EV_READY;
	ev.goid = read_u64(ctx->ax + cfg->goid_off, &bad);
	__u64 waker = read_u64(ctx->r14 + cfg->goid_off, &bad);
	if (waker == 0 && cfg->m_curg_off != 0) {
		__u64 m = read_u64(ctx->r14 + cfg->g_m_off, &bad);
		__u64 curg = m ? read_u64(m + cfg->m_curg_off, &bad) : 0;
		if (curg)
			waker = read_u64(curg + cfg->goid_off, &bad);
	}
	ev.other = waker;
	send(&ev, bad);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
