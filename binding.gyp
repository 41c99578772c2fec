{
  "targets": [
    {
      "target_name": "netns",
      "sources": ["native/netns.c", "native/process.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
