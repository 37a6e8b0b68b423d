/* hd.h - ZOQ__HD marks a header function that the CUDA plugin also runs on
 * the device (__host__ __device__ under nvcc, nothing in C), so the kernels
 * and the scalar reference share one source for the noise spec. */
#ifndef ZOQ_CORE_HD_H
#define ZOQ_CORE_HD_H

#ifdef __CUDACC__
#define ZOQ__HD __host__ __device__
#else
#define ZOQ__HD
#endif

#endif
