/*
 * The harness's scheduler and runtime API (see nf_harness.h for the model).
 *
 * Fibers switch with a hand-written context switch on x86-64 (callee-saved
 * registers, the stack pointer, MXCSR and the x87 control word, as the SysV
 * ABI requires a callee to preserve) and with ucontext elsewhere; a switch
 * happens only at a barrier or when a thread returns, so a block of threads
 * that never synchronize costs two switches per thread.
 */
#include "nf_harness.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

thread_local nf_harness_thread_state *nf_harness_current;
thread_local dim3 nf_harness_block_idx;
thread_local dim3 nf_harness_block_dim;
thread_local dim3 nf_harness_grid_dim;

namespace {

constexpr size_t kStackBytes = 256 * 1024;  // reserved; pages are committed as touched
constexpr int kMaxThreads = 1024;           // per block, as on every GPU nnfuse targets
constexpr size_t kMaxDynamicShared = 227 * 1024;  // sm_90's opt-in maximum per block

#if defined(__x86_64__)
extern "C" void nf_harness_switch(void **save_sp, void *load_sp);
asm(R"(
    .text
    .p2align 4
    .hidden nf_harness_switch
    .type nf_harness_switch, @function
nf_harness_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size nf_harness_switch, .-nf_harness_switch
)");
#endif

enum class State { Runnable, AtBlockBarrier, AtWarpBarrier, Done };

struct Fiber {
    nf_harness_thread_state state;
    int linear = 0;
    State run_state = State::Done;
    char *stack = nullptr;
#if defined(__x86_64__)
    void *sp = nullptr;
#else
    ucontext_t context;
#endif
};

struct Warp {
    int lanes = 0;
    int arrived = 0;
    uint64_t slots[32];
};

/* All scheduling state belongs to the calling OS thread: launches from different threads don't interact. */
struct Scheduler {
    std::vector<Fiber> fibers;
    std::vector<Warp> warps;
    int threads = 0;
    int block_arrived = 0;
    const std::function<void()> *body = nullptr;
    Fiber *running = nullptr;
    std::string error;  // set by the first thread that breaks a rule; the launch then fails
#if defined(__x86_64__)
    void *scheduler_sp = nullptr;
#else
    ucontext_t scheduler_context;
#endif
    std::vector<unsigned char> dynamic_shared;

