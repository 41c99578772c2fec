// host-local's file system calls (native/fs.c), registered on the helper's exports by netns.c.
#ifndef MULTUS_FS_H
#define MULTUS_FS_H
#include <node_api.h>

void register_fs(napi_env env, napi_value exports);

#endif
