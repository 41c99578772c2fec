// Reading the helper's JavaScript arguments: one home for what each of its C files needs (native/args.c).
#ifndef MULTUS_ARGS_H
#define MULTUS_ARGS_H
#include <node_api.h>
#include <stddef.h>

// A JavaScript string as a NUL-terminated UTF-8 copy (free it), its length in *out_len when asked; NULL after
// throwing (a TypeError naming `usage` when it is not a string).
char *string_copy(napi_env env, napi_value value, const char *usage, size_t *out_len);

#endif
