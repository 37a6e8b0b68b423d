/* cpu.c - CPUID + XCR0 feature detection (cpu.h). The compilers'
 * __builtin_cpu_supports is not used: its XCR0 handling differs between
 * gcc and clang versions, and clang 14 does not know "f16c". */
#include "cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define ZOQ__X86 1
#endif

/* CPUID.1:ECX, CPUID.7.0:EBX and CPUID.7.1:EAX bits, XCR0 state components. */
#define ECX1_FMA (1u << 12)
#define ECX1_F16C (1u << 29)
#define ECX1_OSXSAVE (1u << 27)
#define ECX1_AVX (1u << 28)
#define EBX7_AVX2 (1u << 5)
#define EBX7_AVX512F (1u << 16)
#define EBX7_AVX512DQ (1u << 17)
#define EBX7_AVX512BW (1u << 30)
#define EAX7_1_AVX512_BF16 (1u << 5)
#define XCR0_YMM 0x6u  /* SSE + AVX (upper YMM halves) */
#define XCR0_ZMM 0xe0u /* opmask, ZMM_Hi256, Hi16_ZMM */

unsigned zoq__cpu_features_from(const zoq__cpuid_words *w)
{
    const int ymm = (w->leaf1_ecx & ECX1_OSXSAVE) && (w->xcr0 & XCR0_YMM) == XCR0_YMM &&
                    (w->leaf1_ecx & ECX1_AVX);
    const int zmm = ymm && (w->xcr0 & XCR0_ZMM) == XCR0_ZMM;
    const uint32_t b7 = w->max_leaf >= 7 ? w->leaf7_ebx : 0;
    unsigned f = 0;
    if (ymm && (b7 & EBX7_AVX2) && (w->leaf1_ecx & ECX1_FMA))
        f |= ZOQ__CPU_AVX2;
    if (ymm && (w->leaf1_ecx & ECX1_F16C))
        f |= ZOQ__CPU_F16C;
    if (zmm && (f & ZOQ__CPU_AVX2) && (b7 & EBX7_AVX512F) && (b7 & EBX7_AVX512DQ))
        f |= ZOQ__CPU_AVX512;
    if ((f & ZOQ__CPU_AVX512) && (b7 & EBX7_AVX512BW) && (w->leaf7_1_eax & EAX7_1_AVX512_BF16))
        f |= ZOQ__CPU_AVX512_BF16;
    return f;
}

#ifdef ZOQ__X86
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static unsigned detect(void)
{
    zoq__cpuid_words w = {0};
    uint32_t a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return 0;
    w.max_leaf = a;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    w.leaf1_ecx = c;
    if (w.max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        w.leaf7_ebx = b;
        const uint32_t max_sub = a;
        if (max_sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            w.leaf7_1_eax = a;
        }
    }
    w.xcr0 = (w.leaf1_ecx & ECX1_OSXSAVE) ? read_xcr0() : 0;
    return zoq__cpu_features_from(&w);
}
#else
static unsigned detect(void)
{
    return 0;
}
#endif

/* The answer plus a "known" bit; 0 until the first call. Every thread that
 * races to fill it writes the same word. */
#define KNOWN (1u << 31)
static _Atomic unsigned cached;

unsigned zoq__cpu_features(void)
{
    unsigned f = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!(f & KNOWN)) {
        f = zoq__cpu_features_capped(detect(), getenv("ZOQ_CPU_ISA")) | KNOWN;
        atomic_store_explicit(&cached, f, memory_order_relaxed);
    }
    return f & ~KNOWN;
}

unsigned zoq__cpu_features_capped(unsigned features, const char *cap)
{
    if (!cap)
        return features;
    if (strcmp(cap, "scalar") == 0)
        return 0;
    if (strcmp(cap, "avx2") == 0)
        return features & (ZOQ__CPU_AVX2 | ZOQ__CPU_F16C);
    return features;
}
