/* cpu.h - which SIMD extensions this CPU *and its operating system* let
 * zoq run. CPUID alone is not enough: a virtual machine may advertise an
 * extension whose registers the OS does not save (XCR0, read by XGETBV), and
 * its first instruction then faults. A feature counts only when both agree. */
#ifndef ZOQ_CORE_CPU_H
#define ZOQ_CORE_CPU_H

#include <stdint.h>

/* Feature bits of zoq__cpu_features(). */
enum {
    ZOQ__CPU_AVX2 = 1u << 0,   /* AVX + AVX2 + FMA, YMM state enabled */
    ZOQ__CPU_F16C = 1u << 1,   /* F16C, YMM state enabled */
    ZOQ__CPU_AVX512 = 1u << 2, /* AVX-512F + DQ (and AVX2), opmask/ZMM state enabled */
    ZOQ__CPU_AVX512_BF16 = 1u << 3 /* AVX512_BF16 + BW (and ZOQ__CPU_AVX512) */
};

/* The raw words the decision reads: CPUID leaf 1 ECX, leaf 7 (subleaf 0)
 * EBX, the highest standard leaf, XCR0 (0 when OSXSAVE is clear) and leaf
 * 7 subleaf 1 EAX. */
typedef struct zoq__cpuid_words {
    uint32_t max_leaf;
    uint32_t leaf1_ecx;
    uint32_t leaf7_ebx;
    uint64_t xcr0;
    uint32_t leaf7_1_eax;
} zoq__cpuid_words;

/* The features the words grant (a pure function, for tests). */
unsigned zoq__cpu_features_from(const zoq__cpuid_words *w);

/* The features of this machine (0 off x86) under the cap ZOQ_CPU_ISA set
 * when zoq first asked, read once and cached; thread safe. Speed only:
 * every path gives the same bits. */
unsigned zoq__cpu_features(void);

/* Features kept under the cap ZOQ_CPU_ISA names ("scalar", "avx2",
 * "avx512"; NULL or anything else: no cap). */
unsigned zoq__cpu_features_capped(unsigned features, const char *cap);

#endif
