#include <stdlib.h>
#include "args.h"

char *string_copy(napi_env env, napi_value value, const char *usage, size_t *out_len) {
  size_t len;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (s == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, value, s, len + 1, &len);
  if (out_len != NULL) *out_len = len;
  return s;
}
