/* What marks the API: PL_API on every function a plugin or a program may
 * call, and the C++ guards of every public header.
 *
 * The runtime is built with symbols hidden by default, so that only what
 * PL_API marks is exported from libpipeline.so; everything else is
 * internal and may change without notice. */
#ifndef PIPELINE_API_H
#define PIPELINE_API_H

#if defined(__GNUC__) || defined(__clang__)
#define PL_API __attribute__((visibility("default")))
#else
#define PL_API
#endif

#ifdef __cplusplus
#define PL_BEGIN_DECLS extern "C" {
#define PL_END_DECLS }
#else
#define PL_BEGIN_DECLS
#define PL_END_DECLS
#endif

#endif