    ~Scheduler() {
        for (Fiber &f : fibers) {
            if (f.stack) munmap(f.stack, kStackBytes);
        }
    }
};

thread_local Scheduler scheduler;
thread_local cudaError_t last_error = cudaSuccess;
/* The harness's own account of its latest failure, which cudaGetErrorString gives for that code. */
thread_local cudaError_t last_message_code = cudaSuccess;
thread_local std::string last_message;

void switch_to_scheduler(Fiber *self) {
#if defined(__x86_64__)
    nf_harness_switch(&self->sp, scheduler.scheduler_sp);
#else
    swapcontext(&self->context, &scheduler.scheduler_context);
#endif
}

void switch_to_fiber(Fiber *f) {
    scheduler.running = f;
    nf_harness_current = &f->state;
#if defined(__x86_64__)
    nf_harness_switch(&scheduler.scheduler_sp, f->sp);
#else
    swapcontext(&scheduler.scheduler_context, &f->context);
#endif
}

/* Records the first rule a thread broke; the block is abandoned when control returns to the scheduler. */
void fail(const std::string &message) {
    if (scheduler.error.empty()) scheduler.error = message;
}

std::string where(const Fiber *f) {
    char text[160];
    std::snprintf(text, sizeof text, "thread (%u,%u,%u) of block (%u,%u,%u)", f->state.thread_idx.x,
                  f->state.thread_idx.y, f->state.thread_idx.z, nf_harness_block_idx.x, nf_harness_block_idx.y,
                  nf_harness_block_idx.z);
    return text;
}

void fiber_main() {
    Fiber *self = scheduler.running;
    (*scheduler.body)();
    self->run_state = State::Done;
    switch_to_scheduler(self);
    std::abort();  // a finished fiber is never resumed
}

#if defined(__x86_64__)
/* Lays out a fresh stack as nf_harness_switch expects to find it: control words, six registers, return address. */
void prepare(Fiber *f) {
    uintptr_t top = (reinterpret_cast<uintptr_t>(f->stack) + kStackBytes) & ~uintptr_t(15);
    void **slot = reinterpret_cast<void **>(top - 16);  // at entry rsp + 8 is 16-byte aligned, as after a call
    slot[0] = reinterpret_cast<void *>(&fiber_main);
    slot -= 6;
    for (int i = 0; i < 6; i++) slot[i] = nullptr;
    slot -= 1;
    uint32_t control[2] = {0x1F80u /* MXCSR default */, 0x037Fu /* x87 default */};
    std::memcpy(slot, control, sizeof control);
    f->sp = slot;
}
#else
void prepare(Fiber *f) {
    getcontext(&f->context);
    f->context.uc_stack.ss_sp = f->stack;
    f->context.uc_stack.ss_size = kStackBytes;
    f->context.uc_link = nullptr;
    makecontext(&f->context, fiber_main, 0);
}
#endif

bool ensure_fibers(int n) {
    while ((int)scheduler.fibers.size() < n) {
        void *stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
        if (stack == MAP_FAILED) return false;
        scheduler.fibers.emplace_back();
        scheduler.fibers.back().stack = static_cast<char *>(stack);
    }
    return true;
}

/* Runs one block to completion; returns false (with scheduler.error set) when a thread broke a rule. */
bool run_block(const dim3 &block) {
    const int n = scheduler.threads;
    scheduler.block_arrived = 0;
    scheduler.warps.assign((n + 31) / 32, Warp());
    for (int w = 0; w < (int)scheduler.warps.size(); w++) {
        scheduler.warps[w].lanes = n - 32 * w < 32 ? n - 32 * w : 32;
    }
    for (int i = 0; i < n; i++) {
        Fiber &f = scheduler.fibers[i];
        f.linear = i;
        f.state.thread_idx = dim3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
        f.run_state = State::Runnable;
        prepare(&f);
    }
    int done = 0;
    while (done < n) {
        bool progressed = false;
        for (int i = 0; i < n; i++) {
            Fiber &f = scheduler.fibers[i];
            if (f.run_state != State::Runnable) continue;
            switch_to_fiber(&f);
            progressed = true;
            if (!scheduler.error.empty()) return false;
            if (f.run_state == State::Done) {
                done++;
                if (scheduler.block_arrived > 0) {
                    fail("__syncthreads: " + where(&f) + " returned while other threads wait at a barrier");
                    return false;
                }
            }
        }
        if (!progressed) {
            for (int i = 0; i < n; i++) {
                Fiber &f = scheduler.fibers[i];
                if (f.run_state == State::AtBlockBarrier || f.run_state == State::AtWarpBarrier) {
                    fail(std::string(f.run_state == State::AtBlockBarrier ? "__syncthreads" : "warp barrier") +
                         ": deadlock, " + where(&f) + " waits for threads that can never arrive");
                    return false;
                }
            }
        }
    }
    return true;
}

Fiber *self() { return scheduler.running; }

void set_error(cudaError_t error, const std::string &message) {
    last_error = error;
    last_message_code = error;
    last_message = message;
}

}  // namespace

void __syncthreads() {
    Fiber *f = self();
    scheduler.block_arrived++;
    if (scheduler.block_arrived == scheduler.threads) {
        scheduler.block_arrived = 0;
        for (int i = 0; i < scheduler.threads; i++) {
            if (scheduler.fibers[i].run_state == State::AtBlockBarrier) scheduler.fibers[i].run_state = State::Runnable;
        }
        switch_to_scheduler(f);  // let the others run their part before this thread goes on
        return;
    }
    f->run_state = State::AtBlockBarrier;
    switch_to_scheduler(f);
}

int nf_harness_lane() { return self()->linear & 31; }

void __syncwarp(unsigned int mask) {
    Fiber *f = self();
    Warp &w = scheduler.warps[f->linear / 32];
    const unsigned int full = w.lanes == 32 ? 0xffffffffu : ((1u << w.lanes) - 1u);
    if (mask != full) {
        char text[96];
        std::snprintf(text, sizeof text, "warp mask 0x%08x is not the whole warp (0x%08x)", mask, full);
        fail(std::string(text) + " at " + where(f));
        switch_to_scheduler(f);
        return;
    }
    w.arrived++;
    if (w.arrived == w.lanes) {
        w.arrived = 0;
        const int first = (f->linear / 32) * 32;
        for (int i = first; i < first + w.lanes; i++) {
            if (scheduler.fibers[i].run_state == State::AtWarpBarrier) scheduler.fibers[i].run_state = State::Runnable;
        }
        switch_to_scheduler(f);
        return;
    }
    f->run_state = State::AtWarpBarrier;
    switch_to_scheduler(f);
}

