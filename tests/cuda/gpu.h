/* gpu.h - for the programs that need a real device (check_gpu, gpu_bench):
 * the first device's name, or a SKIP line saying why there is none; a
 * parameter description (C++ has no designated initializers before C++20). */
#ifndef ZOQ_TESTS_CUDA_GPU_H
#define ZOQ_TESTS_CUDA_GPU_H

#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

#include "zoq.h"

/* 1 and the name of device 0 in prop; 0 after printing "WHO: SKIP, ..." */
static int gpu_found(const char *who, cudaDeviceProp *prop)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        printf("%s: SKIP, no CUDA device (cudaGetDeviceCount: %s)\n", who,
               e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return 0;
    }
    return cudaGetDeviceProperties(prop, 0) == cudaSuccess;
}

/* A 1-D parameter of numel elements of dtype at data on device. */
static zoq_param_desc_t gpu_desc(const char *name, void *data, int dtype, int device,
                                 int64_t numel)
{
    zoq_param_desc_t d;
    memset(&d, 0, sizeof d);
    d.size = sizeof d;
    d.name = name;
    d.data = data;
    d.dtype = dtype;
    d.device = device;
    d.numel = numel;
    return d;
}

#endif
