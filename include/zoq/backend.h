/*
 * zoq/backend.h - where parameters live: devices and their backends
 * (docs/backends.md). Part of the public API: include <zoq.h>, which includes every part.
 */
#ifndef ZOQ_H_BACKEND
#define ZOQ_H_BACKEND

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */
/* ------------------------------------------------------------------------ */

/* Where a parameter's data lives. ZOQ_DEVICE_CUDA: data is CUDA device
 * memory of the current device; its first registration loads the plugin
 * libzoq-cuda.so (docs/backends.md: $ZOQ_BACKEND_PATH, else libzoq's own
 * directory) and fails with ZOQ_E_UNSUPPORTED, saying what was searched, when
 * there is none or no device, ZOQ_E_VERSION when the plugin is of another ABI.
 * Its optimizer buffers live on the device; zoq_materialize's dst is device
 * memory there, zoq_point_noise's out host memory. */
typedef enum zoq_device {
    ZOQ_DEVICE_CPU = 0,
    ZOQ_DEVICE_CUDA = 1
} zoq_device_t;

#ifdef __cplusplus
}
#endif
#endif /* ZOQ_H_BACKEND */