uint64_t nf_harness_shuffle(unsigned int mask, uint64_t bits, int src_lane) {
    Fiber *f = self();
    Warp &w = scheduler.warps[f->linear / 32];
    w.slots[f->linear & 31] = bits;
    __syncwarp(mask);
    uint64_t out = src_lane >= 0 && src_lane < w.lanes ? w.slots[src_lane] : bits;
    __syncwarp(mask);  // nobody overwrites a slot before every lane has read it
    return out;
}

void *nf_harness_dynamic_shared() { return scheduler.dynamic_shared.data(); }

int nf_harness_launch(dim3 grid, dim3 block, size_t shared_bytes, const char *kernel,
                      const std::function<void()> &body) {
    const unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    const unsigned long long blocks = (unsigned long long)grid.x * grid.y * grid.z;
    if (threads == 0 || threads > kMaxThreads || blocks == 0 || block.z > 64 || grid.y > 65535 || grid.z > 65535 ||
        threads % 32 != 0 || shared_bytes > kMaxDynamicShared) {
        char text[200];
        std::snprintf(text, sizeof text,
                      "%s: launch of grid (%u,%u,%u) x block (%u,%u,%u) with %zu bytes of dynamic shared memory "
                      "is not a valid configuration for the harness",
                      kernel, grid.x, grid.y, grid.z, block.x, block.y, block.z, shared_bytes);
        set_error(cudaErrorInvalidConfiguration, text);
        return cudaErrorInvalidConfiguration;
    }
    if (scheduler.body != nullptr) {
        set_error(cudaErrorLaunchFailure, std::string(kernel) + ": launched from inside a kernel");
        return cudaErrorLaunchFailure;
    }
    if (!ensure_fibers((int)threads)) {
        set_error(cudaErrorMemoryAllocation, std::string(kernel) + ": no memory for the harness's thread stacks");
        return cudaErrorMemoryAllocation;
    }
    scheduler.dynamic_shared.assign(shared_bytes, 0xFF);
    scheduler.threads = (int)threads;
    scheduler.body = &body;
    scheduler.error.clear();
    nf_harness_grid_dim = grid;
    nf_harness_block_dim = block;
    bool ok = true;
    for (unsigned z = 0; ok && z < grid.z; z++) {
        for (unsigned y = 0; ok && y < grid.y; y++) {
            for (unsigned x = 0; ok && x < grid.x; x++) {
                nf_harness_block_idx = dim3(x, y, z);
                ok = run_block(block);
            }
        }
    }
    scheduler.body = nullptr;
    scheduler.running = nullptr;
    nf_harness_current = nullptr;
    if (!ok) {
        set_error(cudaErrorLaunchFailure, std::string(kernel) + ": " + scheduler.error);
        return cudaErrorLaunchFailure;
    }
    return cudaSuccess;
}

/* ---- Runtime API: one emulated device whose memory is host memory ---------------------------------------- */

struct nf_harness_stream {};

namespace {
nf_harness_stream the_stream;
thread_local int current_device = 0;

cudaError_t check_device(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
}  // namespace

const char *cudaGetErrorString(cudaError_t error) {
    if (error == last_message_code && error != cudaSuccess) return last_message.c_str();
    switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "unknown error";
    }
}

const char *cudaGetErrorName(cudaError_t error) {
    switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
    }
}

cudaError_t cudaGetLastError() {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError() { return last_error; }

cudaError_t cudaGetDeviceCount(int *count) {
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    if (check_device(device) != cudaSuccess) return cudaErrorInvalidDevice;
    current_device = device;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device) {
    *device = current_device;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
    if (check_device(device) != cudaSuccess) return cudaErrorInvalidDevice;
    switch (attr) {
    case cudaDevAttrMultiProcessorCount: *value = 4; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)kMaxDynamicShared; return cudaSuccess;
    }
    return cudaErrorInvalidValue;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int) {
    *stream = &the_stream;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaMallocAsync(void **ptr, size_t bytes, cudaStream_t) {
    *ptr = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
    return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFreeAsync(void *ptr, cudaStream_t) {
    std::free(ptr);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
    std::memmove(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t) {
    std::memset(dst, value, bytes);
    return cudaSuccess;
}

const char *nf_harness_device_name() { return "nnfuse CUDA harness (kernels run on the CPU)"; }
