// Starting plugins and ending this process (native/process.c), registered on the helper's exports by netns.c.
#ifndef MULTUS_PROCESS_H
#define MULTUS_PROCESS_H
#include <node_api.h>

void register_process(napi_env env, napi_value exports);

#endif
