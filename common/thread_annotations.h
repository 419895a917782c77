// Clang thread-safety annotations (-Wthread-safety), as macros that expand to
// nothing on other compilers. The g++ build ignores them; every clang build
// (relayq_warnings in CMakeLists.txt: the fuzz build of tests/fuzz,
// RELAYQ_FUZZ=ON, which CI runs, and a whole-tree build configured with
// CC=clang CXX=clang++) turns on -Wthread-safety -Werror, so a member marked
// GUARDED_BY(mu_) read without mu_ held fails that build.
//
// Only relayq::Mutex (common/mutex.h) is a capability: std::mutex from
// libstdc++ carries no annotations, so members guarded by one are checked
// only when that mutex is a relayq::Mutex.
#pragma once

#if defined(__clang__)
#define RELAYQ_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define RELAYQ_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) RELAYQ_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY RELAYQ_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) RELAYQ_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) RELAYQ_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) RELAYQ_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) RELAYQ_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) RELAYQ_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) RELAYQ_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS RELAYQ_THREAD_ANNOTATION(no_thread_safety_analysis)
